import * as fs from 'fs';
import * as path from 'path';

/**
 * The project's shared reference material (Kubernetes schemas, upstream CRDs) lives beside the
 * repository, in `../shared`. SHARED_DIR overrides it. Missing material fails the tests: the
 * checks that need it are not optional.
 */
export function sharedDir(): string {
  const dir = process.env.SHARED_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared');
  if (!fs.existsSync(path.join(dir, 'schemas')) || !fs.existsSync(path.join(dir, 'crds'))) {
    throw new Error(`shared reference material not found at ${dir} (expected schemas/ and crds/); set SHARED_DIR`);
  }
  return dir;
}
