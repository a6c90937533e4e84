import { Cron, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { disruptionTolerantFailurePolicy } from './migration-options';
import { ServiceNetworkPolicy } from '../core/network-policy';
import { kplus } from '../core/plus';
import { setCronSchedule, setPodFailurePolicy } from '../core/plus-gaps';
import type { IPythonApplication } from '../core/python-application';
import { componentContext, PythonComponent, PythonComponentOptions, StandalonePythonOptions } from '../core/python-component';
import { WorkloadBase } from '../core/python-workload';
import { validateCron } from '../core/schedules';

/**
 * A scheduled job of a `PythonService` (`service.addCronJob(id, options)`).
 */
export interface PythonCronJobOptions extends PythonComponentOptions {
  /**
   * When to run: a 5-field cron expression (`30 6 * * 1`) or one of the macros Kubernetes
   * accepts (`@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`).
   * Put the time zone in `timeZone`, never `TZ=` in the schedule.
   */
  readonly schedule: string;

  /**
   * The command, e.g. `['python', 'manage.py', 'clearsessions']`.
   */
  readonly command: string[];

  /**
   * The IANA time zone the schedule is read in (e.g. `Europe/Berlin`).
   * @default - the kube-controller-manager's (usually UTC)
   */
  readonly timeZone?: string;

  /**
   * What happens when a run is due while the last one is still running.
   * @default kplus.ConcurrencyPolicy.FORBID - a scheduled Python job rarely tolerates running twice at once
   */
  readonly concurrencyPolicy?: kplus.ConcurrencyPolicy;

  /**
   * How late a missed run may still start (the controller checks every 10 s, so at least 10 s).
   * @default Duration.minutes(5)
   */
  readonly startingDeadline?: Duration;

  /**
   * How long one run may take before it is stopped.
   * @default Duration.hours(1)
   */
  readonly activeDeadline?: Duration;

  /**
   * Retries of a failed run (evictions and preemptions do not count).
   * @default 2
   */
  readonly backoffLimit?: number;

  /**
   * Finished successful Jobs kept.
   * @default 3
   */
  readonly successfulJobsHistory?: number;

  /**
   * Finished failed Jobs kept (their pods' logs are the place to look).
   * @default 3
   */
  readonly failedJobsHistory?: number;

  /**
   * Create the CronJob suspended.
   * @default false
   */
  readonly suspend?: boolean;
}

/**
 * Props for `PythonCronJob`.
 */
export interface PythonCronJobProps extends PythonCronJobOptions, StandalonePythonOptions {
  /**
   * The service the job belongs to (its image, environment, ServiceAccount, security settings).
   * `service.addCronJob()` sets it.
   * @default - a standalone job: `image` is required
   */
  readonly service?: IPythonApplication;
}

/** The longest CronJob name: the controller appends an 11-character suffix to each Job's name. */
const CRONJOB_NAME_LIMIT = 52;
const MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/**
 * A `batch/v1` CronJob named `<service>-<id>` whose pods run the service's pod template.
 */
export class PythonCronJob extends PythonComponent {
  /** The CronJob. */
  public readonly cronJob: kplus.CronJob;
  /** The job container. */
  public readonly container: kplus.Container;
  /** The CronJob's name. */
  public readonly name: string;
  /** The NetworkPolicy: no ingress; egress as the application's. */
  public readonly networkPolicy: ServiceNetworkPolicy;


  constructor(scope: Construct, id: string, props: PythonCronJobProps) {
    super(scope, id);
    const ctx = componentContext(this, id, 'PythonCronJob', Object.assign({}, props, { maxNameLength: CRONJOB_NAME_LIMIT }));
    const v = ctx.validator;
    const schedule = typeof props.schedule === 'string' ? props.schedule.trim().split(/\s+/).join(' ') : props.schedule;
    if (typeof schedule === 'string' && /^(CRON_)?TZ=/.test(schedule)) {
      v.fail('schedule', schedule, 'must not set the time zone inside the schedule (TZ= and CRON_TZ= are rejected by the API server); use timeZone');
    }
    if (!MACROS.includes(schedule)) validateCron(v, 'schedule', schedule);
    if (props.timeZone !== undefined && !isTimeZone(props.timeZone)) {
      v.fail('timeZone', props.timeZone, 'must be an IANA time zone name such as "Europe/Berlin" or "UTC"');
    }
    if (!Array.isArray(props.command) || props.command.length === 0 || props.command.some((a) => typeof a !== 'string') || props.command[0].trim() === '') {
      v.fail('command', props.command, 'must be a non-empty command, e.g. ["python", "manage.py", "clearsessions"]');
    }
    if (props.concurrencyPolicy !== undefined && !Object.values(kplus.ConcurrencyPolicy).includes(props.concurrencyPolicy)) {
      v.fail('concurrencyPolicy', props.concurrencyPolicy, `must be one of ${Object.values(kplus.ConcurrencyPolicy).join(', ')}`);
    }
    const startingDeadline = props.startingDeadline ?? Duration.minutes(5);
    v.positiveDuration('startingDeadline', startingDeadline);
    if (startingDeadline.toSeconds() < 10) v.fail('startingDeadline', startingDeadline, 'must be at least 10 seconds: the CronJob controller checks every 10 seconds');
    const activeDeadline = props.activeDeadline ?? Duration.hours(1);
    v.positiveDuration('activeDeadline', activeDeadline);
    const backoffLimit = props.backoffLimit ?? 2;
    v.integerInRange('backoffLimit', backoffLimit, 0, 100);
    v.integerInRange('successfulJobsHistory', props.successfulJobsHistory, 0, 100);
    v.integerInRange('failedJobsHistory', props.failedJobsHistory, 0, 100);

    this.name = ctx.name;
    const labels = ctx.identity.labelsOf(ctx.component);
    this.cronJob = new kplus.CronJob(this, 'CronJob', {
      metadata: { name: ctx.name, labels },
      podMetadata: { labels },
      // Replaced by the schedule as written (macros included) when rendered.
      schedule: Cron.daily(),
      timeZone: props.timeZone,
      concurrencyPolicy: props.concurrencyPolicy ?? kplus.ConcurrencyPolicy.FORBID,
      startingDeadline,
      suspend: props.suspend ?? false,
      successfulJobsRetained: props.successfulJobsHistory ?? 3,
      failedJobsRetained: props.failedJobsHistory ?? 3,
      activeDeadline,
      backoffLimit,
      ...ctx.template.podProps(),
      restartPolicy: kplus.RestartPolicy.NEVER,
      select: false,
    });
    this.container = ctx.template.addContainer(this.cronJob, { name: 'job', command: props.command });
    setPodFailurePolicy(this.cronJob, disruptionTolerantFailurePolicy('job', []));
    setCronSchedule(this.cronJob, schedule);

    const base = new WorkloadBase(this, ctx);
    this.networkPolicy = base.build({ workload: this.cronJob, containers: [this.container], egressTo: props.egressTo }).networkPolicy;
    this._bindComponent(ctx, this.cronJob);
  }
}

function isTimeZone(zone: string): boolean {
  if (typeof zone !== 'string' || zone.length === 0) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
