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

  test('leaves pip out of the runtime image: it is removed from the virtual environment at the end of the build stage', () => {
    const buildStage = instructions.filter((i) => i.getRange().start.line < stages[1].getRange().start.line);
    expect(args(buildStage[buildStage.length - 1])).toEqual(['/opt/venv/bin/python', '-m', 'pip', 'uninstall', '--yes', '--quiet', 'pip']);
    expect(final.filter((i) => i.getKeyword() === 'RUN').map((i) => args(i).join(' ')).join('\n')).not.toMatch(/pip/);
  });

  test('sets gunicorn\'s runtime directory in the image, so a plain run keeps its control socket off the missing home directory', () => {
    const finalEnv = Object.fromEntries(dockerfile.getENVs().filter((e) => e.getRange().start.line >= stages[1].getRange().start.line).flatMap((e) => e.getProperties()).map((p) => [p.getName(), p.getValue()]));
    expect(finalEnv.XDG_RUNTIME_DIR).toBe('/run/gunicorn');
    expect(api.serverConfig.env.XDG_RUNTIME_DIR).toBe('/run/gunicorn');
    expect(finalEnv.WEB_CONCURRENCY).toBeUndefined();
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
  test('keeps version control, local secrets, virtualenvs and bytecode out of the build context at any depth (a plain pattern matches only at its root)', () => {
    const ignore = PythonDockerfile.forService(service({ server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }) })).renderIgnore().split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['**/.git', '**/.env', '**/.env.*', '**/*.env', '**/.venv', '**/venv', '**/__pycache__', '**/*.py[cod]']));
    expect(ignore.filter((p) => /^[^#*]/.test(p) && /env|pyc|pycache|\.git$/.test(p))).toEqual(['env']);
  });
});

describe('PythonDockerfile for a service with monitoring', () => {
  const api = service({ monitoring: { port: 9090, labels: { release: 'kube-prometheus-stack' } } });
  const deployment = Testing.synth(api.node.scope as Chart).find((o) => o.kind === 'Deployment');
  const podCommand: string[] = deployment.spec.template.spec.containers[0].command;
  const { dockerfile, final, args } = parse(PythonDockerfile.forService(api).render());

  test('exposes the metrics port (served by gunicorn\'s arbiter) too', () => {
    expect(final.filter((i) => i.getKeyword() === 'EXPOSE').map((i) => args(i))).toEqual([['8080', '9090']]);
  });

  test('runs the Deployment\'s command without the gunicorn configuration the pod mounts from a ConfigMap, so the image starts on its own', () => {
    expect(podCommand.slice(podCommand.indexOf('--config'), podCommand.indexOf('--config') + 2)).toEqual(['--config', '/etc/gunicorn/gunicorn.conf.py']);
    expect(dockerfile.getCMDs()[0].getJSONStrings().map((s) => s.getJSONValue())).toEqual(podCommand.filter((a, i) => a !== '--config' && podCommand[i - 1] !== '--config'));
  });

  test('creates the writable volumes\' directories but not the read-only ConfigMap mount point', () => {
    const run = final.filter((i) => i.getKeyword() === 'RUN').map((i) => args(i).join(' ')).join(' ');
    expect(run).toContain('mkdir -p /run/gunicorn /run/prometheus && chown 10001:10001 /run/gunicorn /run/prometheus');
    expect(run).not.toContain('/etc/gunicorn');
  });
});

describe('PythonDockerfile build steps', () => {
  const text = PythonDockerfile.forService(service(), {
    buildCommands: [['python', 'manage.py', 'collectstatic', '--noinput'], ['python', 'manage.py', 'compilemessages']],
    buildEnv: { DJANGO_SETTINGS_MODULE: 'shop.settings', STATIC_ROOT: '/app/static files' },
    buildPackages: ['build-essential', 'libpq-dev'],
    runtimePackages: ['libpq5', 'libmagic1=1:5.46-5'],
  }).render();
  const { stages, instructions, final, args, dockerfile } = parse(text);
  const buildStage = instructions.filter((i) => i.getRange().start.line < stages[1].getRange().start.line);
  const keywords = (list: Instruction[]) => list.map((i) => `${i.getKeyword()} ${args(i).join(' ')}`);

  test('build commands run in the build stage, without a shell, after the code is copied and before the bytecode is compiled', () => {
    const k = keywords(buildStage);
    const copyCode = k.indexOf('COPY . .');
    const collect = k.findIndex((line) => line.includes('collectstatic'));
    const compile = k.findIndex((line) => line.includes('compileall'));
    expect(copyCode).toBeGreaterThan(-1);
    expect(collect).toBeGreaterThan(copyCode);
    expect(compile).toBeGreaterThan(collect);
    const run = buildStage[collect];
    expect((run as any).getJSONStrings().map((s: any) => s.getJSONValue())).toEqual(['python', 'manage.py', 'collectstatic', '--noinput']);
    expect(keywords(final).join('\n')).not.toMatch(/collectstatic|compilemessages/);
  });

  test('the build environment is set in the build stage only, after the dependency layer, and the virtualenv is first on PATH there', () => {
    const envs = dockerfile.getENVs();
    const buildEnv = envs.find((e) => e.getProperties().some((p) => p.getName() === 'DJANGO_SETTINGS_MODULE'))!;
    expect(buildEnv.getRange().start.line).toBeLessThan(stages[1].getRange().start.line);
    expect(buildEnv.getRange().start.line).toBeGreaterThan(buildStage.find((i) => args(i).includes('--requirement'))!.getRange().start.line);
    expect(Object.fromEntries(buildEnv.getProperties().map((p) => [p.getName(), p.getValue()]))).toEqual({ DJANGO_SETTINGS_MODULE: 'shop.settings', STATIC_ROOT: '/app/static files' });
    expect(envs[0].getProperties()[0].getValue()).toBe('/opt/venv/bin:$PATH');
    expect(final.some((i) => i.getKeyword() === 'ENV' && args(i).join(' ').includes('DJANGO_SETTINGS_MODULE'))).toBe(false);
  });

  test('a build variable is taken literally: the builder substitutes nothing in it', () => {
    const withDollar = PythonDockerfile.forService(service(), { buildEnv: { SECRET_KEY: 'collectstatic-only-$HOME' } }).render();
    expect(withDollar).toContain('ENV SECRET_KEY="collectstatic-only-\\$HOME"');
  });

  test('build packages go into the build stage, runtime packages into the image, each without recommends, downloaded packages or package lists', () => {
    expect(keywords(buildStage).join('\n')).toContain('apt-get install --yes --no-install-recommends build-essential libpq-dev && apt-get clean && rm -rf /var/lib/apt/lists/*');
    expect(keywords(final).join('\n')).toContain('apt-get install --yes --no-install-recommends libpq5 libmagic1=1:5.46-5 && apt-get clean && rm -rf /var/lib/apt/lists/*');
    expect(keywords(final).join('\n')).not.toContain('build-essential');
    // Before the user is made and the code copied: the package layer is rebuilt only when the list changes.
    expect(keywords(final).findIndex((k) => k.includes('apt-get'))).toBeLessThan(keywords(final).findIndex((k) => k.includes('groupadd')));
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
    ['a runtime package that is not a Debian name', () => PythonDockerfile.forService(service(), { runtimePackages: ['libpq5', 'libpq5; rm -rf /'] }), /PythonDockerfile: runtimePackages\[1\] "libpq5; rm -rf \/" must be a Debian package name such as "libpq5"/],
    ['a build package in capitals', () => PythonDockerfile.forService(service(), { buildPackages: ['LibPQ-dev'] }), /buildPackages\[0\] "LibPQ-dev" must be a Debian package name/],
    ['an empty build command', () => PythonDockerfile.forService(service(), { buildCommands: [[]] }), /buildCommands\[0\] \[\] must be a non-empty list of strings \(a command and its arguments, run without a shell\)/],
    ['a build command with a line break', () => PythonDockerfile.forService(service(), { buildCommands: [['sh', '-c', 'a\nb']] }), /buildCommands\[0\] .* none with a line break/],
    ['a build variable that is not a name', () => PythonDockerfile.forService(service(), { buildEnv: { 'DJANGO-SETTINGS': 'x' } }), /PythonDockerfile: buildEnv name "DJANGO-SETTINGS" must be a valid variable name: letters, digits and "_", not starting with a digit/],
  ];
  test.each(bad)('rejects %s', (_title, fn, message) => {
    expect(fn).toThrow(message);
  });
});
