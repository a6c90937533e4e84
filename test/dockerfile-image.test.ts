import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Chart } from 'cdk8s';
import { DJANGO_ALLOWED_HOSTS, FIXTURE_IMAGES, fixtureDockerfiles, fixtureImageSource, fixtureServices, IGNORED_FILES } from './support/fixture-images';
import { BuiltImage, buildImage, inspectImage, plainRun, PlainRun, withImageRoot } from './support/image-build';
import { appContainer, only, synth } from './support/manifests';

// The article's first step for real: the Dockerfile the library renders for a service, built by a
// real builder (buildah; test/support/image-build.ts) from the fixture apps, then inspected and run
// as `docker run IMAGE` would run it: its own command, no environment, nothing mounted. The node
// tier (python-on-node.test.ts) runs the same images as the Deployment does.

const report = (line: string) => process.stderr.write(`image tier: ${line}\n`);

describe('the Django image (gunicorn, collectstatic, a runtime library)', () => {
  let built: BuiltImage;
  const service = fixtureServices().django;
  const deploymentCommand = appContainer(only(synth(service.node.scope as Chart), 'Deployment', 'api')).command as string[];

  beforeAll(() => {
    built = buildImage(fixtureImageSource('django'));
    const { layers, bytes } = inspectImage(built.tag);
    report(`${built.tag}: ${layers} layers, ${(bytes / 1e6).toFixed(0)} MB, built in ${built.seconds.toFixed(1)} s (${built.cachedSteps.length} steps from the layer cache, ${built.ranSteps.length} run)`);
  }, 1_200_000);

  test('runs as the pod\'s numeric user, exposes the service and metrics ports, and has the Deployment\'s command less the ConfigMap-mounted gunicorn configuration', () => {
    const { config } = inspectImage(built.tag);
    expect(config.User).toBe('10001:10001');
    expect(Object.keys(config.ExposedPorts).sort()).toEqual(['8080/tcp', '9100/tcp']);
    expect(deploymentCommand).toEqual(expect.arrayContaining(['--config', '/etc/gunicorn/gunicorn.conf.py']));
    const i = deploymentCommand.indexOf('--config');
    expect(config.Cmd).toEqual([...deploymentCommand.slice(0, i), ...deploymentCommand.slice(i + 2)]);
    expect(config.WorkingDir).toBe('/app');
    expect(config.Env).toEqual(expect.arrayContaining(['XDG_RUNTIME_DIR=/run/gunicorn', 'PYTHONUNBUFFERED=1', 'PYTHONDONTWRITEBYTECODE=1']));
  });

  test('keeps every ignored file out at any depth: local secrets, virtualenvs, stale bytecode, version control', () => {
    withImageRoot(built.tag, (root) => {
      const present = Object.keys(IGNORED_FILES).filter((file) => fs.existsSync(path.join(root, 'app', file)));
      expect(present).toEqual([]);
      expect(fs.existsSync(path.join(root, 'app', 'shop', 'settings.py'))).toBe(true);
    });
  });

  test('collected the static files at build time, owned by root like the code', () => {
    withImageRoot(built.tag, (root) => {
      const css = path.join(root, 'app', 'staticfiles', 'shop.css');
      expect(fs.readFileSync(css, 'utf8')).toContain('font-family');
      expect(fs.statSync(css).uid).toBe(0);
      expect(fs.statSync(path.join(root, 'app')).uid).toBe(0);
      // Not writable by others: the pod's user cannot change the code.
      expect(fs.statSync(path.join(root, 'app')).mode.toString(8)).toMatch(/[0145]$/);
    });
  });

  test('creates only the writable directories, owned by the pod\'s user; the ConfigMap mount point is not made writable', () => {
    withImageRoot(built.tag, (root) => {
      for (const dir of ['run/gunicorn', 'run/prometheus']) {
        expect(fs.statSync(path.join(root, dir))).toMatchObject({ uid: 10001, gid: 10001 });
      }
      const gunicornConfigDir = path.join(root, 'etc', 'gunicorn');
      expect(fs.existsSync(gunicornConfigDir) ? fs.statSync(gunicornConfigDir).uid : 0).toBe(0);
    });
  });

  test('has no pip in the runtime environment, and the runtime library it asked for', () => {
    withImageRoot(built.tag, (root) => {
      const venvLib = path.join(root, 'opt', 'venv', 'lib');
      const sitePackages = path.join(venvLib, fs.readdirSync(venvLib)[0], 'site-packages');
      expect(fs.readdirSync(sitePackages).filter((f) => /^pip[-_.]|^pip$/.test(f))).toEqual([]);
      expect(fs.existsSync(path.join(root, 'opt', 'venv', 'bin', 'pip'))).toBe(false);
      expect(fs.readdirSync(sitePackages)).toEqual(expect.arrayContaining(['django', 'gunicorn']));
      expect(fs.readdirSync(path.join(root, 'usr', 'lib', 'x86_64-linux-gnu')).some((f) => f.startsWith('libpq.so.5'))).toBe(true);
      // Nothing of apt's left behind: no package lists, no downloaded packages, no package caches.
      expect(fs.readdirSync(path.join(root, 'var', 'lib', 'apt', 'lists')).filter((f) => f !== 'lock' && f !== 'partial')).toEqual([]);
      expect(execFileSync('find', [path.join(root, 'var', 'cache', 'apt'), '-type', 'f', '!', '-name', 'lock'], { encoding: 'utf8' }).trim()).toBe('');
    });
  });

  test('a change to the app alone rebuilds only the layers after the code: the dependencies come from the layer cache', () => {
    const rebuilt = buildImage(fixtureImageSource('django', { 'shop/changed.py': `CHANGED = ${Date.now()}\n` }));
    report(`rebuild after an app-only change: ${rebuilt.seconds.toFixed(1)} s`);
    expect(rebuilt.cachedSteps).toEqual(expect.arrayContaining([expect.stringMatching(/pip install --no-cache-dir --requirement requirements.txt/)]));
    expect(rebuilt.ranSteps).toEqual(expect.arrayContaining([expect.stringMatching(/^COPY \. \./), expect.stringMatching(/collectstatic/)]));
    // The tag goes back to the image the other tiers use.
    expect(buildImage(fixtureImageSource('django')).ranSteps.filter((s) => /^(RUN|COPY)/.test(s))).toEqual([]);
  }, 600_000);

  describe('run plainly (docker run IMAGE: its own command, no env, nothing mounted)', () => {
    let run: PlainRun;
    beforeAll(async () => {
      run = plainRun(FIXTURE_IMAGES.django);
      await run.waitForAnswer(8080, '/healthz');
    }, 120_000);
    afterAll(() => run?.remove());

    test('the server starts and keeps running, and the app answers: 400 for a host it does not serve, 200 for one it does', async () => {
      await new Promise((r) => setTimeout(r, 2000));
      expect({ running: run.running(), output: run.running() ? '' : run.output() }).toEqual({ running: true, output: '' });
      const localhost = run.request(8080, '/healthz', { Host: 'localhost' });
      // Django's own answer to a Host outside ALLOWED_HOSTS, not a refused connection.
      expect(localhost).toMatchObject({ status: 400 });
      expect(run.request(8080, '/healthz', { Host: DJANGO_ALLOWED_HOSTS[0] })).toMatchObject({ status: 200, body: 'ok' });
      expect(run.output()).not.toMatch(/Traceback|\[ERROR\]/);
    });

    test('SIGTERM ends it cleanly: exit code 0 within gunicorn\'s graceful timeout', async () => {
      const end = await run.stop(45_000);
      expect(end.code).toBe(0);
      expect(end.seconds).toBeLessThan(30);
    }, 60_000);
  });
});

describe('the FastAPI image (uvicorn)', () => {
  let run: PlainRun;
  beforeAll(async () => {
    const built = buildImage(fixtureImageSource('fastApi'));
    const { layers, bytes } = inspectImage(built.tag);
    report(`${built.tag}: ${layers} layers, ${(bytes / 1e6).toFixed(0)} MB, built in ${built.seconds.toFixed(1)} s`);
    run = plainRun(built.tag);
    await run.waitForAnswer(8080, '/healthz');
  }, 1_200_000);
  afterAll(() => run?.remove());

  test('exposes only the service port, with the Deployment\'s command', () => {
    const { config } = inspectImage(FIXTURE_IMAGES.fastApi);
    expect(Object.keys(config.ExposedPorts)).toEqual(['8080/tcp']);
    expect(config.Cmd).toEqual(fixtureServices().fastApi.serverConfig.command);
  });

  test('run plainly, the server keeps running and the app answers', async () => {
    await new Promise((r) => setTimeout(r, 1000));
    expect({ running: run.running(), output: run.running() ? '' : run.output() }).toEqual({ running: true, output: '' });
    expect(run.request(8080, '/healthz', { Host: 'localhost' })).toMatchObject({ status: 200 });
    const end = await run.stop(45_000);
    expect(end.code).toBe(0);
  }, 60_000);
});

describe('the workers image (Celery and RQ)', () => {
  test('builds from the same dependency layer, with the worker as its command', () => {
    const built = buildImage(fixtureImageSource('workers'));
    expect(built.cachedSteps).toEqual(expect.arrayContaining([expect.stringMatching(/pip install/)]));
    expect(inspectImage(built.tag).config.Cmd).toEqual(fixtureDockerfiles().workers.target.command);
  }, 1_200_000);
});
