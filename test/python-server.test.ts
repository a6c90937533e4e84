import { Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { GranianInterface, PythonServer, PythonServerBindOptions, PythonServerKind, PythonService, PythonServiceProps } from '../src';
import { appContainer, envOf, expectStrictlyValid, only, podTemplateOf, synth } from './support/manifests';

const pod = (cpuMillis: number): PythonServerBindOptions => ({ port: 8080, cpuMillis, workerTmpDir: '/run/gunicorn', constructLabel: "PythonService 'api'" });

describe('PythonServer.gunicorn', () => {
  test.each([[100, 3], [250, 3], [1000, 3], [1001, 5], [2000, 5], [3500, 9]])(
    'a %i m CPU request gives %i workers (2 × ceil(cores) + 1)', (millis, workers) => {
      const config = PythonServer.gunicorn({ app: 'shop.wsgi:application' }).bind(pod(millis));
      expect(config.workers).toBe(workers);
      expect(config.env.WEB_CONCURRENCY).toBe(String(workers));
    });

  test('renders the full command line', () => {
    const config = PythonServer.gunicorn({
      app: 'shop.wsgi:application',
      workerClass: 'gthread',
      threads: 4,
      gracefulTimeout: Duration.seconds(20),
      timeout: Duration.seconds(60),
      keepAlive: Duration.seconds(75),
      maxRequests: 1000,
      extraArgs: ['--preload'],
    }).bind(pod(500));
    expect(config.kind).toBe(PythonServerKind.GUNICORN);
    expect(config.command).toEqual([
      'gunicorn', 'shop.wsgi:application', '--bind', '0.0.0.0:8080', '--worker-class', 'gthread',
      '--worker-tmp-dir', '/run/gunicorn', '--graceful-timeout', '20', '--timeout', '60', '--keep-alive', '75',
      '--access-logfile', '-', '--error-logfile', '-', '--threads', '4', '--max-requests', '1000',
      '--max-requests-jitter', '100', '--preload',
    ]);
    expect(config.gracefulTimeout.toSeconds()).toBe(20);
    expect(config.needsWorkerTmpDir).toBe(true);
  });

  test('explicit workers win over the CPU rule', () => {
    expect(PythonServer.gunicorn({ app: 'a:b', workers: 2 }).bind(pod(4000)).workers).toBe(2);
  });

  test('jitter without maxRequests is an error', () => {
    expect(() => PythonServer.gunicorn({ app: 'a:b', maxRequestsJitter: 5 }).bind(pod(500)))
      .toThrow("PythonService 'api': server.maxRequestsJitter 5 needs server.maxRequests");
  });

  test('accepts app factories', () => {
    expect(() => PythonServer.gunicorn({ app: 'shop:create_app()' }).bind(pod(500))).not.toThrow();
  });

  test('uvicorn and granian import the app and never call it: a factory call is an error that names --factory', () => {
    expect(() => PythonServer.uvicorn({ app: 'api.main:create_app()' }).bind(pod(500))).toThrow(
      'PythonService \'api\': server.app "api.main:create_app()" must be "module:variable": uvicorn imports it and does not call it; for an application factory give "api.main:create_app" and extraArgs ["--factory"]');
    expect(() => PythonServer.granian({ app: 'api.main:create_app()', interface: GranianInterface.ASGI }).bind(pod(500))).toThrow(/granian imports it and does not call it/);
    expect(() => PythonServer.uvicorn({ app: 'api.main:create_app', extraArgs: ['--factory'] }).bind(pod(500))).not.toThrow();
  });
});

describe('workers sized by memory too', () => {
  const sized = (memory: number, extra: Partial<PythonServerBindOptions> = {}) => ({ ...pod(2000), memoryLimitMebibytes: memory, ...extra });

  test.each([
    // memory, multiprocess dir, workers: min(2 × 2 + 1, floor((memory − 16 heartbeat − 32 arbiter [− 64 metrics]) / 128))
    [256, 0, 1], [512, 0, 3], [512, 64, 3], [1024, 0, 5], [384, 64, 2], [300, 64, 1],
  ])('%i Mi (metrics dir %i Mi) gives %i gunicorn workers', (memory, multiprocess, workers) => {
    expect(PythonServer.gunicorn({ app: 'a:b' }).bind(sized(memory, { multiprocessMebibytes: multiprocess })).workers).toBe(workers);
  });

  test('memoryPerProcess changes the count', () => {
    expect(PythonServer.gunicorn({ app: 'a:b' }).bind(sized(256, { memoryPerProcessMebibytes: 64 })).workers).toBe(3);
  });

  test('not even one worker fits: a clear error', () => {
    expect(() => PythonServer.gunicorn({ app: 'a:b' }).bind(sized(128)))
      .toThrow("PythonService 'api': resources.memory \"128Mi\" leaves no room for one worker process: 128Mi per process (memoryPerProcess), 48Mi for memory-backed volumes and the master process; raise resources.memory or lower memoryPerProcess");
  });

  test('an explicit count must fit as well, and WEB_CONCURRENCY counts as explicit', () => {
    expect(() => PythonServer.gunicorn({ app: 'a:b', workers: 4 }).bind(sized(256))).toThrow(/server.workers 4 does not fit in resources.memory \(256Mi\)/);
    expect(PythonServer.gunicorn({ app: 'a:b' }).bind(sized(1024, { workersFromEnv: 2 })).workers).toBe(2);
    expect(() => PythonServer.gunicorn({ app: 'a:b' }).bind(sized(256, { workersFromEnv: 3 }))).toThrow(/env.WEB_CONCURRENCY 3 does not fit/);
    expect(() => PythonServer.gunicorn({ app: 'a:b', workers: 2 }).bind(sized(1024, { workersFromEnv: 2 })))
      .toThrow('server.workers 2 is also set by env.WEB_CONCURRENCY (2); set the worker count once');
  });

  test('uvicorn and commands run one process, which must fit', () => {
    expect(PythonServer.uvicorn({ app: 'a:b' }).bind(sized(128)).workers).toBe(1);
    expect(() => PythonServer.command(['python', '-m', 'x']).bind(sized(64))).toThrow(/resources.memory "64Mi" leaves no room for one worker process/);
  });
});

describe('gunicorn behind proxies', () => {
  test('sync workers get no --keep-alive (they ignore it); other classes outlast a 60 s proxy idle timeout', () => {
    expect(PythonServer.gunicorn({ app: 'a:b' }).bind(pod(500)).command).not.toContain('--keep-alive');
    const gthread = PythonServer.gunicorn({ app: 'a:b', workerClass: 'gthread' }).bind(pod(500)).command!;
    expect(gthread[gthread.indexOf('--keep-alive') + 1]).toBe('65');
    expect(() => PythonServer.gunicorn({ app: 'a:b', keepAlive: Duration.seconds(620) }).bind(pod(500))).toThrow(/server.keepAlive \(10 minutes 20 seconds\) has no effect with the sync worker class/);
  });

  test('forwardedAllowIps is passed on', () => {
    const config = PythonServer.gunicorn({ app: 'a:b', forwardedAllowIps: '10.0.0.0/8' }).bind(pod(500));
    expect(config.command!.join(' ')).toContain('--forwarded-allow-ips 10.0.0.0/8');
    expect(config.forwardedAllowIps).toBe('10.0.0.0/8');
  });

  test('the control socket goes to a writable memory-backed XDG_RUNTIME_DIR, never a --no-control-socket flag older gunicorn rejects', () => {
    const config = PythonServer.gunicorn({ app: 'a:b' }).bind(pod(500));
    expect(config.env.XDG_RUNTIME_DIR).toBe('/run/gunicorn');
    expect(config.needsWorkerTmpDir).toBe(true);
    expect(config.command).not.toContain('--no-control-socket');
  });
});

describe('PythonServer.uvicorn', () => {
  test('one worker per pod by default, whatever the CPU', () => {
    const config = PythonServer.uvicorn({ app: 'shop.main:app' }).bind(pod(4000));
    expect(config.workers).toBe(1);
    expect(config.needsWorkerTmpDir).toBe(false);
    expect(config.command).toEqual([
      'uvicorn', 'shop.main:app', '--host', '0.0.0.0', '--port', '8080', '--timeout-graceful-shutdown', '30',
      '--timeout-keep-alive', '65', '--no-use-colors',
    ]);
  });

  test('proxy headers, recycling and extra args', () => {
    const config = PythonServer.uvicorn({ app: 'a:b', forwardedAllowIps: '*', limitMaxRequests: 500, extraArgs: ['--http', 'h11'], workers: 2 }).bind(pod(500));
    expect(config.command!.slice(11)).toEqual(['--forwarded-allow-ips', '*', '--limit-max-requests', '500', '--http', 'h11']);
    expect(config.env).toEqual({ WEB_CONCURRENCY: '2' });
  });

  test('rejects a bad app reference', () => {
    expect(() => PythonServer.uvicorn({ app: 'main.py' }).bind(pod(500))).toThrow(/server.app "main.py" must be a Python app reference/);
  });
});

describe('PythonServer.command and imageDefault', () => {
  test('a command runs verbatim with the given graceful timeout', () => {
    const config = PythonServer.command(['hypercorn', 'a:b'], { gracefulTimeout: Duration.seconds(10) }).bind(pod(500));
    expect(config.kind).toBe(PythonServerKind.COMMAND);
    expect(config.command).toEqual(['hypercorn', 'a:b']);
    expect(config.env).toEqual({});
    expect(config.gracefulTimeout.toSeconds()).toBe(10);
  });

  test('the image default has no command', () => {
    const config = PythonServer.imageDefault().bind(pod(500));
    expect(config.kind).toBe(PythonServerKind.IMAGE_DEFAULT);
    expect(config.command).toBeUndefined();
    expect(config.gracefulTimeout.toSeconds()).toBe(30);
  });

  test('rejects an empty program name', () => {
    expect(() => PythonServer.command(['']).bind(pod(500))).toThrow(/server.command\[0\] "" must be a non-empty string/);
  });
});

describe('flags the library manages cannot be overridden silently', () => {
  test.each([
    ['gthred', /server.workerClass "gthred" must be one of gunicorn's worker classes \(sync, gthread, eventlet, gevent, tornado\) or the dotted import path of a worker class, e.g. "uvicorn_worker.UvicornWorker"/],
    ['uvicorn worker', /server.workerClass "uvicorn worker" must be one of/],
    ['', /server.workerClass "" must be one of/],
  ])('workerClass %j is refused', (workerClass, message) => {
    expect(() => PythonServer.gunicorn({ app: 'a:b', workerClass }).bind(pod(500))).toThrow(message);
  });

  test.each(['gthread', 'gevent', 'uvicorn_worker.UvicornWorker', 'uvicorn.workers.UvicornWorker'])('workerClass %s is accepted', (workerClass) => {
    expect(PythonServer.gunicorn({ app: 'a:b', workerClass }).bind(pod(500)).command).toEqual(expect.arrayContaining(['--worker-class', workerClass]));
  });

  test.each([
    [['--workers', '9'], '--workers 9', '--workers'], [['--workers=9'], '--workers=9', '--workers'], [['-w', '9'], '-w 9', '--workers'], [['-w9'], '-w9', '--workers'],
    [['-k', 'gevent'], '-k gevent', '--worker-class'], [['-b', '0.0.0.0:9000'], '-b', '--bind'], [['-c', '/etc/g.py'], '-c', '--config'],
    [['--timeout=120'], '--timeout=120', '--timeout'], [['--graceful-timeout', '90'], '--graceful-timeout', '--graceful-timeout'],
  ])('gunicorn extraArgs %j are refused, naming the prop to set', (extraArgs, _what, flag) => {
    expect(() => PythonServer.gunicorn({ app: 'a:b', extraArgs }).bind(pod(500)))
      .toThrow(new RegExp(`PythonService 'api': server.extraArgs\\[0\\] "${extraArgs[0]}" sets ${flag}, which the library manages; set `));
  });

  test('the memory cap cannot be bypassed through extraArgs', () => {
    expect(() => PythonServer.gunicorn({ app: 'a:b', extraArgs: ['--preload', '--workers', '9'] }).bind(pod(500)))
      .toThrow(/server.extraArgs\[1\] "--workers" sets --workers, which the library manages; set server.workers \(checked against the memory limit, and exported as WEB_CONCURRENCY\)/);
  });

  test.each([[['--workers', '4']], [['--port=9000']], [['--timeout-keep-alive', '5']], [['--host', '127.0.0.1']]])('uvicorn extraArgs %j are refused', (extraArgs) => {
    expect(() => PythonServer.uvicorn({ app: 'a:b', extraArgs }).bind(pod(500))).toThrow(/server.extraArgs\[0\] .* which the library manages/);
  });

  test('flags the library does not manage pass through', () => {
    expect(PythonServer.gunicorn({ app: 'a:b', extraArgs: ['--preload', '--log-level', 'debug'] }).bind(pod(500)).command!.slice(-3)).toEqual(['--preload', '--log-level', 'debug']);
    expect(PythonServer.uvicorn({ app: 'a:b', extraArgs: ['--http', 'h11', '--proxy-headers'] }).bind(pod(500)).command!.slice(-3)).toEqual(['--http', 'h11', '--proxy-headers']);
  });
});

describe('PythonServer.granian', () => {
  test.each([[100, 1], [1000, 1], [1001, 2], [2000, 2], [3500, 4]])('a %i m CPU request gives %i workers (one per core, rounded up)', (millis, workers) => {
    const config = PythonServer.granian({ app: 'shop.wsgi:application', interface: GranianInterface.WSGI }).bind(pod(millis));
    expect(config.workers).toBe(workers);
    expect(config.command).toEqual(expect.arrayContaining(['--workers', String(workers)]));
  });

  test('renders the full command line, with the interface asked for and the app last', () => {
    const config = PythonServer.granian({
      app: 'shop.wsgi:application', interface: GranianInterface.WSGI, blockingThreads: 4, backpressure: 32, gracefulTimeout: Duration.seconds(20), extraArgs: ['--log-level', 'warning'],
    }).bind(pod(2000));
    expect(config.command).toEqual([
      'granian', '--interface', 'wsgi', '--host', '0.0.0.0', '--port', '8080', '--workers', '2', '--workers-kill-timeout', '20',
      '--respawn-failed-workers', '--access-log', '--blocking-threads', '4', '--backpressure', '32', '--log-level', 'warning', 'shop.wsgi:application',
    ]);
    expect(config.kind).toBe(PythonServerKind.GRANIAN);
    expect(config.gracefulTimeout.toSeconds()).toBe(20);
    expect(config.needsWorkerTmpDir).toBe(false);
  });

  test('gets no WEB_CONCURRENCY, which granian does not read, and ignores the one set in env', () => {
    const config = PythonServer.granian({ app: 'main:app', interface: GranianInterface.ASGI }).bind(Object.assign(pod(3000), { workersFromEnv: 9 }));
    expect(config.env).toEqual({});
    expect(config.workers).toBe(3);
  });

  test('workers are capped by the memory limit, next to granian\'s main process', () => {
    const config = PythonServer.granian({ app: 'main:app', interface: GranianInterface.ASGI }).bind(Object.assign(pod(4000), { memoryLimitMebibytes: 320, memoryPerProcessMebibytes: 128 }));
    expect(config.workers).toBe(2);
    expect(() => PythonServer.granian({ app: 'main:app', interface: GranianInterface.ASGI, workers: 3 }).bind(Object.assign(pod(4000), { memoryLimitMebibytes: 320, memoryPerProcessMebibytes: 128 })))
      .toThrow("PythonService 'api': server.workers 3 does not fit in resources.memory (320Mi)");
  });

  test('serves its own metrics when asked for a metrics port', () => {
    const config = PythonServer.granian({ app: 'main:app', interface: GranianInterface.ASGI }).bind(Object.assign(pod(1000), { metricsPort: 9090 }));
    expect(config.command).toEqual(expect.arrayContaining(['--metrics', '--metrics-address', '0.0.0.0', '--metrics-port', '9090']));
    expect(config.metricsPort).toBe(9090);
  });

  test.each([
    [{ interface: 'http' as GranianInterface }, 'server.interface "http" must be one of wsgi, asgi, rsgi'],
    [{ interface: GranianInterface.ASGI, blockingThreads: 4 }, 'server.blockingThreads 4 applies to the WSGI interface only'],
    [{ interface: GranianInterface.WSGI, gracefulTimeout: Duration.hours(1) }, 'must be from 1 to 1800 seconds'],
    [{ interface: GranianInterface.WSGI, extraArgs: ['--workers', '8'] }, 'server.extraArgs[0] "--workers" sets --workers, which the library manages; set server.workers'],
    [{ interface: GranianInterface.WSGI, extraArgs: ['--metrics-port=9999'] }, 'sets --metrics-port, which the library manages; set monitoring.port'],
  ])('%j is refused, naming the prop and the rule', (options, message) => {
    expect(() => PythonServer.granian(Object.assign({ app: 'shop.wsgi:application' }, options)).bind(pod(1000))).toThrow(message);
  });
});

describe('a granian service', () => {
  function granianService(props: Partial<PythonServiceProps> = {}) {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'api', Object.assign({
      image: 'ghcr.io/acme/shop-api:1.4.2',
      server: PythonServer.granian({ app: 'shop.asgi:application', interface: GranianInterface.ASGI }),
      resources: { cpu: kplus.Cpu.millis(2000), memory: Size.mebibytes(512) },
    }, props));
    return synth(chart);
  }

  test('probes /healthz like the other presets, and the grace period adds up from the kill timeout', () => {
    const manifests = granianService();
    const container = appContainer(only(manifests, 'Deployment'));
    expect(container.readinessProbe.httpGet.path).toBe('/healthz');
    const spec = podTemplateOf(only(manifests, 'Deployment'))!.spec;
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(30);
    expect(envOf(container).WEB_CONCURRENCY).toBeUndefined();
    expect(container.command).toEqual(expect.arrayContaining(['--workers', '2']));
  });

  test('with monitoring, its exporter is the scrape endpoint, on a port of its own, without PROMETHEUS_MULTIPROC_DIR', () => {
    const manifests = granianService({ monitoring: { labels: { release: 'kube-prometheus-stack' } } });
    const container = appContainer(only(manifests, 'Deployment'));
    expect(container.command).toEqual(expect.arrayContaining(['--metrics-port', '9090']));
    expect(container.ports).toEqual(expect.arrayContaining([expect.objectContaining({ containerPort: 9090, name: 'metrics' })]));
    expect(envOf(container).PROMETHEUS_MULTIPROC_DIR).toBeUndefined();
    expect(only(manifests, 'ServiceMonitor').spec.endpoints[0].port).toBe('metrics');
    expectStrictlyValid(manifests);
    expect(() => granianService({ monitoring: { port: 8080 } })).toThrow("PythonService 'api': monitoring.port 8080 is the app port; granian serves its metrics on a listener of its own");
  });
});
