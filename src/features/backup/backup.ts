import { ApiObject, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { customResource } from '../../core/custom-resource';
import { kplus } from '../../core/plus';
import { goDuration, validateCron } from '../../core/schedules';
import { PropValidator } from '../../core/validation';
import type * as velero from '../../imports/velero.io';

/**
 * How Velero backs up the service's persistent volumes.
 */
export enum BackupVolumeMode {
  /** Volume snapshots (CSI or the cloud provider's plugin). */
  SNAPSHOT = 'snapshot',
  /** File-system backup by Velero's node agent (kopia), for storage without snapshots. */
  FILE_SYSTEM = 'file-system',
  /** Back up the Kubernetes objects only, not volume data. */
  NONE = 'none',
}

/**
 * Which objects of the app namespace a backup takes.
 */
export enum BackupObjects {
  /**
   * The whole namespace, minus Jobs (a restore must not run migrations again) and, unless
   * hooks or file-system volume backup need them, Pods (their controllers re-create them). A
   * restore brings back what the pods reference by name but carries no labels of ours: Secrets
   * and ConfigMaps made elsewhere (database URL, TLS). Restore one service of a shared namespace
   * with `velero restore create --selector app.kubernetes.io/instance=<name>`.
   */
  WHOLE_NAMESPACE = 'WholeNamespace',
  /**
   * Only objects carrying the service's `app.kubernetes.io/name` and `instance` labels: what
   * the library creates, and Secrets or ConfigMaps made elsewhere only if they are labelled the
   * same. Without that, a restore lacks them and pods stay in `CreateContainerConfigError`.
   */
  SERVICE_LABELS = 'ServiceLabels',
}

/**
 * What Velero does when a backup hook fails.
 */
export enum BackupHookErrorMode {
  /** Mark the backup as failed. */
  FAIL = 'Fail',
  /** Go on with the backup. */
  CONTINUE = 'Continue',
}

/**
 * Commands Velero runs in the app container around a backup (as pod annotations).
 */
export interface BackupHooks {
  /**
   * Command run before the backup, e.g. `['python', 'manage.py', 'flush_caches']`.
   * @default - none
   */
  readonly pre?: string[];

  /**
   * Command run after the backup.
   * @default - none
   */
  readonly post?: string[];

  /**
   * How long each hook may run.
   * @default Duration.seconds(30) - Velero's default
   */
  readonly timeout?: Duration;

  /**
   * What a failing hook does to the backup.
   * @default BackupHookErrorMode.FAIL - a backup without its consistency step is not trustworthy
   */
  readonly onError?: BackupHookErrorMode;
}

/**
 * Scheduled Velero backups of a `PythonService`.
 */
export interface PythonServiceBackup {
  /**
   * When to back up: a 5-field cron expression, e.g. `0 0 * * *` (daily at
   * midnight). Evaluated by Velero in its own time zone (UTC unless configured).
   */
  readonly schedule: string;

  /**
   * How long each backup is kept (the Backup's `ttl`).
   * @default Duration.days(30)
   */
  readonly retention?: Duration;

  /**
   * The namespace Velero runs in. Schedules must live there: Velero ignores them elsewhere.
   * @default "velero"
   */
  readonly veleroNamespace?: string;

  /**
   * A BackupStorageLocation name.
   * @default - Velero's default location
   */
  readonly storageLocation?: string;

  /**
   * How persistent volumes are backed up.
   * @default - BackupVolumeMode.SNAPSHOT when the service has persistence, else NONE
   */
  readonly volumes?: BackupVolumeMode;

  /**
   * Commands to run in the app container before and after each backup. Velero runs pod hooks
   * in every pod it backs up, so they run once per replica; see `hooksOnce`.
   * @default - none
   */
  readonly hooks?: BackupHooks;

  /**
   * Require the hooks to run exactly once per backup: an error unless the pods that carry them
   * are a singleton (one replica, no autoscaling).
   * @default false - hooks run in every replica
   */
  readonly hooksOnce?: boolean;

  /**
   * Which objects of the app namespace are backed up.
   * @default BackupObjects.WHOLE_NAMESPACE - a restore then also brings back Secrets and ConfigMaps made elsewhere
   */
  readonly objects?: BackupObjects;

  /**
   * The image of Velero's file-system restore helper, the init container `restore-wait` Velero
   * adds to every restored pod with file-system-backed volumes: the Velero server's image (e.g.
   * `velero/velero:v1.17.2`) unless Velero's restore-helper ConfigMap names another. With
   * `security`, the service's and the namespace's policies allow exactly this image, or they
   * would refuse the restored pods.
   * @default - none: with BackupVolumeMode.FILE_SYSTEM and security, synthesis warns that restores will be refused
   */
  readonly restoreHelperImage?: string;
}

/**
 * Props for `BackupSchedule`.
 */
export interface BackupScheduleProps extends PythonServiceBackup {
  /**
   * Base name; the Schedule is `<namespace>-<name>-backup`, since every app's Schedule shares
   * Velero's namespace.
   */
  readonly name: string;

  /**
   * The app namespace to back up.
   */
  readonly namespace: string;

  /**
   * Labels that select exactly the objects to back up, with `BackupObjects.SERVICE_LABELS`.
   * @default - none; required with BackupObjects.SERVICE_LABELS
   */
  readonly selector?: { [key: string]: string };

  /**
   * Names of the pod volumes to back up with file-system backup (BackupVolumeMode.FILE_SYSTEM).
   * @default - none
   */
  readonly fileSystemVolumes?: string[];

  /**
   * The container the hooks run in.
   * @default "app"
   */
  readonly hookContainer?: string;

  /**
   * Labels for the Schedule itself.
   * @default - none
   */
  readonly labels?: { [key: string]: string };
}

/** Validates backup options; `prefix` is how the caller names them (e.g. "backup."). */
export function validateBackupOptions(v: PropValidator, prefix: string, b: PythonServiceBackup): void {
  validateCron(v, `${prefix}schedule`, b.schedule);
  v.positiveDuration(`${prefix}retention`, b.retention);
  v.dnsLabel(`${prefix}veleroNamespace`, b.veleroNamespace);
  if (b.storageLocation !== undefined) v.dnsSubdomain(`${prefix}storageLocation`, b.storageLocation);
  if (b.volumes !== undefined && !Object.values(BackupVolumeMode).includes(b.volumes)) {
    v.fail(`${prefix}volumes`, b.volumes, `must be one of ${Object.values(BackupVolumeMode).join(', ')}`);
  }
  if (b.objects !== undefined && !Object.values(BackupObjects).includes(b.objects)) {
    v.fail(`${prefix}objects`, b.objects, `must be one of ${Object.values(BackupObjects).join(', ')}`);
  }
  const hooks = b.hooks ?? {};
  for (const [key, command] of [['pre', hooks.pre], ['post', hooks.post]] as const) {
    if (command === undefined) continue;
    if (!Array.isArray(command) || command.length === 0 || command.some((arg) => typeof arg !== 'string') || command[0].trim() === '') {
      v.fail(`${prefix}hooks.${key}`, command, 'must be a non-empty command, e.g. ["python", "manage.py", "dump"]');
    }
  }
  v.positiveDuration(`${prefix}hooks.timeout`, hooks.timeout);
  if (hooks.onError !== undefined && !Object.values(BackupHookErrorMode).includes(hooks.onError)) {
    v.fail(`${prefix}hooks.onError`, hooks.onError, `must be one of ${Object.values(BackupHookErrorMode).join(', ')}`);
  }
}

/** Velero's backup hooks as pod annotations (https://velero.io/docs/main/backup-hooks/). */
export function backupHookAnnotations(hooks: BackupHooks, container: string): { [key: string]: string } {
  const annotations: { [key: string]: string } = {};
  for (const [phase, command] of [['pre', hooks.pre], ['post', hooks.post]] as const) {
    if (!command) continue;
    const prefix = `${phase}.hook.backup.velero.io`;
    annotations[`${prefix}/container`] = container;
    annotations[`${prefix}/command`] = JSON.stringify(command);
    annotations[`${prefix}/on-error`] = hooks.onError ?? BackupHookErrorMode.FAIL;
    annotations[`${prefix}/timeout`] = `${(hooks.timeout ?? Duration.seconds(30)).toSeconds()}s`;
  }
  return annotations;
}

function veleroApi(): typeof velero {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../imports/velero.io');
}

/**
 * A `velero.io/v1` Schedule that backs up one service: created in Velero's namespace (a
 * Schedule anywhere else is ignored by Velero), including only the app namespace and only the
 * objects matching `selector`.
 *
 * Pods need annotations for hooks and file-system volume backup; `PythonService` adds them to
 * its pod template. Used alone, add `podAnnotations` to the pods yourself.
 */
export class BackupSchedule extends Construct {
  /** The Schedule. */
  public readonly schedule: ApiObject;
  /** The Schedule's name, `<namespace>-<name>-backup`. */
  public readonly scheduleName: string;
  /** Annotations the backed-up pods need (hooks, file-system volumes). */
  public readonly podAnnotations: { [key: string]: string };
  /** The volume mode in effect. */
  public readonly volumeMode: BackupVolumeMode;
  /** Which objects are backed up. */
  public readonly objects: BackupObjects;
  /** Resources left out of every backup. */
  public readonly excludedResources: string[];

  constructor(scope: Construct, id: string, props: BackupScheduleProps) {
    super(scope, id);
    const v = new PropValidator(`BackupSchedule '${id}'`);
    validateBackupOptions(v, '', props);
    v.dnsLabel('namespace', props.namespace);
    if (typeof props.namespace !== 'string') v.fail('namespace', props.namespace, 'must name the app namespace to back up');
    v.labelMap('selector', props.selector);
    this.objects = props.objects ?? BackupObjects.WHOLE_NAMESPACE;
    if (this.objects === BackupObjects.SERVICE_LABELS && Object.keys(props.selector ?? {}).length === 0) {
      v.fail('selector', props.selector, 'must not be empty with BackupObjects.SERVICE_LABELS (use BackupObjects.WHOLE_NAMESPACE to back up the whole namespace)');
    }
    v.labelMap('labels', props.labels);
    this.scheduleName = `${props.namespace}-${props.name}-backup`;
    v.dnsLabel('name', this.scheduleName);

    this.volumeMode = props.volumes ?? BackupVolumeMode.SNAPSHOT;
    const fsVolumes = this.volumeMode === BackupVolumeMode.FILE_SYSTEM ? props.fileSystemVolumes ?? [] : [];
    this.podAnnotations = Object.assign(
      backupHookAnnotations(props.hooks ?? {}, props.hookContainer ?? 'app'),
      fsVolumes.length > 0 ? { 'backup.velero.io/backup-volumes': fsVolumes.join(',') } : undefined,
    );

    // Velero runs pod hooks and file-system backups only for pods it backs up.
    const podsNeeded = Object.keys(this.podAnnotations).length > 0;
    this.excludedResources = ['jobs.batch', ...(podsNeeded ? [] : ['pods'])];

    const api = veleroApi();
    this.schedule = customResource<velero.ScheduleProps>(this, 'Resource', api.Schedule.GVK, api.toJson_ScheduleProps, {
      metadata: { name: this.scheduleName, namespace: props.veleroNamespace ?? 'velero', labels: props.labels },
      spec: {
        schedule: props.schedule.trim().split(/\s+/).join(' '),
        useOwnerReferencesInBackup: false,
        template: {
          includedNamespaces: [props.namespace],
          excludedResources: [...this.excludedResources],
          labelSelector: this.objects === BackupObjects.SERVICE_LABELS ? { matchLabels: { ...props.selector } } : undefined,
          // includeClusterResources stays unset: Velero then adds the PersistentVolumes bound to
          // included claims, which a restore of the data needs.
          ttl: goDuration(props.retention ?? Duration.days(30)),
          storageLocation: props.storageLocation,
          snapshotVolumes: this.volumeMode === BackupVolumeMode.SNAPSHOT,
          // Only the volumes named in the pod annotation, never the scratch emptyDirs.
          defaultVolumesToFsBackup: false,
          metadata: props.labels ? { labels: { ...props.labels } } : undefined,
        },
      },
    });
  }
}

/** What `backUpService` backs up. Internal. */
export interface BackedUpService {
  readonly settings: PythonServiceBackup;
  readonly volumes?: BackupVolumeMode;
  readonly name: string;
  readonly namespace: string;
  /** Every object of the service (all components), and nothing of any other service. */
  readonly selector: { [key: string]: string };
  readonly fileSystemVolumes: string[];
  readonly labels: { [key: string]: string };
  /** The pods that carry the hook and file-system backup annotations. */
  readonly hookPods: kplus.AbstractPod;
}

/** A service's Velero Schedule, with the hooks and volume opt-ins on its pods. Internal. */
export function backUpService(scope: Construct, t: BackedUpService): BackupSchedule {
  const backup = new BackupSchedule(scope, 'Backup', Object.assign({}, t.settings, {
    volumes: t.volumes,
    name: t.name,
    namespace: t.namespace,
    selector: t.selector,
    fileSystemVolumes: t.fileSystemVolumes,
    hookContainer: 'app',
    labels: t.labels,
  }));
  for (const [key, value] of Object.entries(backup.podAnnotations)) t.hookPods.podMetadata.addAnnotation(key, value);
  return backup;
}
