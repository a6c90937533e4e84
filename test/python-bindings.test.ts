import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');

function pythonFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? pythonFiles(full) : e.name.endsWith('.py') ? [full] : [];
  });
}

/**
 * The Python binding as `package:python` generates it (jsii-pacmak, sources only: a wheel needs
 * PyPI), compiled by the Python interpreter so a syntax error in the generated code fails here.
 */
describe('Python bindings', () => {
  let outdir: string;
  let files: string[];

  beforeAll(() => {
    if (!fs.existsSync(path.join(root, '.jsii'))) throw new Error('the Python bindings test needs the jsii assembly: run `npx projen compile` first');
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacmak-'));
    execFileSync(path.join(root, 'node_modules', '.bin', 'jsii-pacmak'), ['--target', 'python', '--code-only', '--outdir', outdir], {
      cwd: root, stdio: 'pipe', env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' },
    });
    files = pythonFiles(path.join(outdir, 'python'));
  }, 300_000);

  afterAll(() => {
    if (outdir) fs.rmSync(outdir, { recursive: true, force: true });
  });

  test('the module is cdk8s_python_service in the distribution cdk8s-python-service', () => {
    const init = files.find((f) => f.endsWith(path.join('cdk8s_python_service', '__init__.py')));
    expect(init).toBeDefined();
    const source = fs.readFileSync(init!, 'utf8');
    for (const name of ['class PythonService(', 'class PythonServer(', 'class Exposure(', 'class PythonDockerfile(', 'class SecurityPolicy(']) {
      expect(source).toContain(name);
    }
    expect(fs.readFileSync(path.join(outdir, 'python', 'setup.py'), 'utf8')).toContain('"name": "cdk8s-python-service"');
  });

  test('every generated source file compiles', () => {
    expect(files.length).toBeGreaterThan(0);
    const script = 'import py_compile, sys\nfor f in sys.argv[1:]:\n    py_compile.compile(f, doraise=True, cfile=f + ".compiled")\nprint(len(sys.argv) - 1)';
    const compiled = execFileSync('python3', ['-c', script, ...files], { encoding: 'utf8' }).trim();
    expect(Number(compiled)).toBe(files.length);
  });
});
