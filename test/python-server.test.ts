import { Duration } from 'cdk8s';
import { PythonServer, PythonServerBindOptions, PythonServerKind } from '../src';

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
