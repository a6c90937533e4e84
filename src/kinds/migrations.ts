import { createHash } from 'crypto';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { disruptionTolerantFailurePolicy, MIGRATION_COMPONENT, prerequisiteAnnotations, PythonServiceMigrations, syncWaveAnnotation, validateMigrations } from './migration-options';
import { afterRender } from '../core/after-render';
import { ServiceNetworkPolicy } from '../core/network-policy';
import { kplus } from '../core/plus';
import { setPodFailurePolicy } from '../core/plus-gaps';
import { applicationContextOf, IPythonApplication } from '../core/python-application';
import { applicationWorkloadContext, WorkloadBase } from '../core/python-workload';
import { PropValidator } from '../core/validation';


/**
 * Props for `MigrationJob`.
 */
export interface MigrationJobProps extends PythonServiceMigrations {
  /**
   * The service whose image, environment and security settings the Job reuses.
   */
  readonly service: IPythonApplication;
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
    const shared = applicationContextOf(service, `MigrationJob '${id}'`);
    const label = shared.errorLabel;
    const v = new PropValidator(label);
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
    const resources = props.resources ?? {
      cpu: kplus.Cpu.millis(Math.min(template.cpuMillis, 500)),
      memory: template.resources.memory,
      ephemeralStorage: template.resources.ephemeralStorage,
    };
    // With a setup step, the migration is the init container: setup starts only once it has succeeded.
    template.addContainer(this.job, { name: CONTAINER_NAME, command: props.command, resources, init: props.setupCommand !== undefined });
    if (props.setupCommand !== undefined) template.addContainer(this.job, { name: SETUP_CONTAINER_NAME, command: props.setupCommand, resources });
    setPodFailurePolicy(this.job, disruptionTolerantFailurePolicy(CONTAINER_NAME, m.fatalExitCodes));
    this.nameByContent(ApiObject.of(this.job));

    // A workload of the service like its web pods and workers: the same base builds its policies.
    const workload = new WorkloadBase(this, applicationWorkloadContext(service, shared, {
      label,
      validator: v,
      component: MIGRATION_COMPONENT,
      name: this.baseName,
      objectName: (suffix: string) => identity.objectName(`migrate-${suffix}`),
      template,
    }));
    // Reached through its service's connections only: a MigrationJob has no connectTo/use of its own.
    this.networkPolicy = workload.build({ workload: this.job, containers: [...this.job.initContainers, ...this.job.containers], connectionLabel: `${label} migration`, ownConnections: false }).networkPolicy;
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
const SETUP_CONTAINER_NAME = 'setup';
