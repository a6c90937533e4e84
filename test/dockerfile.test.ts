import { Chart, Testing } from 'cdk8s';
import { DockerfileParser, Instruction } from 'dockerfile-ast';
import { PythonDockerfile, PythonServer, PythonService, PythonServiceProps } from '../src';

function service(props: Partial<PythonServiceProps> = {}): PythonService {
  return new PythonService(new Chart(Testing.app(), 'shop', { namespace: 'shop' }), 'api', {
    image: 'registry.example.com/shop/api:1.0',
    server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
    ...props,
  });
}

/** The Dockerfile, parsed by dockerfile-ast (the parser behind the Docker language server). */
function parse(text: string) {
  const dockerfile = DockerfileParser.parse(text);
  const instructions = dockerfile.getInstructions();
  const stages = dockerfile.getFROMs();
  const finalStageLine = stages[stages.length - 1].getRange().start.line;
  const final = instructions.filter((i) => i.getRange().start.line >= finalStageLine);
  const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
  return { dockerfile, instructions, stages, final, args };
}

describe('PythonDockerfile for a PythonService', () => {
  const api = service();
  const text = PythonDockerfile.forService(api).render();
  const { dockerfile, instructions, stages, final, args } = parse(text);

  test('builds from a pinned slim Python base, in two stages', () => {
    expect(stages.map((f) => `${f.getImageName()}:${f.getImageTag()}`)).toEqual(['python:3.15-slim-trixie', 'python:3.15-slim-trixie']);
    expect(stages[0].getBuildStage()).toBe('build');
    for (const from of stages) expect(from.getImageTag()).toMatch(/^3\.[0-9]+-slim-/);
  });

  test('installs dependencies in their own layer, before the code, without a pip cache', () => {
    const buildStage = instructions.filter((i) => i.getRange().start.line < stages[1].getRange().start.line);
    const keywords = buildStage.map((i) => `${i.getKeyword()} ${args(i).join(' ')}`);
    const copyRequirements = keywords.indexOf('COPY requirements.txt ./');
    const install = keywords.findIndex((k) => k.startsWith('RUN /opt/venv/bin/pip install'));
    const copyCode = keywords.indexOf('COPY . .');
    expect(copyRequirements).toBeGreaterThan(-1);
    expect(install).toBeGreaterThan(copyRequirements);
    expect(copyCode).toBeGreaterThan(install);
    expect(keywords[install]).toContain('--no-cache-dir');
    const env = dockerfile.getENVs()[0].getProperties().map((p) => `${p.getName()}=${p.getValue()}`);
    expect(env).toContain('PIP_NO_CACHE_DIR=1');
  });

  test('runs as the numeric non-root user and group of the pod', () => {
    const user = final.filter((i) => i.getKeyword() === 'USER');
    expect(user).toHaveLength(1);
    expect(args(user[0])).toEqual([`${api.podIdentity.runAsUser}:${api.podIdentity.runAsGroup}`]);
  });

  test('exposes the service port and runs the same server command as the Deployment', () => {
    expect(final.filter((i) => i.getKeyword() === 'EXPOSE').map((i) => args(i))).toEqual([['8080']]);
    const cmd = dockerfile.getCMDs();
    expect(cmd).toHaveLength(1);
    expect(cmd[0].getJSONStrings().map((s) => s.getJSONValue())).toEqual(api.serverConfig.command);
  });

  test('sets PYTHONUNBUFFERED and PYTHONDONTWRITEBYTECODE in the final image', () => {
    const finalEnv = final.filter((i) => i.getKeyword() === 'ENV').flatMap((i) => (dockerfile.getENVs().find((e) => e.getRange().start.line === i.getRange().start.line)!.getProperties()));
    const env = Object.fromEntries(finalEnv.map((p) => [p.getName(), p.getValue()]));
    expect(env).toMatchObject({ PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' });
  });

  test('works with a read-only root: bytecode compiled at build, code owned by root, writable dirs created for the server', () => {
    // Only the app: compileall exits 1 when any file under the venv does not compile.
    const compile = instructions.find((i) => i.getKeyword() === 'RUN' && args(i).includes('compileall'))!;
    expect(args(compile)).toEqual(['/opt/venv/bin/python', '-m', 'compileall', '-q', '--invalidation-mode', 'unchecked-hash', '/app']);
    const copyCode = final.find((i) => i.getKeyword() === 'COPY' && args(i).includes('/app'));
    expect(copyCode).toBeDefined();
    expect(text).not.toMatch(/--chown/);
    expect(text).toContain('mkdir -p /run/gunicorn && chown 10001:10001 /run/gunicorn');
  });

  test('has no instruction the parser flags as unknown', () => {
    const known = new Set(['FROM', 'ENV', 'RUN', 'WORKDIR', 'COPY', 'USER', 'EXPOSE', 'CMD']);
    expect(instructions.map((i) => i.getKeyword()).filter((k) => !known.has(k))).toEqual([]);
  });

  test('matches its snapshot', () => {
    expect(text).toMatchSnapshot();
  });
});

describe('.dockerignore', () => {
  test('keeps version control, local secrets and virtualenvs out of the build context', () => {
    const ignore = PythonDockerfile.forService(service({ server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }) })).renderIgnore().split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['.git', '.env', '.env.*', '.venv', 'venv', '__pycache__', '*.py[cod]']));
  });
});

describe('PythonDockerfile options', () => {
  test('user, port and command follow the service', () => {
    const api = service({ port: 9000, securityContext: { runAsUser: 20001, runAsGroup: 20002 }, server: PythonServer.uvicorn({ app: 'shop.main:app' }) });
    const { final, args, dockerfile } = parse(PythonDockerfile.forService(api, { pythonVersion: '3.12', requirementsFile: 'requirements/prod.txt' }).render());
    expect(args(final.find((i) => i.getKeyword() === 'USER')!)).toEqual(['20001:20002']);
    expect(args(final.find((i) => i.getKeyword() === 'EXPOSE')!)).toEqual(['9000']);
    expect(dockerfile.getCMDs()[0].getJSONStrings().map((s) => s.getJSONValue())[0]).toBe('uvicorn');
    expect(dockerfile.getFROMs()[0].getImageTag()).toBe('3.12-slim-trixie');
  });

  test('a digest pins the base image', () => {
    const digest = 'sha256:' + 'b'.repeat(64);
    const { stages } = parse(PythonDockerfile.forService(service(), { baseImageDigest: digest }).render());
    expect(stages.map((f) => f.getImageDigest())).toEqual([digest, digest]);
  });

  const bad: Array<[string, () => void, RegExp]> = [
    ['no command for an image-default service', () => PythonDockerfile.forService(service({ server: undefined })), /PythonDockerfile for PythonService 'api': command \(undefined\) is needed/],
    ['a Python 2 version', () => PythonDockerfile.forService(service(), { pythonVersion: '2.7' }), /PythonDockerfile: pythonVersion "2.7" must be a Python 3 version/],
    ['a bad digest', () => PythonDockerfile.forService(service(), { baseImageDigest: 'sha256:abc' }), /baseImageDigest "sha256:abc" must be "sha256:" and 64 hex digits/],
    ['a relative app dir', () => PythonDockerfile.forService(service(), { appDir: 'app' }), /appDir "app" must be an absolute path/],
  ];
  test.each(bad)('rejects %s', (_title, fn, message) => {
    expect(fn).toThrow(message);
  });
});
