import { Duration } from 'cdk8s';
import { PropValidator } from '../core/validation';

/**
 * Which program serves the Python app.
 */
export enum PythonServerKind {
  /** gunicorn, a pre-fork WSGI server (or ASGI through `uvicorn.workers.UvicornWorker`). */
  GUNICORN = 'gunicorn',
  /** uvicorn, an ASGI server. */
  UVICORN = 'uvicorn',
  /** granian, a Rust HTTP server for WSGI, ASGI and RSGI apps. */
  GRANIAN = 'granian',
  /** A command of the user's own. */
  COMMAND = 'command',
  /** The image's own ENTRYPOINT/CMD. */
  IMAGE_DEFAULT = 'image-default',
}

/**
 * Options for the gunicorn preset.
 */
export interface GunicornOptions {
  /**
   * The WSGI application, as gunicorn's `module:variable` (e.g. `shop.wsgi:application`), or a
   * call of an application factory, as gunicorn allows (e.g. `shop:create_app()`).
   */
  readonly app: string;

  /**
   * Number of worker processes (exported as `WEB_CONCURRENCY`, which gunicorn reads).
   * @default - 2 × ceil(CPU request in cores) + 1, gunicorn's own rule of thumb, taken from the pod's CPU request rather than the node's cores
   */
  readonly workers?: number;

  /**
   * Worker class (`--worker-class`), e.g. `gthread` or `uvicorn.workers.UvicornWorker`.
   * @default "sync" - gunicorn's default
   */
  readonly workerClass?: string;

  /**
   * Threads per worker (`--threads`); only meaningful for the `gthread` worker class.
   * @default - gunicorn's default (1)
   */
  readonly threads?: number;

  /**
   * How long workers get to finish in-flight requests after SIGTERM (`--graceful-timeout`).
   * Feeds the pod's terminationGracePeriodSeconds.
   * @default Duration.seconds(30) - gunicorn's default
   */
  readonly gracefulTimeout?: Duration;

  /**
   * Silent worker timeout (`--timeout`): a worker silent for longer is killed and restarted.
   * @default Duration.seconds(30) - gunicorn's default
   */
  readonly timeout?: Duration;

  /**
   * Keep-alive for idle connections (`--keep-alive`). The `sync` worker class ignores it (it
   * closes every connection after the response). For gthread and async workers it must outlast
   * the idle timeout of whatever proxy reuses connections to the pods, or the proxy sends a
   * request on a connection the server is closing and answers 502: 60 s for AWS load balancers,
   * ingress-nginx and most cloud load balancers (use the default), 600 s for Google Cloud's (use
   * 620 s), Envoy's 1 h upstream idle timeout (lower Envoy's instead).
   * @default Duration.seconds(65) - above the common 60 s proxy idle timeout; not passed to sync workers
   */
  readonly keepAlive?: Duration;

  /**
   * Addresses whose `X-Forwarded-Proto`/`X-Forwarded-For` scheme headers gunicorn trusts
   * (`--forwarded-allow-ips`). It decides only whether `wsgi.url_scheme` follows the proxy's
   * `X-Forwarded-Proto`; the client address stays the socket peer (use your framework's proxy
   * middleware, e.g. werkzeug's `ProxyFix` or Django's `SECURE_PROXY_SSL_HEADER`, for the rest).
   * `*` is accepted only when the NetworkPolicy admits nothing but the proxy (`security.ingressFrom`).
   * @default - gunicorn's default: 127.0.0.1 (or $FORWARDED_ALLOW_IPS)
   */
  readonly forwardedAllowIps?: string;

  /**
   * Restart a worker after this many requests (`--max-requests`), a cure for slow memory leaks.
   * @default - workers are not recycled
   */
  readonly maxRequests?: number;

  /**
   * Random jitter added to `maxRequests` (`--max-requests-jitter`) so workers do not restart together.
   * @default - maxRequests / 10 when maxRequests is set
   */
  readonly maxRequestsJitter?: number;

  /**
   * Extra command-line arguments appended after the generated ones.
   * @default - none
   */
  readonly extraArgs?: string[];
}

/**
 * Options for the uvicorn preset.
 */
export interface UvicornOptions {
  /**
   * The ASGI application, as `module:variable` (e.g. `shop.main:app`).
   */
  readonly app: string;

  /**
   * Worker processes (exported as `WEB_CONCURRENCY`, which uvicorn reads).
   * @default 1 - one process per pod; scale with replicas or an autoscaler instead
   */
  readonly workers?: number;

  /**
   * How long in-flight requests get after SIGTERM (`--timeout-graceful-shutdown`).
   * @default Duration.seconds(30) - the same budget as gunicorn's default
   */
  readonly gracefulTimeout?: Duration;

  /**
   * Keep-alive for idle connections (`--timeout-keep-alive`). It must outlast the idle timeout of
   * whatever proxy reuses connections to the pods, or the proxy answers sporadic 502s (see
   * `GunicornOptions.keepAlive` for common proxies).
   * @default Duration.seconds(65) - above the common 60 s proxy idle timeout (uvicorn's own default is 5 s)
   */
  readonly keepAlive?: Duration;

  /**
   * Trust `X-Forwarded-*` headers from these addresses (`--forwarded-allow-ips`). `*` is
   * accepted only when the NetworkPolicy admits nothing but the proxy (`security.ingressFrom`).
   * @default - uvicorn's default (127.0.0.1 or $FORWARDED_ALLOW_IPS)
   */
  readonly forwardedAllowIps?: string;

  /**
   * Restart the process after this many requests (`--limit-max-requests`).
   * @default - not recycled
   */
  readonly limitMaxRequests?: number;

  /**
   * Extra command-line arguments appended after the generated ones.
   * @default - none
   */
  readonly extraArgs?: string[];
}

/**
 * The interface a granian app speaks.
 */
export enum GranianInterface {
  /** WSGI (Django, Flask): each worker runs requests on its blocking threads. */
  WSGI = 'wsgi',
  /** ASGI (FastAPI, Starlette, Django's asgi.py). */
  ASGI = 'asgi',
  /** RSGI, granian's own asynchronous interface. */
  RSGI = 'rsgi',
}

/**
 * Options for the granian preset (granian 2.x).
 */
export interface GranianOptions {
  /**
   * The application, as `module:variable` (e.g. `shop.wsgi:application`).
   */
  readonly app: string;

  /**
   * The interface the app speaks (`--interface`). granian's own default is RSGI, which a
   * Django or FastAPI app does not speak, so it is asked for.
   */
  readonly interface: GranianInterface;

  /**
   * Worker processes (`--workers`; granian reads neither `WEB_CONCURRENCY` nor the pod's CPU).
   * @default - one per CPU core of the request (rounded up), as many as fit in the memory limit
   */
  readonly workers?: number;

  /**
   * Threads per worker that run a WSGI app's requests (`--blocking-threads`).
   * @default - granian's default
   */
  readonly blockingThreads?: number;

  /**
   * Requests one worker runs at once before the rest wait (`--backpressure`).
   * @default - granian's default (the backlog divided by the workers)
   */
  readonly backpressure?: number;

  /**
   * How long workers get to finish in-flight requests after SIGTERM before granian kills them
   * (`--workers-kill-timeout`, 1 to 1800 seconds). The pod's grace period adds up from it.
   * @default Duration.seconds(30) - the same budget as gunicorn's default
   */
  readonly gracefulTimeout?: Duration;

  /**
   * Extra command-line arguments appended after the generated ones.
   * @default - none
   */
  readonly extraArgs?: string[];
}

/**
 * Options for a custom server command.
 */
export interface CommandServerOptions {
  /**
   * Worker processes, exported as `WEB_CONCURRENCY` for servers that read it.
   * @default 1
   */
  readonly workers?: number;

  /**
   * How long the command needs to finish in-flight work after SIGTERM.
   * Feeds the pod's terminationGracePeriodSeconds.
   * @default Duration.seconds(30) - the common server default
   */
  readonly gracefulTimeout?: Duration;
}

/**
 * What a server needs to know about the pod it runs in.
 */
export interface PythonServerBindOptions {
  /** The container port the server must listen on. */
  readonly port: number;
  /** The CPU request in millicores. */
  readonly cpuMillis: number;
  /** A memory-backed directory for worker heartbeat files. */
  readonly workerTmpDir: string;
  /** Who is asking, for error messages (e.g. `PythonService 'api'`). */
  readonly constructLabel: string;
  /**
   * The container's memory limit in MiB; with `memoryPerProcess`, caps the worker count.
   * @default - the worker count is not capped by memory
   */
  readonly memoryLimitMebibytes?: number;
  /**
   * Memory one worker process needs, in MiB.
   * @default 128
   */
  readonly memoryPerProcessMebibytes?: number;
  /**
   * Memory-backed volumes the pod has whatever the worker count, in MiB (they count against the limit).
   * @default 0
   */
  readonly reservedMebibytes?: number;
  /**
   * A memory-backed volume needed only with more than one worker (prometheus_client's multiprocess directory), in MiB.
   * @default 0
   */
  readonly multiprocessMebibytes?: number;
  /**
   * A gunicorn configuration file to pass with `--config` (the library's multiprocess hooks).
   * @default - none: gunicorn reads ./gunicorn.conf.py if the image has one
   */
  readonly configFile?: string;
  /**
   * The worker count the user set through the environment (`WEB_CONCURRENCY`).
   * @default - none
   */
  readonly workersFromEnv?: number;
  /**
   * The port a server with a metrics exporter of its own (granian) serves it on, when the app is monitored.
   * @default - no exporter is started
   */
  readonly metricsPort?: number;
}

/**
 * The container settings a server produces for one pod.
 */
export interface PythonServerConfig {
  /** The server kind. */
  readonly kind: PythonServerKind;
  /**
   * The container command.
   * @default - the image's own ENTRYPOINT/CMD
   */
  readonly command?: string[];
  /** Environment variables the server needs (WEB_CONCURRENCY and friends). */
  readonly env: { [name: string]: string };
  /** Worker processes per pod. */
  readonly workers: number;
  /** Time the server needs after SIGTERM to drain in-flight requests. */
  readonly gracefulTimeout: Duration;
  /** Whether the server needs `workerTmpDir` mounted as a memory-backed volume. */
  readonly needsWorkerTmpDir: boolean;
  /**
   * The addresses whose forwarded headers the server trusts, as configured.
   * @default - the server's default
   */
  readonly forwardedAllowIps?: string;
  /**
   * How long the server lets a request run before it kills it (gunicorn's sync workers), which a
   * proxy in front should wait for at least.
   * @default - the server never kills a request for time
   */
  readonly requestTimeout?: Duration;
  /**
   * The port the server's own metrics exporter listens on (granian's, given `metricsPort`).
   * Such a server keeps `PROMETHEUS_MULTIPROC_DIR` unset: nothing would clean the directory.
   * @default - the server exports no metrics of its own (the app serves them)
   */
  readonly metricsPort?: number;
}

/** gunicorn's arbiter (master process) and headroom, in MiB. */
const ARBITER_MEBIBYTES = 32;
/** The memory-backed heartbeat directory of gunicorn workers, in MiB. */
export const WORKER_TMP_MEBIBYTES = 16;
const DEFAULT_MEMORY_PER_PROCESS = 128;
const DEFAULT_KEEP_ALIVE = Duration.seconds(65);

/**
 * The worker count: the user's (`server.workers` or `WEB_CONCURRENCY`), else the CPU rule, capped
 * by how many processes fit in the memory limit next to the memory-backed volumes and the master.
 */
function sizeWorkers(
  v: PropValidator, ctx: PythonServerBindOptions, explicit: number | undefined, cpuDefault: number, masterMebibytes: number,
): number {
  if (explicit !== undefined && ctx.workersFromEnv !== undefined) {
    v.fail('server.workers', explicit, `is also set by env.WEB_CONCURRENCY (${ctx.workersFromEnv}); set the worker count once`);
  }
  const chosen = explicit ?? ctx.workersFromEnv;
  if (ctx.memoryLimitMebibytes === undefined) return chosen ?? cpuDefault;
  const perProcess = ctx.memoryPerProcessMebibytes ?? DEFAULT_MEMORY_PER_PROCESS;
  const available = ctx.memoryLimitMebibytes - (ctx.reservedMebibytes ?? 0) - masterMebibytes;
  const fits = (n: number) => n * perProcess + (n > 1 ? ctx.multiprocessMebibytes ?? 0 : 0) <= available;
  const fixed = (ctx.reservedMebibytes ?? 0) + masterMebibytes;
  const breakdown = `${perProcess}Mi per process (memoryPerProcess), ${fixed}Mi for memory-backed volumes and the master process`;
  if (chosen !== undefined) {
    if (!fits(chosen)) {
      v.fail(explicit !== undefined ? 'server.workers' : 'env.WEB_CONCURRENCY', chosen,
        `does not fit in resources.memory (${ctx.memoryLimitMebibytes}Mi): ${breakdown}${chosen > 1 && ctx.multiprocessMebibytes ? `, ${ctx.multiprocessMebibytes}Mi for the metrics directory` : ''}; raise resources.memory or lower memoryPerProcess`);
    }
    return chosen;
  }
  if (!fits(1)) {
    v.fail('resources.memory', `${ctx.memoryLimitMebibytes}Mi`, `leaves no room for one worker process: ${breakdown}; raise resources.memory or lower memoryPerProcess`);
  }
  let workers = 1;
  while (workers < cpuDefault && fits(workers + 1)) workers++;
  return workers;
}

const DEFAULT_GRACEFUL_TIMEOUT = Duration.seconds(30);

/**
 * How the container starts the Python app: gunicorn, uvicorn, a custom command, or the image's own.
 *
 * Every preset derives its worker count from the pod's CPU request (not the node's cores, which is
 * what `os.cpu_count()` reports inside a container), logs to stdout/stderr, and reports its graceful
 * shutdown time so the pod's termination grace period can be made to add up.
 */
export abstract class PythonServer {
  /**
   * gunicorn (WSGI): `WEB_CONCURRENCY` = 2 × ceil(CPU cores) + 1 unless `workers` is given,
   * worker heartbeat files on a memory-backed volume, access and error logs to stdout/stderr.
   */
  public static gunicorn(options: GunicornOptions): PythonServer {
    return new GunicornServer(options);
  }

  /**
   * uvicorn (ASGI): one process per pod by default; scale with replicas.
   */
  public static uvicorn(options: UvicornOptions): PythonServer {
    return new UvicornServer(options);
  }

  /**
   * granian (WSGI, ASGI or RSGI): one worker process per CPU core of the request, as many as fit
   * in the memory limit; a kill timeout that the grace period adds up from; access log to
   * stdout; workers that die are respawned. With monitoring, its own Prometheus exporter on a
   * port of its own.
   */
  public static granian(options: GranianOptions): PythonServer {
    return new GranianServer(options);
  }

  /**
   * Any command, e.g. `['python', '-m', 'myapp']` or `['hypercorn', 'app:app', '--bind', '0.0.0.0:8080']`.
   * The command must listen on the service port itself.
   * @param command the command and its arguments, run without a shell
   * @param options the worker count and graceful timeout the command uses
   */
  public static command(command: string[], options: CommandServerOptions = {}): PythonServer {
    return new CommandServer(command, options);
  }

  /**
   * Run the image's own ENTRYPOINT/CMD (what `PythonService` does when `server` is absent).
   */
  public static imageDefault(options: CommandServerOptions = {}): PythonServer {
    return new CommandServer(undefined, options);
  }

  /** Which server this is. */
  public abstract readonly kind: PythonServerKind;

  /**
   * Produces the container command, environment and timings for one pod.
   * Throws a descriptive error if an option is invalid.
   */
  public abstract bind(options: PythonServerBindOptions): PythonServerConfig;
}

class GunicornServer extends PythonServer {
  public readonly kind = PythonServerKind.GUNICORN;
  constructor(private readonly options: GunicornOptions) {
    super();
  }

  public bind(ctx: PythonServerBindOptions): PythonServerConfig {
    const o = this.options;
    const v = new PropValidator(ctx.constructLabel);
    validateAppReference(v, 'server.app', o.app);
    v.integerInRange('server.workers', o.workers, 1, 1024);
    v.integerInRange('server.threads', o.threads, 1, 10_000);
    v.integerInRange('server.maxRequests', o.maxRequests, 1, Number.MAX_SAFE_INTEGER);
    v.integerInRange('server.maxRequestsJitter', o.maxRequestsJitter, 0, Number.MAX_SAFE_INTEGER);
    if (o.maxRequestsJitter !== undefined && o.maxRequests === undefined) {
      v.fail('server.maxRequestsJitter', o.maxRequestsJitter, 'needs server.maxRequests');
    }
    v.positiveDuration('server.gracefulTimeout', o.gracefulTimeout);
    v.positiveDuration('server.timeout', o.timeout);
    v.positiveDuration('server.keepAlive', o.keepAlive);
    validateArgs(v, 'server.extraArgs', o.extraArgs, GUNICORN_MANAGED_FLAGS);
    if (o.workerClass !== undefined) validateWorkerClass(v, o.workerClass);
    if (o.forwardedAllowIps !== undefined) v.nonEmptyString('server.forwardedAllowIps', o.forwardedAllowIps);
    const workerClass = o.workerClass ?? 'sync';
    if (workerClass === 'sync' && o.keepAlive !== undefined) {
      v.fail('server.keepAlive', o.keepAlive, 'has no effect with the sync worker class, which closes every connection after the response; use gthread or an async worker class for keep-alive');
    }

    const graceful = o.gracefulTimeout ?? DEFAULT_GRACEFUL_TIMEOUT;
    const workers = sizeWorkers(v, Object.assign({}, ctx, { reservedMebibytes: (ctx.reservedMebibytes ?? 0) + WORKER_TMP_MEBIBYTES }), o.workers,
      2 * Math.ceil(ctx.cpuMillis / 1000) + 1, ARBITER_MEBIBYTES);
    const command = [
      'gunicorn', o.app,
      '--bind', `0.0.0.0:${ctx.port}`,
      '--worker-class', workerClass,
      '--worker-tmp-dir', ctx.workerTmpDir,
      '--graceful-timeout', String(graceful.toSeconds()),
      '--timeout', String((o.timeout ?? Duration.seconds(30)).toSeconds()),
      ...(workerClass === 'sync' ? [] : ['--keep-alive', String((o.keepAlive ?? DEFAULT_KEEP_ALIVE).toSeconds())]),
      '--access-logfile', '-',
      '--error-logfile', '-',
    ];
    if (o.forwardedAllowIps !== undefined) command.push('--forwarded-allow-ips', o.forwardedAllowIps);
    if (ctx.configFile !== undefined) command.push('--config', ctx.configFile);
    if (o.threads !== undefined) command.push('--threads', String(o.threads));
    if (o.maxRequests !== undefined) {
      command.push('--max-requests', String(o.maxRequests));
      command.push('--max-requests-jitter', String(o.maxRequestsJitter ?? Math.floor(o.maxRequests / 10)));
    }
    command.push(...(o.extraArgs ?? []));
    return {
      kind: this.kind,
      command,
      // gunicorn 25.2+ opens its control socket in $XDG_RUNTIME_DIR when it exists (else in
      // $HOME or, in 25.1, the working directory: read-only here). `--no-control-socket` would
      // make gunicorn before 25.1 exit on an unknown flag.
      env: { WEB_CONCURRENCY: String(workers), XDG_RUNTIME_DIR: ctx.workerTmpDir },
      workers,
      gracefulTimeout: graceful,
      needsWorkerTmpDir: true,
      forwardedAllowIps: o.forwardedAllowIps,
      // Only sync workers are killed when a request outlasts --timeout; for others it is a heartbeat.
      requestTimeout: workerClass === 'sync' ? o.timeout ?? Duration.seconds(30) : undefined,
    };
  }
}

class UvicornServer extends PythonServer {
  public readonly kind = PythonServerKind.UVICORN;
  constructor(private readonly options: UvicornOptions) {
    super();
  }

  public bind(ctx: PythonServerBindOptions): PythonServerConfig {
    const o = this.options;
    const v = new PropValidator(ctx.constructLabel);
    validateAppReference(v, 'server.app', o.app, 'uvicorn');
    v.integerInRange('server.workers', o.workers, 1, 1024);
    v.integerInRange('server.limitMaxRequests', o.limitMaxRequests, 1, Number.MAX_SAFE_INTEGER);
    v.positiveDuration('server.gracefulTimeout', o.gracefulTimeout);
    v.positiveDuration('server.keepAlive', o.keepAlive);
    if (o.forwardedAllowIps !== undefined) v.nonEmptyString('server.forwardedAllowIps', o.forwardedAllowIps);
    validateArgs(v, 'server.extraArgs', o.extraArgs, UVICORN_MANAGED_FLAGS);

    const graceful = o.gracefulTimeout ?? DEFAULT_GRACEFUL_TIMEOUT;
    // More than one uvicorn process adds a supervisor process.
    const workers = sizeWorkers(v, ctx, o.workers, 1, (o.workers ?? ctx.workersFromEnv ?? 1) > 1 ? ARBITER_MEBIBYTES : 0);
    const command = [
      'uvicorn', o.app,
      '--host', '0.0.0.0',
      '--port', String(ctx.port),
      '--timeout-graceful-shutdown', String(graceful.toSeconds()),
      '--timeout-keep-alive', String((o.keepAlive ?? DEFAULT_KEEP_ALIVE).toSeconds()),
      '--no-use-colors',
    ];
    if (o.forwardedAllowIps !== undefined) command.push('--forwarded-allow-ips', o.forwardedAllowIps);
    if (ctx.configFile !== undefined) command.push('--config', ctx.configFile);
    if (o.limitMaxRequests !== undefined) command.push('--limit-max-requests', String(o.limitMaxRequests));
    command.push(...(o.extraArgs ?? []));
    return {
      kind: this.kind,
      command,
      env: { WEB_CONCURRENCY: String(workers) },
      workers,
      gracefulTimeout: graceful,
      needsWorkerTmpDir: false,
      forwardedAllowIps: o.forwardedAllowIps,
    };
  }
}

class GranianServer extends PythonServer {
  public readonly kind = PythonServerKind.GRANIAN;
  constructor(private readonly options: GranianOptions) {
    super();
  }

  public bind(ctx: PythonServerBindOptions): PythonServerConfig {
    const o = this.options;
    const v = new PropValidator(ctx.constructLabel);
    validateAppReference(v, 'server.app', o.app, 'granian');
    if (!Object.values(GranianInterface).includes(o.interface)) v.fail('server.interface', o.interface, `must be one of ${Object.values(GranianInterface).join(', ')}`);
    v.integerInRange('server.workers', o.workers, 1, 1024);
    v.integerInRange('server.blockingThreads', o.blockingThreads, 1, 10_000);
    v.integerInRange('server.backpressure', o.backpressure, 1, 1_000_000);
    if (o.blockingThreads !== undefined && o.interface !== GranianInterface.WSGI) {
      v.fail('server.blockingThreads', o.blockingThreads, `applies to the WSGI interface only; an ${o.interface.toUpperCase()} app runs its requests on the event loop`);
    }
    v.positiveDuration('server.gracefulTimeout', o.gracefulTimeout);
    const graceful = o.gracefulTimeout ?? DEFAULT_GRACEFUL_TIMEOUT;
    if (graceful.toSeconds() < 1 || graceful.toSeconds() > 1800) v.fail('server.gracefulTimeout', graceful, 'must be from 1 to 1800 seconds (granian\'s --workers-kill-timeout range)');
    validateArgs(v, 'server.extraArgs', o.extraArgs, GRANIAN_MANAGED_FLAGS);

    // granian's main process supervises the workers; it reads neither WEB_CONCURRENCY nor the env's.
    const perCore = Math.max(1, Math.ceil(ctx.cpuMillis / 1000));
    const workers = sizeWorkers(v, Object.assign({}, ctx, { workersFromEnv: undefined }), o.workers, perCore, ARBITER_MEBIBYTES);
    const command = [
      'granian',
      '--interface', o.interface,
      '--host', '0.0.0.0',
      '--port', String(ctx.port),
      '--workers', String(workers),
      '--workers-kill-timeout', String(graceful.toSeconds()),
      '--respawn-failed-workers',
      '--access-log',
    ];
    if (o.blockingThreads !== undefined) command.push('--blocking-threads', String(o.blockingThreads));
    if (o.backpressure !== undefined) command.push('--backpressure', String(o.backpressure));
    if (ctx.metricsPort !== undefined) command.push('--metrics', '--metrics-address', '0.0.0.0', '--metrics-port', String(ctx.metricsPort));
    command.push(...(o.extraArgs ?? []), o.app);
    return {
      kind: this.kind,
      command,
      env: {},
      workers,
      gracefulTimeout: graceful,
      needsWorkerTmpDir: false,
      metricsPort: ctx.metricsPort,
    };
  }
}

class CommandServer extends PythonServer {
  public readonly kind: PythonServerKind;
  constructor(private readonly command: string[] | undefined, private readonly options: CommandServerOptions) {
    super();
    this.kind = command === undefined ? PythonServerKind.IMAGE_DEFAULT : PythonServerKind.COMMAND;
  }

  public bind(ctx: PythonServerBindOptions): PythonServerConfig {
    const v = new PropValidator(ctx.constructLabel);
    if (this.command !== undefined) {
      if (!Array.isArray(this.command) || this.command.length === 0) {
        v.fail('server.command', this.command, 'must be a non-empty list of strings');
      }
      validateArgs(v, 'server.command', this.command);
      v.nonEmptyString('server.command[0]', this.command[0]);
    }
    v.integerInRange('server.workers', this.options.workers, 1, 1024);
    v.positiveDuration('server.gracefulTimeout', this.options.gracefulTimeout);
    const workers = sizeWorkers(v, ctx, this.options.workers, 1, 0);
    return {
      kind: this.kind,
      command: this.command ? [...this.command] : undefined,
      env: this.options.workers !== undefined ? { WEB_CONCURRENCY: String(workers) } : {},
      workers,
      gracefulTimeout: this.options.gracefulTimeout ?? DEFAULT_GRACEFUL_TIMEOUT,
      needsWorkerTmpDir: false,
    };
  }
}

const APP_REFERENCE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_.]*(\(.*\))?$/;

/** `server` names the server when it imports the variable and never calls it (uvicorn, granian): they take `--factory` instead. */
function validateAppReference(v: PropValidator, prop: string, app: string, server?: string): void {
  if (typeof app !== 'string' || !APP_REFERENCE.test(app)) {
    v.fail(prop, app, 'must be a Python app reference "module:variable", e.g. "shop.wsgi:application"');
  }
  if (server && app.endsWith(')')) {
    const factory = app.replace(/\(.*\)$/, '');
    v.fail(prop, app, `must be "module:variable": ${server} imports it and does not call it; for an application factory give "${factory}" and extraArgs ["--factory"]`);
  }
}

/** A flag the library sets on the server's command line, and what to set instead. */
interface ManagedFlag {
  readonly long: string;
  readonly short?: string;
  readonly instead: string;
}

const WORKERS_INSTEAD = 'server.workers (checked against the memory limit, and exported as WEB_CONCURRENCY)';
const GUNICORN_MANAGED_FLAGS: ManagedFlag[] = [
  { long: '--workers', short: '-w', instead: WORKERS_INSTEAD },
  { long: '--worker-class', short: '-k', instead: 'server.workerClass' },
  { long: '--bind', short: '-b', instead: 'port (the probes, Service and NetworkPolicy follow it)' },
  { long: '--config', short: '-c', instead: 'nothing: the library mounts its own configuration (metrics and tracing hooks)' },
  { long: '--worker-tmp-dir', instead: 'nothing: the heartbeat directory is the memory-backed volume the library mounts' },
  { long: '--graceful-timeout', instead: 'server.gracefulTimeout (the grace period adds up from it)' },
  { long: '--timeout', short: '-t', instead: 'server.timeout' },
  { long: '--keep-alive', instead: 'server.keepAlive' },
  { long: '--threads', instead: 'server.threads' },
  { long: '--max-requests', instead: 'server.maxRequests' },
  { long: '--max-requests-jitter', instead: 'server.maxRequestsJitter' },
  { long: '--forwarded-allow-ips', instead: 'server.forwardedAllowIps (checked against the NetworkPolicy)' },
];
const UVICORN_MANAGED_FLAGS: ManagedFlag[] = [
  { long: '--workers', instead: WORKERS_INSTEAD },
  { long: '--host', instead: 'nothing: the server listens on every address of the pod' },
  { long: '--port', instead: 'port (the probes, Service and NetworkPolicy follow it)' },
  { long: '--uds', instead: 'port' },
  { long: '--fd', instead: 'port' },
  { long: '--timeout-graceful-shutdown', instead: 'server.gracefulTimeout (the grace period adds up from it)' },
  { long: '--timeout-keep-alive', instead: 'server.keepAlive' },
  { long: '--forwarded-allow-ips', instead: 'server.forwardedAllowIps (checked against the NetworkPolicy)' },
  { long: '--limit-max-requests', instead: 'server.limitMaxRequests' },
];

const GRANIAN_MANAGED_FLAGS: ManagedFlag[] = [
  { long: '--interface', instead: 'server.interface' },
  { long: '--workers', instead: 'server.workers (checked against the memory limit)' },
  { long: '--host', instead: 'nothing: the server listens on every address of the pod' },
  { long: '--port', instead: 'port (the probes, Service and NetworkPolicy follow it)' },
  { long: '--uds', instead: 'port' },
  { long: '--workers-kill-timeout', instead: 'server.gracefulTimeout (the grace period adds up from it)' },
  { long: '--blocking-threads', instead: 'server.blockingThreads' },
  { long: '--backpressure', instead: 'server.backpressure' },
  { long: '--metrics', instead: 'monitoring (the exporter, its port, the ServiceMonitor and the NetworkPolicy follow it)' },
  { long: '--metrics-port', instead: 'monitoring.port' },
  { long: '--metrics-address', instead: 'nothing: the exporter listens on every address of the pod, open to the scraper only' },
  { long: '--reload', instead: 'nothing: reloading on file changes is for development' },
];

/** The managed flag an argument sets: `--workers 9`, `--workers=9`, `-w 9` and `-w9` alike. */
function managedFlagOf(arg: string, flags: ManagedFlag[]): ManagedFlag | undefined {
  return flags.find((f) => arg === f.long || arg.startsWith(`${f.long}=`)
    || (f.short !== undefined && (arg === f.short || (arg.startsWith(f.short) && !arg.startsWith('--')))));
}

function validateArgs(v: PropValidator, prop: string, args: string[] | undefined, managed: ManagedFlag[] = []): void {
  if (args === undefined) return;
  if (!Array.isArray(args)) v.fail(prop, args, 'must be a list of strings');
  args.forEach((arg, i) => {
    if (typeof arg !== 'string') v.fail(`${prop}[${i}]`, arg, 'must be a string');
    const flag = managedFlagOf(arg, managed);
    // A second occurrence would silently win over the library's value (and its checks).
    if (flag) v.fail(`${prop}[${i}]`, arg, `sets ${flag.long}, which the library manages; set ${flag.instead}`);
  });
}

/** gunicorn's built-in worker classes (gunicorn.workers.SUPPORTED_WORKERS). */
const GUNICORN_WORKER_CLASSES = ['sync', 'gthread', 'eventlet', 'gevent', 'tornado'];
const DOTTED_CLASS = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/;

function validateWorkerClass(v: PropValidator, workerClass: string): void {
  if (typeof workerClass === 'string' && (GUNICORN_WORKER_CLASSES.includes(workerClass) || DOTTED_CLASS.test(workerClass))) return;
  v.fail('server.workerClass', workerClass,
    `must be one of gunicorn's worker classes (${GUNICORN_WORKER_CLASSES.join(', ')}) or the dotted import path of a worker class, e.g. "uvicorn_worker.UvicornWorker"`);
}
