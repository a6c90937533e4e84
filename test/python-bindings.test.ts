import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Chart, Duration } from 'cdk8s';
import * as ts from 'typescript';
import { PythonService, WorkerProcess } from '../src';
import { installedVersion, readmeQuickStart, shellCommands } from './support/readme';

const root = path.resolve(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const rootPackage = require(path.join(root, 'package.json'));

/** The Python packages the wheel runs with, at the versions the library is built and tested with. */
const PINNED = {
  'jsii': installedVersion('jsii-pacmak'), // the jsii runtime the generated code is made for
  'cdk8s': installedVersion('cdk8s'),
  'cdk8s-plus-28': installedVersion('cdk8s-plus-28'),
  'constructs': installedVersion('constructs'),
};

const nodeBin = path.join(root, 'node_modules', '.bin');
// The CLI's upgrade check asks the public npm registry, which a build machine may not reach.
const quietEnv = { CDK8S_CHECK_UPGRADE: 'false', FORCE_COLOR: '0', CDK8S_PYTHON_SERVICE_QUIET: '1', JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20', PIP_DISABLE_PIP_VERSION_CHECK: '1' };

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: 'pipe', env: { ...process.env, ...quietEnv, ...env } });
}

/** `cdk8s synth` with the real CLI into `outdir`; `binDirs` go first on PATH (a virtualenv's python). */
function synth(appDir: string, outdir: string, binDirs: string[] = []): void {
  run(path.join(nodeBin, 'cdk8s'), ['synth', '--no-check-upgrade', '--output', outdir], appDir, {
    PATH: [...binDirs, nodeBin, process.env.PATH].join(path.delimiter),
  });
}

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8');

/**
 * The Python package as users get it: the wheel and sdist jsii-pacmak builds (as `package:python`
 * does), installed with pip into a new virtual environment next to the jsii runtime and the
 * cdk8s, cdk8s-plus-28 and constructs Python packages, running real Python cdk8s apps.
 */
describe('the Python package', () => {
  let work: string;
  let wheel: string;
  let python: string;
  let venvBin: string;

  beforeAll(() => {
    if (!fs.existsSync(path.join(root, '.jsii'))) throw new Error('the Python package test needs the jsii assembly: run `npx projen compile` first');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'python-package-'));
    run(path.join(nodeBin, 'jsii-pacmak'), ['--target', 'python', '--outdir', path.join(work, 'dist')], root);
    const built = fs.readdirSync(path.join(work, 'dist', 'python'));
    wheel = path.join(work, 'dist', 'python', built.find((f) => f.endsWith('.whl'))!);
    run('python3', ['-m', 'venv', path.join(work, 'venv')], work);
    venvBin = path.join(work, 'venv', 'bin');
    python = path.join(venvBin, 'python');
    run(python, ['-m', 'pip', 'install', '--quiet', wheel, ...Object.entries(PINNED).map(([pkg, version]) => `${pkg}==${version}`)], work);
  }, 600_000);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('package:python builds a wheel and an sdist of cdk8s-python-service that require the pinned packages', () => {
    expect(fs.readdirSync(path.join(work, 'dist', 'python')).sort()).toEqual([
      `cdk8s_python_service-${rootPackage.version}-py3-none-any.whl`,
      `cdk8s_python_service-${rootPackage.version}.tar.gz`,
    ]);
    const metadata = run(python, ['-c', 'import importlib.metadata as m; print("\\n".join(m.requires("cdk8s-python-service")))'], work);
    for (const [pkg, version] of Object.entries(PINNED)) {
      expect(metadata).toMatch(new RegExp(`^${pkg} .*>=${version.replace(/\./g, '\\.')}`, 'm'));
    }
  });

  test('the example app in Python synthesizes the same YAML and Dockerfile as in TypeScript, byte for byte', () => {
    const tsOut = path.join(work, 'example-ts');
    const pyOut = path.join(work, 'example-py');
    synth(path.join(root, 'examples'), tsOut);
    synth(path.join(root, 'examples', 'python'), pyOut, [venvBin]);
    for (const file of ['shop.k8s.yaml', 'Dockerfile', '.dockerignore']) {
      expect({ file, python: read(pyOut, file) }).toEqual({ file, python: read(tsOut, file) });
    }
    // The twin covers the web service, a KEDA-scaled worker, beat and a scheduled job.
    expect(read(pyOut, 'shop.k8s.yaml')).toMatch(/kind: ScaledObject[\s\S]*kind: CronJob|kind: CronJob[\s\S]*kind: ScaledObject/);
  });

  test.each([
    ['an invalid port', 'PythonService(chart, "api", image="ghcr.io/acme/api:1", port=70000)',
      (chart: Chart) => new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', port: 70000 })],
    ['a 4-field backup schedule', 'PythonService(chart, "api", image="ghcr.io/acme/api:1", backup=PythonServiceBackup(schedule="0 0 * *"))',
      (chart: Chart) => new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', backup: { schedule: '0 0 * *' } })],
    ['two replicas of beat', 'PythonService(chart, "api", image="ghcr.io/acme/api:1").add_worker("beat", process=WorkerProcess.celery_beat(app="app"), replicas=2)',
      (chart: Chart) => new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1' }).addWorker('beat', { process: WorkerProcess.celeryBeat({ app: 'app' }), replicas: 2 })],
    ['a negative task time limit', 'PythonService(chart, "api", image="ghcr.io/acme/api:1").add_worker("w", process=WorkerProcess.rq(queues=["q"]), shutdown=PythonWorkerShutdown(task_time_limit=Duration.seconds(0)))',
      (chart: Chart) => new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1' }).addWorker('w', { process: WorkerProcess.rq({ queues: ['q'] }), shutdown: { taskTimeLimit: Duration.seconds(0) } })],
  ])('%s raises a RuntimeError in Python with the message TypeScript gets', (_, pythonCall, typescriptCall) => {
    let expected = '';
    try {
      typescriptCall(new Chart(new App(), 'shop', { namespace: 'shop' }));
    } catch (e) {
      expected = (e as Error).message;
    }
    expect(expected).toMatch(/^Python(Service|Worker) '/);
    const script = [
      'from cdk8s import App, Chart, Duration',
      'from cdk8s_python_service import PythonService, PythonServiceBackup, PythonWorkerShutdown, WorkerProcess',
      'chart = Chart(App(), "shop", namespace="shop")',
      'try:',
      `    ${pythonCall}`,
      'except Exception as e:',
      '    print(type(e).__name__)',
      '    print(str(e).splitlines()[0])',
    ].join('\n');
    const [type, message] = run(python, ['-c', script], work).trim().split('\n');
    // jsii prefixes errors thrown inside a method call (not a constructor) with the error's name.
    expect({ type, message: message.replace(/^Error: /, '') }).toEqual({ type: 'RuntimeError', message: expected.split('\n')[0] });
  });

  test('the README Python quick start, built from its text, synthesizes what its TypeScript twin does', () => {
    const files = readmeQuickStart('python');
    const appDir = path.join(work, 'readme-python');
    fs.mkdirSync(appDir);
    fs.copyFileSync(wheel, path.join(appDir, path.basename(wheel)));
    for (const [name, text] of files) {
      if (name !== 'shell') fs.writeFileSync(path.join(appDir, name), text);
    }
    const commands = shellCommands(files.get('shell')!);
    // The README pins what the library is built with, and installs the wheel the build writes.
    expect(commands.join('\n')).toContain(`pip install ./${path.basename(wheel)} ${Object.entries(PINNED).map(([p, v]) => `${p}==${v}`).join(' ')}`);
    // It installs the cdk8s CLI it runs (a Python user has no node_modules of this repository).
    expect(commands).toContain(`npm install --no-save cdk8s-cli@${installedVersion('cdk8s-cli')}`);
    expect(commands[commands.length - 1]).toBe('npx cdk8s synth --no-check-upgrade');
    // Without this repository's node_modules/.bin on PATH: the cdk8s CLI is the one the block installs.
    // Without the suite's quiet settings either: what the block prints is what its users see.
    const loud = Object.fromEntries(Object.entries(process.env).filter(([name]) => !(name in quietEnv) || name === 'PIP_DISABLE_PIP_VERSION_CHECK'));
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', commands.join('\n')], { cwd: appDir, encoding: 'utf8', env: { ...loud, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
    expect({ status: result.status, stderr: result.stderr }).toMatchObject({ status: 0 });
    // No byte-string banner from jsii, no stack trace from the CLI's upgrade check.
    expect(result.stderr).not.toMatch(/^b'|end-of-life|Error: /m);

    // The TypeScript quick start's main.ts, against the compiled library, is the twin.
    const tsDir = path.join(work, 'readme-ts');
    fs.mkdirSync(tsDir);
    const source = readmeQuickStart('ts').get('main.ts')!.replace("from 'cdk8s-python-service'", `from ${JSON.stringify(path.join(root, 'lib', 'index.js'))}`);
    fs.writeFileSync(path.join(tsDir, 'main.js'), ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText);
    run(process.execPath, ['main.js'], tsDir, { NODE_PATH: path.join(root, 'node_modules') });
    expect(read(path.join(appDir, 'dist'), 'shop.k8s.yaml')).toBe(read(path.join(tsDir, 'dist'), 'shop.k8s.yaml'));
  });

  test('Python names are snake_case, props keyword arguments, and Python keywords get a trailing underscore', () => {
    const script = [
      'import inspect, cdk8s_python_service as m',
      'print(list(inspect.signature(m.PythonService.__init__).parameters)[:4])',
      'print(sorted(k for k in inspect.signature(m.PythonServiceResources.__init__).parameters if k != "self"))',
      'print(m.WorkerProcess.celery_beat.__name__, m.PythonService.add_cron_job.__name__, m.CeleryPool.PREFORK.name)',
    ].join('\n');
    expect(run(python, ['-c', script], work).trim().split('\n')).toEqual([
      "['self', 'scope', 'id', 'autoscaling']",
      "['cpu', 'cpu_limit', 'ephemeral_storage', 'memory']",
      'celery_beat add_cron_job PREFORK',
    ]);
  });
});

/** API.md and the Python docstrings come from the same JSDoc: it speaks to users of the library. */
describe('the public API documentation', () => {
  const assembly = JSON.parse(fs.readFileSync(path.join(root, '.jsii'), 'utf8'));
  const types = Object.entries<any>(assembly.types);

  test('never refers to the source article (that mapping is the README\'s)', () => {
    const mentions = types.filter(([, type]) => /\barticle\b/i.test(JSON.stringify([type.docs, type.properties, type.methods, type.initializer, type.members])));
    expect(mentions.map(([fqn]) => fqn)).toEqual([]);
  });

  test('documents every parameter that is not a props struct (structs become documented keyword arguments)', () => {
    const isStruct = (fqn?: string) => fqn !== undefined && assembly.types[fqn]?.datatype === true;
    const undocumented = types.flatMap(([fqn, type]) => [...(type.methods ?? []), ...(type.initializer ? [{ name: 'constructor', ...type.initializer }] : [])]
      .flatMap((method: any) => (method.parameters ?? [])
        .filter((p: any) => !p.docs?.summary && !['scope', 'id'].includes(p.name) && !isStruct(p.type?.fqn))
        .map((p: any) => `${fqn}.${method.name}(${p.name})`)));
    expect(undocumented).toEqual([]);
  });
});
