import { Duration } from 'cdk8s';
import { k8s } from '../core/plus';
import { PythonServiceResources, resolveResources } from '../core/python-pod-template';
import { argoCdWaves } from '../core/release-order';
import { PropValidator } from '../core/validation';

// The migration options, and their defaults and checks, shared by PythonService's resolve phase
// and MigrationJob (the checks are internal).

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
   * Setup commands to run after the migrations, in the same Job: create the admin if missing,
   * load initial data, `superset init`. The migration runs as the pod's init container and this
   * as its container, so setup never starts before the migrations have finished, whether the
   * file is applied with `kubectl apply`, Argo CD or Flux. The Job is named by its content, so a
   * release that changes either command runs both again and re-applying the same release runs
   * neither: both must be idempotent ("once per install" needs a controller that plain apply
   * does not have). Its logs are those of the container named `setup`.
   * @default - no setup step
   */
  readonly setupCommand?: string[];

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

/** The component label of the migration Job. */
export const MIGRATION_COMPONENT = 'migration';

/** The migration options after defaults and validation. */
export interface ResolvedMigrations {
  readonly ttl?: Duration;
  readonly deadline: Duration;
  readonly backoffLimit: number;
  readonly fatalExitCodes: number[];
  /** The Argo CD sync wave of the Job; undefined when no Argo CD option is set. */
  readonly argoCdWave?: number;
}

/** Checks the migration options and applies their defaults; throws naming the prop. */
export function validateMigrations(v: PropValidator, m: PythonServiceMigrations): ResolvedMigrations {
  if (!Array.isArray(m.command) || m.command.length === 0) {
    v.fail('migrations.command', m.command, 'must be a non-empty list of strings, e.g. ["python", "manage.py", "migrate", "--noinput"]');
  }
  m.command.forEach((arg, i) => {
    if (typeof arg !== 'string') v.fail(`migrations.command[${i}]`, arg, 'must be a string');
  });
  v.nonEmptyString('migrations.command[0]', m.command[0]);
  if (m.setupCommand !== undefined) {
    if (!Array.isArray(m.setupCommand) || m.setupCommand.length === 0 || m.setupCommand.some((a) => typeof a !== 'string') || m.setupCommand[0].trim() === '') {
      v.fail('migrations.setupCommand', m.setupCommand, 'must be a non-empty list of strings, e.g. ["python", "manage.py", "createadmin", "--if-missing"]');
    }
  }
  const ttl = m.ttlAfterFinished ?? (m.argoCdPreSyncHook ? Duration.days(1) : undefined);
  v.positiveDuration('migrations.ttlAfterFinished', ttl, { allowZero: true });
  const deadline = m.activeDeadline ?? Duration.minutes(30);
  v.positiveDuration('migrations.activeDeadline', deadline);
  const backoffLimit = m.backoffLimit ?? 3;
  v.integerInRange('migrations.backoffLimit', backoffLimit, 0, 100);
  const fatalExitCodes = m.fatalExitCodes ?? [];
  if (!Array.isArray(fatalExitCodes)) v.fail('migrations.fatalExitCodes', fatalExitCodes, 'must be a list of exit codes');
  fatalExitCodes.forEach((code, i) => v.integerInRange(`migrations.fatalExitCodes[${i}]`, code, 1, 255));
  if (new Set(fatalExitCodes).size !== fatalExitCodes.length) v.fail('migrations.fatalExitCodes', fatalExitCodes, 'must not list an exit code twice');
  v.integerInRange('migrations.argoCdSyncWave', m.argoCdSyncWave, -1_000_000, 1_000_000);
  if (m.resources !== undefined) resolveResources(v, 'migrations.resources', m.resources);
  const argoCd = m.argoCdPreSyncHook === true || m.argoCdSyncWave !== undefined;
  const sortedCodes = [...fatalExitCodes].sort((a, b) => a - b);
  return { ttl, deadline, backoffLimit, fatalExitCodes: sortedCodes, argoCdWave: argoCd ? m.argoCdSyncWave ?? 0 : undefined };
}

export function syncWaveAnnotation(wave: number): { [key: string]: string } {
  return { 'argocd.argoproj.io/sync-wave': String(wave) };
}


/**
 * Evictions, preemptions and node drains are not the job's fault: ignore them (they do not count
 * against backoffLimit). Exit codes in `fatalExitCodes` fail the Job at once.
 */
export function disruptionTolerantFailurePolicy(containerName: string, fatalExitCodes: number[]): k8s.PodFailurePolicy {
  return {
    rules: [
      { action: 'Ignore', onPodConditions: [{ status: 'True', type: 'DisruptionTarget' }] },
      ...(fatalExitCodes.length > 0
        // An empty onPodConditions: the 1.28 schema marks the field required; the API server only forbids a non-empty one next to onExitCodes.
        ? [{ action: 'FailJob', onExitCodes: { containerName, operator: 'In', values: fatalExitCodes }, onPodConditions: [] }]
        : []),
    ],
  };
}

/**
 * Annotations for what the migration pod reads and the library creates (its ServiceAccount, the
 * ExternalSecret, the config files): under an Argo CD PreSync hook they must be hooks of an
 * earlier wave themselves (Argo CD creates everything else only in the Sync phase); with sync
 * waves, an earlier wave. Undefined without Argo CD options. Internal.
 */
export function prerequisiteAnnotations(m: PythonServiceMigrations | undefined): { [key: string]: string } | undefined {
  if (!m || (m.argoCdPreSyncHook !== true && m.argoCdSyncWave === undefined)) return undefined;
  const hook: { [key: string]: string } = m.argoCdPreSyncHook ? { 'argocd.argoproj.io/hook': 'PreSync', 'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation' } : {};
  return Object.assign({}, hook, syncWaveAnnotation(argoCdWaves(m.argoCdSyncWave ?? 0).migrationServiceAccount));
}
