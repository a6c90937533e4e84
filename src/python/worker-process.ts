import { Duration } from 'cdk8s';
import { PropValidator } from '../core/validation';
import { warnOnce } from '../core/warnings';

/**
 * Which program a `PythonWorker` runs.
 */
export enum WorkerProcessKind {
  /** A Celery worker. */
  CELERY = 'celery',
  /** Celery beat, the periodic task scheduler: exactly one per application. */
  CELERY_BEAT = 'celery-beat',
  /** An RQ worker. */
  RQ = 'rq',
  /** A Dramatiq worker. */
  DRAMATIQ = 'dramatiq',
  /** A command of the user's own. */
  COMMAND = 'command',
}

/**
 * Celery's execution pool (`--pool`).
 */
export enum CeleryPool {
  /** Child processes: CPU-bound work; the only pool where hard time limits work. */
  PREFORK = 'prefork',
  /** Threads in one process: I/O-bound work. */
  THREADS = 'threads',
  /** Green threads: many concurrent I/O-bound tasks (needs gevent in the image). */
  GEVENT = 'gevent',
  /** One task at a time in the main process. */
  SOLO = 'solo',
}

/**
 * Options for `WorkerProcess.celery()`.
 */
export interface CeleryWorkerOptions {
  /**
   * The Celery app, as Celery's `-A` takes it: a module (`shop`) or `module:attribute`
   * (`shop.celery:app`).
   */
  readonly app: string;

  /**
   * Queues to consume (`-Q`).
   * @default - Celery's default queue
   */
  readonly queues?: string[];

  /**
   * Concurrent tasks per pod (`--concurrency`).
   * @default - prefork: ceil(CPU request in cores), capped by memory (`memoryPerProcess` each); threads: 8; gevent: 100; solo: 1
   */
  readonly concurrency?: number;

  /**
   * The execution pool.
   * @default CeleryPool.PREFORK
   */
  readonly pool?: CeleryPool;

  /**
   * Celery's hard time limit (`--time-limit`): a task still running this long is killed with its
   * pool process. Only the prefork pool can kill a task. The pod's grace period is
   * `shutdown.taskTimeLimit` plus its margin, not this: keep this at or below
   * `shutdown.taskTimeLimit` if a task running at shutdown must not be cut off.
   * @default - none: tasks run as long as the app allows (its own `task_time_limit`, if any)
   */
  readonly timeLimit?: Duration;

  /**
   * Extra arguments appended to the command.
   * @default - none
   */
  readonly extraArgs?: string[];
}

/**
 * Options for `WorkerProcess.celeryBeat()`.
 */
export interface CeleryBeatOptions {
  /**
   * The Celery app (`-A`), as for the workers.
   */
  readonly app: string;

  /**
   * A scheduler class (`--scheduler`), e.g. `django_celery_beat.schedulers:DatabaseScheduler`.
   * @default - Celery's file-based scheduler, with its schedule file on a writable emptyDir
   */
  readonly scheduler?: string;
}

/**
 * Options for `WorkerProcess.rq()`.
 */
export interface RqWorkerOptions {
  /**
   * Queues to work on, in priority order.
   */
  readonly queues: string[];
}

/**
 * Options for `WorkerProcess.dramatiq()`.
 */
export interface DramatiqWorkerOptions {
  /**
   * The module that declares the broker and actors (e.g. `shop.tasks`).
   */
  readonly module: string;

  /**
   * Worker processes (`--processes`).
   * @default - ceil(CPU request in cores), capped by memory (`memoryPerProcess` each)
   */
  readonly processes?: number;

  /**
   * Threads per process (`--threads`).
   * @default 8 - Dramatiq's default
   */
  readonly threads?: number;
}

/** What a worker needs to know about its pod. */
export interface WorkerProcessBindOptions {
  /** The CPU request in millicores. */
  readonly cpuMillis: number;
  /** Processes that fit in the pod's memory (at least 1). */
  readonly processesThatFit: number;
  /** How long a running task may take; the process gets that long to finish after SIGTERM. */
  readonly taskTimeLimit: Duration;
  /** A writable directory for state files (celery beat's schedule). */
  readonly stateDir: string;
  /** Who is asking, for error messages. */
  readonly constructLabel: string;
}

/** The container settings a worker process produces. */
export interface WorkerProcessConfig {
  /** The worker kind. */
  readonly kind: WorkerProcessKind;
  /** The container command. */
  readonly command: string[];
  /** Processes the pod runs (for memory sizing and `WEB_CONCURRENCY`-like variables). */
  readonly processes: number;
  /** Whether exactly one replica may ever run (celery beat). */
  readonly singleton: boolean;
}

/**
 * A background process of a Python application: Celery, Celery beat, RQ, Dramatiq or a command.
 *
 * Every preset takes its concurrency from the pod's CPU request (never from the node's cores,
 * which `os.cpu_count()` reports in a container), bounded by memory, and stops the way that
 * finishes running tasks on SIGTERM: Celery's warm shutdown, RQ's and Dramatiq's graceful
 * shutdown. Broker and Redis URLs come from the environment (`env`, `envValues` from Secrets),
 * never from arguments in the manifest.
 */
export class WorkerProcess {
  /**
   * `celery -A <app> worker`, with no hard time limit unless `timeLimit` asks for one: the app's
   * own `task_time_limit` applies. SIGTERM starts Celery's warm shutdown; running tasks get
   * `shutdown.taskTimeLimit` to finish.
   */
  public static celery(options: CeleryWorkerOptions): WorkerProcess {
    return new WorkerProcess(WorkerProcessKind.CELERY, (v, ctx) => {
      validateCeleryApp(v, options.app);
      validateNames(v, 'process.queues', options.queues, false);
      v.integerInRange('process.concurrency', options.concurrency, 1, 10_000);
      const pool = options.pool ?? CeleryPool.PREFORK;
      if (!Object.values(CeleryPool).includes(pool)) v.fail('process.pool', pool, `must be one of ${Object.values(CeleryPool).join(', ')}`);
      validateArgs(v, 'process.extraArgs', options.extraArgs);
      // Only prefork runs tasks in child processes; the other pools are one process.
      const processes = pool === CeleryPool.PREFORK ? options.concurrency ?? Math.min(cores(ctx), ctx.processesThatFit) : 1;
      if (pool === CeleryPool.PREFORK && processes > ctx.processesThatFit) {
        v.fail('process.concurrency', processes,
          `does not fit in the pod's memory: ${ctx.processesThatFit} prefork processes do (memoryPerProcess each); raise resources.memory or lower memoryPerProcess`);
      }
      const defaultConcurrency = { [CeleryPool.PREFORK]: processes, [CeleryPool.THREADS]: 8, [CeleryPool.GEVENT]: 100, [CeleryPool.SOLO]: 1 };
      const concurrency = options.concurrency ?? defaultConcurrency[pool];
      const command = ['celery', '-A', options.app, 'worker', '--loglevel', 'INFO', '--concurrency', String(concurrency), '--pool', pool];
      if (options.queues) command.push('--queues', options.queues.join(','));
      if (options.timeLimit !== undefined) {
        v.positiveDuration('process.timeLimit', options.timeLimit);
        // Only the prefork pool can kill a task: its child process goes with it.
        if (pool !== CeleryPool.PREFORK) v.fail('process.timeLimit', options.timeLimit, `needs the prefork pool: the ${pool} pool cannot kill a running task; leave timeLimit unset or use CeleryPool.PREFORK`);
        command.push('--time-limit', String(options.timeLimit.toSeconds()));
        if (options.timeLimit.toSeconds() > ctx.taskTimeLimit.toSeconds()) {
          warnOnce(`celery-time-limit:${ctx.constructLabel}`, `${ctx.constructLabel}: process.timeLimit (${options.timeLimit.toSeconds()}s) is longer than shutdown.taskTimeLimit `
            + `(${ctx.taskTimeLimit.toSeconds()}s), which sizes the grace period: a task still running when the pod stops is killed before its time limit; raise shutdown.taskTimeLimit to keep it`);
        }
      }
      command.push(...(options.extraArgs ?? []));
      return { kind: WorkerProcessKind.CELERY, command, processes, singleton: false };
    });
  }

  /**
   * `celery -A <app> beat`: one replica, `Recreate`, its schedule file on a writable emptyDir.
   */
  public static celeryBeat(options: CeleryBeatOptions): WorkerProcess {
    return new WorkerProcess(WorkerProcessKind.CELERY_BEAT, (v, ctx) => {
      validateCeleryApp(v, options.app);
      if (options.scheduler !== undefined) v.nonEmptyString('process.scheduler', options.scheduler);
      const command = ['celery', '-A', options.app, 'beat', '--loglevel', 'INFO'];
      command.push(...(options.scheduler !== undefined ? ['--scheduler', options.scheduler] : ['--schedule', `${ctx.stateDir}/celerybeat-schedule`]));
      return { kind: WorkerProcessKind.CELERY_BEAT, command, processes: 1, singleton: true };
    });
  }

  /**
   * `rq worker <queues>`: one job at a time per process, so one process per pod; scale with
   * replicas or queue-length scaling (`rq worker-pool` would hide the pool's size from the
   * autoscaler). The Redis URL comes from `RQ_REDIS_URL` in the environment.
   */
  public static rq(options: RqWorkerOptions): WorkerProcess {
    return new WorkerProcess(WorkerProcessKind.RQ, (v) => {
      validateNames(v, 'process.queues', options.queues, true);
      return { kind: WorkerProcessKind.RQ, command: ['rq', 'worker', ...options.queues], processes: 1, singleton: false };
    });
  }

  /**
   * django-rq's worker, `python manage.py rqworker <queues>`: RQ with Django set up before any job
   * runs (settings, app registry, database connections), as jobs that use the ORM need; plain
   * `rq worker` does not do that. The queues and their Redis connections come from the app's
   * `RQ_QUEUES` setting (e.g. `{"default": {"URL": os.environ["RQ_REDIS_URL"]}}`). One process per
   * pod, and SIGTERM lets the running job finish, as with `rq()`.
   */
  public static djangoRq(options: RqWorkerOptions): WorkerProcess {
    return new WorkerProcess(WorkerProcessKind.RQ, (v) => {
      validateNames(v, 'process.queues', options.queues, true);
      return { kind: WorkerProcessKind.RQ, command: ['python', 'manage.py', 'rqworker', ...options.queues], processes: 1, singleton: false };
    });
  }

  /**
   * `dramatiq <module>`: processes from the CPU request, bounded by memory; running messages get
   * the task time limit to finish after SIGTERM (`--worker-shutdown-timeout`).
   */
  public static dramatiq(options: DramatiqWorkerOptions): WorkerProcess {
    return new WorkerProcess(WorkerProcessKind.DRAMATIQ, (v, ctx) => {
      if (typeof options.module !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*)?$/.test(options.module)) {
        v.fail('process.module', options.module, 'must be a Python module such as "shop.tasks" (optionally ":broker")');
      }
      v.integerInRange('process.processes', options.processes, 1, 1024);
      v.integerInRange('process.threads', options.threads, 1, 1024);
      const processes = options.processes ?? Math.min(cores(ctx), ctx.processesThatFit);
      if (processes > ctx.processesThatFit) {
        v.fail('process.processes', processes, `does not fit in the pod's memory: ${ctx.processesThatFit} processes do (memoryPerProcess each); raise resources.memory or lower memoryPerProcess`);
      }
      const command = ['dramatiq', options.module, '--processes', String(processes), '--threads', String(options.threads ?? 8),
        '--worker-shutdown-timeout', String(ctx.taskTimeLimit.toMilliseconds())];
      return { kind: WorkerProcessKind.DRAMATIQ, command, processes, singleton: false };
    });
  }

  /**
   * Any command, e.g. `['python', '-m', 'shop.consumer']`. It should finish its current work on
   * SIGTERM within the task time limit.
   * @param command the command and its arguments, run without a shell
   */
  public static command(command: string[]): WorkerProcess {
    return new WorkerProcess(WorkerProcessKind.COMMAND, (v) => {
      if (!Array.isArray(command) || command.length === 0) v.fail('process.command', command, 'must be a non-empty list of strings');
      validateArgs(v, 'process.command', command);
      v.nonEmptyString('process.command[0]', command[0]);
      return { kind: WorkerProcessKind.COMMAND, command: [...command], processes: 1, singleton: false };
    });
  }

  /**
   * @param kind the program
   * @param binder produces the command for one pod
   */
  private constructor(
    /** The program this process runs. */
    public readonly kind: WorkerProcessKind,
    private readonly binder: (v: PropValidator, ctx: WorkerProcessBindOptions) => WorkerProcessConfig,
  ) {}

  /**
   * The command and process count for one pod. Throws a descriptive error if an option is invalid.
   */
  public bind(options: WorkerProcessBindOptions): WorkerProcessConfig {
    return this.binder(new PropValidator(options.constructLabel), options);
  }
}

function cores(ctx: WorkerProcessBindOptions): number {
  return Math.max(1, Math.ceil(ctx.cpuMillis / 1000));
}

function validateCeleryApp(v: PropValidator, app: string): void {
  if (typeof app !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_.]*)?$/.test(app)) {
    v.fail('process.app', app, 'must be a Celery app as -A takes it: a module ("shop") or "module:attribute" ("shop.celery:app")');
  }
}

function validateNames(v: PropValidator, prop: string, names: string[] | undefined, required: boolean): void {
  if (names === undefined && !required) return;
  if (!Array.isArray(names) || names.length === 0) v.fail(prop, names, 'must list at least one queue');
  names.forEach((name, i) => {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.:-]+$/.test(name)) v.fail(`${prop}[${i}]`, name, 'must be a queue name of letters, digits, "_", ".", ":" or "-"');
  });
}

function validateArgs(v: PropValidator, prop: string, args: string[] | undefined): void {
  if (args === undefined) return;
  if (!Array.isArray(args)) v.fail(prop, args, 'must be a list of strings');
  args.forEach((arg, i) => {
    if (typeof arg !== 'string') v.fail(`${prop}[${i}]`, arg, 'must be a string');
  });
}
