import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { expectStrictlyValid } from './support/manifests';
import { installedVersion, readmeQuickStart, shellCommands } from './support/readme';

const root = path.resolve(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const rootPackage = require(path.join(root, 'package.json'));

/** The Node.js majors users run besides this machine's 20, as the npm registry ships their binaries. */
const OTHER_NODE_VERSIONS = ['22.23.5', '24.22.3'];

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: 'pipe',
    // The CLI's upgrade check asks the public npm registry, which a build machine may not reach.
    env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false', FORCE_COLOR: '0', CDK8S_PYTHON_SERVICE_QUIET: '1', npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', ...env },
  });
}

/** A Node.js binary of the given version, from the npm registry's `node-<platform>-<arch>` package. */
function nodeBinDir(version: string, into: string): string {
  const dir = path.join(into, `node-${version}`);
  fs.mkdirSync(dir, { recursive: true });
  const tarball = run('npm', ['pack', '--silent', `node-${process.platform}-${process.arch}@${version}`], dir).trim().split('\n').pop()!;
  run('tar', ['xzf', tarball, '--strip-components=1'], dir);
  return path.join(dir, 'bin');
}

/**
 * The README's TypeScript quick start, built from the README's own text: the packed library (npm
 * pack of the compiled package, bundled dependencies included) installed as a real copy into a
 * new cdk8s app, synthesized by the real CLI on each Node.js major users have.
 */
describe('the README TypeScript quick start', () => {
  const files = readmeQuickStart('ts');
  let appDir: string;
  let yaml: string;

  beforeAll(() => {
    if (!fs.existsSync(path.join(root, 'lib', 'index.js')) || !fs.existsSync(path.join(root, '.jsii'))) {
      throw new Error('the consumer test needs the compiled library: run `npx projen compile` (or the whole build) first');
    }
    appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-'));
    run('npm', ['pack', '--silent', '--pack-destination', appDir], root);
    for (const [name, text] of files) {
      if (name !== 'shell') fs.writeFileSync(path.join(appDir, name), text);
    }
    run('bash', ['-euo', 'pipefail', '-c', shellCommands(files.get('shell')!).join('\n')], appDir);
    yaml = fs.readFileSync(path.join(appDir, 'dist', 'shop.k8s.yaml'), 'utf8');
  }, 600_000);

  afterAll(() => {
    if (appDir) fs.rmSync(appDir, { recursive: true, force: true });
  });

  test('the README names the tarball npm pack writes, and the versions the library is built with', () => {
    const consumer = JSON.parse(files.get('package.json')!);
    const tarball = `${rootPackage.name}-${rootPackage.version}.tgz`;
    expect(fs.existsSync(path.join(appDir, tarball))).toBe(true);
    expect(consumer.dependencies['cdk8s-python-service']).toBe(`file:./${tarball}`);
    for (const pkg of ['cdk8s', 'cdk8s-plus-28', 'constructs', 'cdk8s-cli']) {
      expect({ pkg, version: consumer.dependencies[pkg] ?? consumer.devDependencies[pkg] }).toEqual({ pkg, version: installedVersion(pkg) });
    }
    const [major, minor] = installedVersion('typescript').split('.');
    expect(consumer.devDependencies.typescript).toBe(`~${major}.${minor}.${installedVersion('typescript').split('.')[2]}`);
    expect(files.get('cdk8s.yaml')).toContain('app: npx tsx main.ts');
  });

  test('the library is a real installed copy with a single cdk8s in the app', () => {
    const installed = path.join(appDir, 'node_modules', 'cdk8s-python-service');
    expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(fs.existsSync(path.join(installed, 'node_modules', 'cdk8s'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'node_modules', 'cron-parser'))).toBe(true);
  });

  test('cdk8s synth writes strictly valid YAML for every object the app asks for', () => {
    const manifests = parseAllDocuments(yaml).map((d) => d.toJS());
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      expect.stringMatching(/^ConfigMap\/api-gunicorn-[0-9a-f]{8}$/), 'Deployment/api', 'Ingress/api', 'NetworkPolicy/api-netpol', 'PodDisruptionBudget/api-pdb', 'PrometheusRule/api-alerts',
      'Schedule/shop-api-backup', 'Service/api', 'ServiceAccount/api', 'ServiceMonitor/api',
    ]);
    const deployment = manifests.find((m) => m.kind === 'Deployment');
    expect(deployment.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms)
      .toEqual([{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['web'] }] }]);
    expectStrictlyValid(manifests);
  });

  test.each(OTHER_NODE_VERSIONS)('Node.js %s synthesizes the same YAML and type-checks the app', (version) => {
    const bin = nodeBinDir(version, appDir);
    const env = { PATH: `${bin}${path.delimiter}${process.env.PATH}` };
    expect(run('node', ['--version'], appDir, env).trim()).toBe(`v${version}`);
    const outdir = path.join(appDir, `dist-node-${version}`);
    run('npx', ['cdk8s', 'synth', '--output', outdir], appDir, env);
    expect(fs.readFileSync(path.join(outdir, 'shop.k8s.yaml'), 'utf8')).toBe(yaml);
    run('npx', ['tsc', '--noEmit'], appDir, env);
  }, 300_000);

  test('a type error in the app fails the type check that tsx skips', () => {
    const broken = path.join(appDir, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'main.ts'), files.get('main.ts')!.replace("image: 'ghcr.io/acme/shop-api:1.4.2',", 'image: 42,'));
    fs.writeFileSync(path.join(broken, 'tsconfig.json'), files.get('tsconfig.json')!);
    fs.symlinkSync(path.join(appDir, 'node_modules'), path.join(broken, 'node_modules'));
    let output = '';
    try {
      run('npx', ['tsc', '--noEmit', '--pretty', 'false'], broken);
    } catch (e) {
      output = String((e as { stdout?: string }).stdout);
    }
    expect(output).toMatch(/main\.ts\(\d+,\d+\): error TS2322/);
  });
});
