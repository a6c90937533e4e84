import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');

/** Synthesizes the example app in a fresh Node process with its own environment. */
function synthInProcess(env: NodeJS.ProcessEnv, nodeArgs: string[] = []): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'determinism-'));
  try {
    execFileSync(process.execPath, [...nodeArgs, '-r', 'ts-node/register/transpile-only', 'main.ts'], {
      cwd: path.join(root, 'examples'),
      env: { ...process.env, ...env, CDK8S_OUTDIR: out, TS_NODE_PROJECT: path.join(root, 'examples', 'tsconfig.json') },
      stdio: 'pipe',
    });
    return fs.readFileSync(path.join(out, 'shop.k8s.yaml'), 'utf8');
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

describe('determinism', () => {
  test('two processes with different time zones, locales and hash seeds write byte-identical YAML', () => {
    const first = synthInProcess({ TZ: 'UTC', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' });
    const second = synthInProcess({ TZ: 'Pacific/Chatham', LANG: 'tr_TR.UTF-8', LC_ALL: 'tr_TR.UTF-8' }, ['--hash-seed=12345', '--random-seed=987']);
    expect(first.length).toBeGreaterThan(1000);
    expect(second).toBe(first);
  });
});
