import { createHash } from 'crypto';
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ServiceNetworkPolicy } from './network-policy';
import type { PythonService } from './python-service';
import { PropValidator } from './validation';

/**
 * Database migrations for a `PythonService`, run as one Job per release.
 */
export interface PythonServiceMigrations {
  /**
   * The migration command, e.g. `['python', 'manage.py', 'migrate', '--noinput']` or
   * `['alembic', 'upgrade', 'head']`.
   */
  readonly command: string[];

  /**
   * How long a finished Job (and its pod's logs) is kept before Kubernetes deletes it.
   * @default Duration.days(1)
   */
  readonly ttlAfterFinished?: Duration;

  /**
   * How long the migration may run before it is stopped and marked failed.
   * @default Duration.minutes(30)
   */
  readonly activeDeadline?: Duration;

  /**
   * Annotate the Job as an Argo CD PreSync hook, so Argo CD runs it to completion before it
   * applies the new Deployment (`argocd.argoproj.io/hook: PreSync`,
   * `hook-delete-policy: BeforeHookCreation`).
   * @default false
   */
  readonly argoCdPreSyncHook?: boolean;

  /**
   * An Argo CD sync wave for the Job (`argocd.argoproj.io/sync-wave`), for ordering without hooks.
   * @default - no sync wave
   */
  readonly argoCdSyncWave?: number;
}

/** The component label of the migration Job. */
export const MIGRATION_COMPONENT = 'migration';

/** Checks the migration options and applies their defaults; throws naming the prop. */
export function validateMigrations(v: PropValidator, m: PythonServiceMigrations): { ttl: Duration; deadline: Duration } {
  if (!Array.isArray(m.command) || m.command.length === 0) {
    v.fail('migrations.command', m.command, 'must be a non-empty list of strings, e.g. ["python", "manage.py", "migrate", "--noinput"]');
  }
  m.command.forEach((arg, i) => {
    if (typeof arg !== 'string') v.fail(`migrations.command[${i}]`, arg, 'must be a string');
  });
  v.nonEmptyString('migrations.command[0]', m.command[0]);
  const ttl = m.ttlAfterFinished ?? Duration.days(1);
  v.positiveDuration('migrations.ttlAfterFinished', ttl, { allowZero: true });
  const deadline = m.activeDeadline ?? Duration.minutes(30);
  v.positiveDuration('migrations.activeDeadline', deadline);
  v.integerInRange('migrations.argoCdSyncWave', m.argoCdSyncWave, -1_000_000, 1_000_000);
  return { ttl, deadline };
}

/**
 * Props for `MigrationJob`.
 */
export interface MigrationJobProps extends PythonServiceMigrations {
  /**
   * The service whose image, environment, ServiceAccount and security settings the Job reuses.
   */
  readonly service: PythonService;
}

/**
 * A `batch/v1` Job that runs a service's migrations once per release.
 *
 * Why a Job and not init containers: init containers run in every replica, so N pods race to
 * migrate the same schema. Why the name carries a hash of image + command: a Job's pod template
 * is immutable, so each release needs a new Job; the same release re-applied keeps its name and
 * does not run again. It has `backoffLimit: 0` because a half-applied migration must be looked at,
 * not retried blindly.
 *
 * Ordering: with Argo CD use `argoCdPreSyncHook` (the Job completes before the Deployment
 * changes) or sync waves. With plain `kubectl apply` or Flux, the Job and the rollout start
 * together, so migrations must be backward compatible with the running release
 * (expand/contract), which is good practice for zero-downtime rollouts anyway.
 */
export class MigrationJob extends Construct {
  /** The Job. */
  public readonly job: kplus.Job;
  /** The Job's name: `<service>-migrate-<hash of image and command>`. */
  public readonly jobName: string;
  /** Isolates the migration pod: no ingress; egress as the service's. */
  public readonly networkPolicy: ServiceNetworkPolicy;

  constructor(scope: Construct, id: string, props: MigrationJobProps) {
    super(scope, id);
    const service = props.service;
    const identity = service.identity;
    const v = new PropValidator(`PythonService '${service.node.id}'`);
    const { ttl, deadline } = validateMigrations(v, props);

    const hash = createHash('sha256').update([service.image, ...props.command].join('\0')).digest('hex').slice(0, 8);
    this.jobName = identity.objectName(`migrate-${hash}`);
    const labels = identity.labelsOf(MIGRATION_COMPONENT);

    const annotations: { [key: string]: string } = {};
    if (props.argoCdPreSyncHook) {
      annotations['argocd.argoproj.io/hook'] = 'PreSync';
      annotations['argocd.argoproj.io/hook-delete-policy'] = 'BeforeHookCreation';
    }
    if (props.argoCdSyncWave !== undefined) annotations['argocd.argoproj.io/sync-wave'] = String(props.argoCdSyncWave);

    this.job = new kplus.Job(this, 'Job', {
      metadata: { name: this.jobName, labels, annotations: Object.keys(annotations).length ? annotations : undefined },
      podMetadata: { labels },
      backoffLimit: 0,
      ttlAfterFinished: ttl,
      activeDeadline: deadline,
      ...service.podTemplate.podProps(),
      restartPolicy: kplus.RestartPolicy.NEVER,
    });
    service.podTemplate.addContainer(this.job, { name: 'migrate', command: props.command, derivedEnv: service.serverConfig.env });

    this.networkPolicy = new ServiceNetworkPolicy(this, 'NetworkPolicy', {
      metadata: { name: identity.objectName('migrate-netpol'), labels },
      podSelector: identity.selectorLabels(MIGRATION_COMPONENT),
      errorLabel: `PythonService '${service.node.id}'`,
    });
  }
}
