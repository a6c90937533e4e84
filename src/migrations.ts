import { createHash } from 'crypto';
import { ApiObject, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { afterRender } from './after-render';
import { disruptionTolerantFailurePolicy, MIGRATION_COMPONENT, prerequisiteAnnotations, syncWaveAnnotation, validateMigrations } from './migration-options';
import { ServiceNetworkPolicy } from './network-policy';
import { kplus } from './plus';
import { setPodFailurePolicy } from './plus-gaps';
import { PythonServiceResources } from './python-pod-template';
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
   * GitOps tools (Argo CD without the hook, Flux) re-create a Job that is deleted while it is
   * still in the manifests, which runs the migrations again; so the Job is kept by default and
   * goes away when the next release replaces it (pruning). With `argoCdPreSyncHook` (hooks are
   * never re-created) it defaults to one day.
   * @default - kept; Duration.days(1) with argoCdPreSyncHook
   */
  readonly ttlAfterFinished?: Duration;

  /**
   * How long the migration may run, retries included, before it is stopped and marked failed.
   * @default Duration.minutes(30)
   */
  readonly activeDeadline?: Duration;

  /**
   * How many times a failed migration pod is retried (with exponential back-off from 10 s),
   * for failures that pass: the database not reachable yet, a NetworkPolicy still being
   * programmed. Django and Alembic exit 1 on any uncaught exception, so a retry cannot tell an
   * unreachable database from a broken migration: retries need migrations that are safe to run
   * again (each one in a transaction, or idempotent). Evicted or preempted pods never count.
   * @default 3
   */
  readonly backoffLimit?: number;

  /**
   * Exit codes of the migration command that mean "do not retry": the Job fails at once
   * (a `podFailurePolicy` `FailJob` rule). Whole numbers from 1 to 255.
   * @default - none: every failure is retried up to backoffLimit
   */
  readonly fatalExitCodes?: number[];

  /**
   * CPU, memory and ephemeral storage of the migration pod.
   * @default - the service's memory and ephemeral storage, and the smaller of its CPU request and 500m (a migration is one process)
   */
  readonly resources?: PythonServiceResources;

  /**
   * Annotate the Job as an Argo CD PreSync hook, so Argo CD runs it to completion before it
   * applies the new Deployment (`argocd.argoproj.io/hook: PreSync`,
   * `hook-delete-policy: BeforeHookCreation`). The Job's own ServiceAccount becomes a PreSync
   * hook of an earlier wave too, so it exists before the hook pod on a first install (Argo CD
   * creates every other object only in the later Sync phase; it creates Namespaces before
   * PreSync).
   * @default false
   */
  readonly argoCdPreSyncHook?: boolean;

  /**
   * An Argo CD sync wave for the Job (`argocd.argoproj.io/sync-wave`), for ordering without hooks:
   * Argo CD waits for the Job to complete before it applies later waves (the Deployment is in
   * wave 0). Setting an Argo CD option also gives the Namespace, the admission policies and the
   * Job's ServiceAccount earlier waves.
   * @default - no sync wave
   */
  readonly argoCdSyncWave?: number;
}

/**
 * Props for `MigrationJob`.
 */
export interface MigrationJobProps extends PythonServiceMigrations {
  /**
   * The service whose image, environment and security settings the Job reuses.
   */
  readonly service: PythonService;
}

/**
 * A `batch/v1` Job that runs a service's migrations once per release.
 *
 * Why a Job and not init containers: init containers run in every replica, so N pods race to
 * migrate the same schema.
 *
 * Why the name carries a hash of the rendered Job: a Job's pod template is immutable, so any
 * change to it (image, command, env, resources, labels, library version) must come as a new Job,
 * or `kubectl apply`, server-side apply, Argo CD and Flux all fail with `field is immutable`.
 * The same release applied again renders the same Job, keeps its name and does not run again.
 *
 * Failures: up to `backoffLimit` retries for failures that pass (database not reachable yet);
 * evictions and preemptions (`DisruptionTarget`) are not counted; `fatalExitCodes` fail at once.
 *
 * Ordering: with Argo CD use `argoCdPreSyncHook` (the Job completes before the Deployment
 * changes) or `argoCdSyncWave`. With plain `kubectl apply` or Flux, the Job and the rollout start
 * together, so migrations must be backward compatible with the running release
 * (expand/contract), which is good practice for zero-downtime rollouts anyway. Two releases in
 * quick succession can run two migration Jobs at once unless the pipeline waits for the first
 * (`kubectl wait --for=condition=complete job -l app.kubernetes.io/component=migration`).
 */
export class MigrationJob extends Construct {
  /** The Job. */
  public readonly job: kplus.Job;
  /** The ServiceAccount the migration pod runs as (no API token mounted). */
  public readonly serviceAccount: kplus.ServiceAccount;
  /** Isolates the migration pod: no ingress; egress as the service's. */
  public readonly networkPolicy: ServiceNetworkPolicy;
  /** The Argo CD sync wave of the Job, when an Argo CD option is set. */
  public readonly argoCdSyncWave?: number;

  private readonly baseName: string;

  constructor(scope: Construct, id: string, props: MigrationJobProps) {
    super(scope, id);
    const service = props.service;
    const identity = service.identity;
    const v = new PropValidator(`PythonService '${service.node.id}'`);
    const m = validateMigrations(v, props);
    this.argoCdSyncWave = m.argoCdWave;

    // The hash is known only once the Job is rendered; reserve its length now so the limit is checked up front.
    this.baseName = identity.objectName('migrate');
    identity.objectName(`migrate-${'0'.repeat(HASH_LENGTH)}`);
    const labels = identity.labelsOf(MIGRATION_COMPONENT);

    const hookAnnotations: { [key: string]: string } = props.argoCdPreSyncHook
      ? { 'argocd.argoproj.io/hook': 'PreSync', 'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation' }
      : {};
    const annotations = Object.assign({}, hookAnnotations, props.argoCdSyncWave !== undefined ? syncWaveAnnotation(props.argoCdSyncWave) : undefined);
    const saAnnotations = prerequisiteAnnotations(props);

    // Its own ServiceAccount: on an Argo CD first install the hook pod cannot wait for the
    // service's ServiceAccount, which Argo CD creates only in the Sync phase.
    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: this.baseName, labels, annotations: saAnnotations },
      automountToken: false,
    });
    const template = service.podTemplate;
    this.job = new kplus.Job(this, 'Job', {
      metadata: { name: this.baseName, labels, annotations: Object.keys(annotations).length ? annotations : undefined },
      podMetadata: { labels },
      backoffLimit: m.backoffLimit,
      ttlAfterFinished: m.ttl,
      activeDeadline: m.deadline,
      ...template.podProps(),
      serviceAccount: this.serviceAccount,
      restartPolicy: kplus.RestartPolicy.NEVER,
    });
    template.addContainer(this.job, {
      name: CONTAINER_NAME,
      command: props.command,
      resources: props.resources ?? {
        cpu: kplus.Cpu.millis(Math.min(template.cpuMillis, 500)),
        memory: template.resources.memory,
        ephemeralStorage: template.resources.ephemeralStorage,
      },
    });
    setPodFailurePolicy(this.job, disruptionTolerantFailurePolicy(CONTAINER_NAME, m.fatalExitCodes));
    this.nameByContent(ApiObject.of(this.job));

    this.networkPolicy = new ServiceNetworkPolicy(this, 'NetworkPolicy', {
      metadata: { name: identity.objectName('migrate-netpol'), labels },
      podSelector: identity.selectorLabels(MIGRATION_COMPONENT),
      errorLabel: `PythonService '${service.node.id}'`,
    });
  }

  /**
   * The Job's name: `<service>-migrate-<hash of the rendered Job>`. Known once the app is
   * complete (it is computed from the rendered Job, after every change made to it).
   */
  public get jobName(): string {
    return ApiObject.of(this.job).toJson().metadata.name;
  }

  private nameByContent(apiObject: ApiObject): void {
    afterRender(apiObject, (manifest) => {
      const { name: _name, ...metadata } = manifest.metadata;
      const hash = createHash('sha256').update(JSON.stringify(Object.assign({}, manifest, { metadata }))).digest('hex').slice(0, HASH_LENGTH);
      manifest.metadata.name = `${this.baseName}-${hash}`;
    });
  }
}

const HASH_LENGTH = 8;
const CONTAINER_NAME = 'migrate';
