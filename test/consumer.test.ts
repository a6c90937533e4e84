import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { expectStrictlyValid } from './support/manifests';

const root = path.resolve(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const versionOf = (pkg: string): string => require(path.join(root, 'node_modules', pkg, 'package.json')).version;
const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: 'pipe', env: { ...process.env, FORCE_COLOR: '0' } });

/**
 * A user's view: pack the library the way it is published (npm pack of the compiled package, with
 * its bundled dependencies), install the tarball into a separate cdk8s TypeScript app (a real
 * copy, never a symlink: two copies of cdk8s break synthesis) and run the real `cdk8s synth`.
 */
describe('a consumer app installing the packed library', () => {
  let appDir: string;
  let yaml: string;

  beforeAll(() => {
    if (!fs.existsSync(path.join(root, 'lib', 'index.js')) || !fs.existsSync(path.join(root, '.jsii'))) {
      throw new Error('the consumer test needs the compiled library: run `npx projen compile` (or the whole build) first');
    }
    appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-'));
    const tarball = run('npm', ['pack', '--silent', '--pack-destination', appDir], root).trim().split('\n').pop()!;
    fs.writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({
      name: 'consumer',
      version: '0.0.0',
      private: true,
      dependencies: {
        'cdk8s-python-service': `file:./${tarball}`,
        'cdk8s': versionOf('cdk8s'),
        'cdk8s-plus-28': versionOf('cdk8s-plus-28'),
        'constructs': versionOf('constructs'),
      },
      devDependencies: {
        'cdk8s-cli': versionOf('cdk8s-cli'),
        'ts-node': versionOf('ts-node'),
        'typescript': versionOf('typescript'),
        '@types/node': versionOf('@types/node'),
      },
    }, null, 2));
    fs.writeFileSync(path.join(appDir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, skipLibCheck: true, types: ['node'] },
    }));
    fs.writeFileSync(path.join(appDir, 'cdk8s.yaml'), 'language: typescript\napp: npx ts-node main.ts\n');
    fs.writeFileSync(path.join(appDir, 'main.ts'), [
      "import { App, Chart, Duration } from 'cdk8s';",
      "import { Exposure, PythonServer, PythonService } from 'cdk8s-python-service';",
      '',
      'const app = new App();',
      "const chart = new Chart(app, 'blog', { namespace: 'blog' });",
      "new PythonService(chart, 'web', {",
      "  image: 'ghcr.io/acme/blog:2.0.1',",
      "  server: PythonServer.uvicorn({ app: 'blog.main:app' }),",
      "  expose: Exposure.ingress({ host: 'blog.example.com' }),",
      '  autoscaling: { minReplicas: 2, maxReplicas: 4 },',
      '  monitoring: { interval: Duration.seconds(30), alerts: true },',
      "  backup: { schedule: '0 3 * * *' },",
      "  security: { allowedImages: ['ghcr.io/acme/'] },",
      '});',
      'app.synth();',
      '',
    ].join('\n'));
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], appDir);
    run(path.join(appDir, 'node_modules', '.bin', 'cdk8s'), ['synth', '--no-check-upgrade'], appDir);
    yaml = fs.readFileSync(path.join(appDir, 'dist', 'blog.k8s.yaml'), 'utf8');
  }, 600_000);

  afterAll(() => {
    if (appDir) fs.rmSync(appDir, { recursive: true, force: true });
  });

  test('the library is a real installed copy with a single cdk8s in the app', () => {
    const installed = path.join(appDir, 'node_modules', 'cdk8s-python-service');
    expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(fs.existsSync(path.join(installed, 'node_modules', 'cdk8s'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'node_modules', 'cron-parser'))).toBe(true);
  });

  test('cdk8s synth writes valid YAML for every feature', () => {
    const manifests = parseAllDocuments(yaml).map((d) => d.toJS());
    expect(manifests.map((m) => m.kind).sort()).toEqual([
      'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'NetworkPolicy', 'PodDisruptionBudget', 'PrometheusRule', 'Schedule',
      'Service', 'ServiceAccount', 'ServiceMonitor', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
    ]);
    expectStrictlyValid(manifests);
  });
});
