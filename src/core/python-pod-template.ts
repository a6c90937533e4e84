import { Size, SizeRoundingBehavior } from 'cdk8s';
import { ClaimSharing } from './claim-sharing';
import { OrderedEnvironment, orderEnvironment } from './environment';
import { KUBERNETES_FEATURES, requireKubernetes } from './kubernetes-version';
import { kplus } from './plus';
import { setContainerSecurityDefaults, setHostUsers, setImagePullSecrets, setResizePolicy } from './plus-gaps';
import { PropValidator } from './validation';
import { OWN_VOLUME_NAMES } from './volume-names';

/**
 * Compute resources for each pod of a `PythonService`.
 */
export interface PythonServiceResources {
  /**
   * CPU request. Also sizes the server's worker count and `PYTHON_CPU_COUNT`.
   * @default Cpu.millis(250) - enough for one small gunicorn or uvicorn process; raise for more workers
   */
  readonly cpu?: kplus.Cpu;

  /**
   * CPU limit. Unset by default because CFS throttling makes Python latency spiky while the
   * request already guarantees the share.
   * @default - no CPU limit
   */
  readonly cpuLimit?: kplus.Cpu;

  /**
   * Memory request, also used as the limit: memory is not compressible, so a pod that bursts
   * above its request gets OOM-killed at an unpredictable time instead of a predictable one.
   * @default Size.mebibytes(256)
   */
  readonly memory?: Size;

  /**
   * Ephemeral storage request and limit (logs, `/tmp`, writable layers).
   * @default Size.gibibytes(1)
   */
  readonly ephemeralStorage?: Size;
}

/**
 * Pod identity for a `PythonService` (all numeric, as Pod Security "restricted" needs).
 */
export interface PythonServiceSecurityContext {
  /**
   * UID the container runs as. Must not be 0.
   * @default 10001 - non-root and at least 10000, so it never maps to a host user (kube-score, kube-linter)
   */
  readonly runAsUser?: number;

  /**
   * GID the container runs as.
   * @default 10001
   */
  readonly runAsGroup?: number;

  /**
   * Group that owns mounted volumes.
   * @default 10001
   */
  readonly fsGroup?: number;
}

/**
 * What each Python process of an application may set for itself: its resources and its
 * environment. On a service (or a component on its own) these are the values; on a worker or
 * scheduled job of a service they are merged over the service's.
 */
export interface PythonProcessOptions {
  /**
   * CPU, memory and ephemeral storage per pod.
   * @default - 250m CPU, 256Mi memory (request = limit), 1Gi ephemeral storage; a component of a service: the service's
   */
  readonly resources?: PythonServiceResources;

  /**
   * Plain environment variables. They may override the Python defaults this library sets
   * (PYTHONUNBUFFERED, WEB_CONCURRENCY, ...). On a component of a service they are merged over
   * the service's: a name set here replaces the service's, from `env` or `envValues`.
   * @default - none; a component of a service: the service's
   */
  readonly env?: { [name: string]: string };

  /**
   * Environment variables from Secrets, ConfigMaps or the downward API,
   * e.g. `{ DATABASE_URL: kplus.EnvValue.fromSecretValue({ secret, key: 'url' }) }`. On a
   * component of a service they are merged over the service's.
   * @default - none; a component of a service: the service's
   */
  readonly envValues?: { [name: string]: kplus.EnvValue };

  /**
   * Whole Secrets or ConfigMaps to load as environment variables,
   * e.g. `[kplus.Env.fromSecret(secret)]`. On a component of a service they load after the service's.
   * @default - none; a component of a service: the service's
   */
  readonly envFrom?: kplus.EnvFrom[];

  /**
   * Volumes the Python containers mount besides `/tmp`: media the web server, its workers and a
   * scheduled job share (a ReadWriteMany claim), a settings file from a Secret. Each path is
   * absolute and mounted once. On a component of a service they are added to the service's.
   * The admission policy allows these volumes by name, as it does the library's own.
   * @default - none; a component of a service: the service's
   */
  readonly mounts?: PythonPodMount[];
}

/**
 * What every pod of one Python application shares because it runs the same image: how the image
 * is pulled and which user, `/tmp`, user namespace and resize policy its pods get. A worker or
 * scheduled job of a service takes these from the service.
 */
export interface PythonImageOptions {
  /**
   * Image pull policy.
   * @default kplus.ImagePullPolicy.ALWAYS - tags are mutable; with a digest, IF_NOT_PRESENT is as safe and cheaper
   */
  readonly imagePullPolicy?: kplus.ImagePullPolicy;

  /**
   * Numeric user, group and fsGroup.
   * @default - 10001 for all three
   */
  readonly securityContext?: PythonServiceSecurityContext;

  /**
   * Size limit of the writable `/tmp` (the root filesystem is read-only).
   * @default Size.mebibytes(256)
   */
  readonly tmpSize?: Size;

  /**
   * Names of `kubernetes.io/dockerconfigjson` Secrets in the app namespace the kubelet uses to
   * pull the image from a private registry. Set on every pod (web, workers, scheduled jobs,
   * migrations), not on the ServiceAccount: the pod spec is what the kubelet reads, it holds
   * whichever ServiceAccount the pod runs as, and it shows in the rendered YAML.
   * @default - none (a public registry, or credentials the nodes already have)
   */
  readonly imagePullSecrets?: string[];

  /**
   * Run the pods in a user namespace of their own (`hostUsers: false`): uid 10001 in the container
   * is an unprivileged, unshared uid on the node, so a container escape gains nothing there.
   * Needs Kubernetes 1.33 or later (user namespaces on by default from 1.33, GA in 1.36; see
   * `KubernetesVersion.setOldest`) and nodes that support them (Linux 6.3+ with idmap mounts,
   * containerd 2.0+ or CRI-O 1.25+); on other nodes the pods fail to start.
   * @default true - the host's user namespace, which every node supports
   */
  readonly hostUsers?: boolean;

  /**
   * Let the kubelet resize the Python containers of the long-running workloads (the web
   * Deployment and the workers) in place, per resource. Needs Kubernetes 1.33 or later (in-place
   * resize on by default from 1.33, GA in 1.35; see `KubernetesVersion.setOldest`). Jobs and cron
   * jobs run to completion and are left out.
   *
   * A resize changes the container's CPU and memory, not what was fixed at synth from the
   * requests: gunicorn's worker count (`WEB_CONCURRENCY`), `PYTHON_CPU_COUNT`, a worker's
   * `--concurrency` or process count. More CPU makes the same workers faster; more memory is
   * headroom, not more workers. To change a worker count, change `resources` and roll out.
   * @default - not set: the cluster's default, every resource resized without a restart
   */
  readonly resizePolicy?: PythonResizePolicy;
}

/**
 * What every pod of one Python application shares, whatever runs in it (web server, worker,
 * scheduled job, migration).
 */
export interface PythonPodOptions extends PythonImageOptions, PythonProcessOptions {
  /**
   * The container image, e.g. `ghcr.io/acme/shop-api:1.4.2` or `...@sha256:...`. Kept verbatim.
   */
  readonly image: string;
}

/**
 * What a container does when its CPU or memory is resized in place.
 */
export enum ResizeRestartPolicy {
  /** Apply the new value to the running processes. */
  NOT_REQUIRED = 'NotRequired',
  /** Restart the container (not the pod) with the new value. */
  RESTART_CONTAINER = 'RestartContainer',
}

/**
 * The `resizePolicy` of a Python container, per resource.
 */
export interface PythonResizePolicy {
  /**
   * On a CPU resize.
   * @default ResizeRestartPolicy.NOT_REQUIRED - the kernel gives running processes the new CPU share at once
   */
  readonly cpu?: ResizeRestartPolicy;

  /**
   * On a memory resize.
   * @default ResizeRestartPolicy.RESTART_CONTAINER - CPython rarely gives freed memory back to the system, so a lower limit applied to running workers can OOM-kill them or never complete; a restart starts them under the new limit
   */
  readonly memory?: ResizeRestartPolicy;
}

/**
 * A volume every container of the template mounts.
 */
export interface PythonPodMount {
  /** Where it appears in the container. */
  readonly path: string;
  /** The volume. */
  readonly volume: kplus.Volume;
  /**
   * Mount it read-only.
   * @default false
   */
  readonly readOnly?: boolean;

  /**
   * One file or folder of the volume, mounted at `path` alone: a settings file from a Secret
   * (e.g. `superset_config.py` at `/app/pythonpath/superset_config.py`) without hiding the rest of
   * the folder. A path relative to the volume's root. Unlike a whole Secret or ConfigMap, a
   * `subPath` mount does not see later changes to the object until the pod restarts.
   * @default - the whole volume
   */
  readonly subPath?: string;

  /**
   * Every pod that mounts this claim runs on one node (your own scheduling pins them there), so a
   * ReadWriteOnce claim may serve several workloads or replicas. Without it, such a claim mounted
   * by more than one pod is an error when the app is synthesized: the pods scheduled elsewhere
   * would wait for the volume forever.
   * @default false
   */
  readonly pinnedToOneNode?: boolean;
}

/**
 * Props for `PythonPodTemplate`.
 */
export interface PythonPodTemplateProps extends PythonPodOptions {
  /**
   * The ServiceAccount every pod runs as (its API token is never mounted).
   * @default - the namespace's default ServiceAccount
   */
  readonly serviceAccount?: kplus.IServiceAccount;

  /**
   * Who is asking, for error messages (e.g. `PythonService 'api'`).
   * @default "PythonPodTemplate"
   */
  readonly errorLabel?: string;
}

/**
 * What a component of an application changes in the application's pod template: the process
 * options, merged over the template's.
 */
export interface PythonPodOverrides extends PythonProcessOptions {
  /**
   * Who is asking, for error messages.
   * @default - the template's
   */
  readonly errorLabel?: string;
}

/**
 * A Python container and what surrounds it, for one workload.
 */
export interface PythonContainerOptions {
  /**
   * The container name.
   */
  readonly name: string;

  /**
   * The command (entrypoint and arguments).
   * @default - the image's ENTRYPOINT and CMD
   */
  readonly command?: string[];

  /**
   * Environment the library derives for this process (e.g. `WEB_CONCURRENCY`); the user's `env`
   * overrides it.
   * @default - none
   */
  readonly derivedEnv?: { [name: string]: string };

  /**
   * Container ports.
   * @default - none
   */
  readonly ports?: kplus.ContainerPort[];

  /**
   * Startup probe.
   * @default - none
   */
  readonly startup?: kplus.Probe;

  /**
   * Readiness probe.
   * @default - none
   */
  readonly readiness?: kplus.Probe;

  /**
   * Liveness probe.
   * @default - none
   */
  readonly liveness?: kplus.Probe;

  /**
   * Lifecycle hooks.
   * @default - none
   */
  readonly lifecycle?: kplus.ContainerLifecycle;

  /**
   * Add it as an init container: it runs to completion before the pod's containers start.
   * @default false
   */
  readonly init?: boolean;

  /**
   * Resources of this container instead of the template's (e.g. a one-process Job).
   * @default - the template's resources
   */
  readonly resources?: PythonServiceResources;
}

/** Resources after defaults and validation. */
export interface ResolvedResources {
  readonly cpu: kplus.Cpu;
  readonly cpuLimit?: kplus.Cpu;
  readonly cpuMillis: number;
  readonly memory: Size;
  readonly ephemeralStorage: Size;
}

/** The pod options after defaults and validation. */
export interface ResolvedPythonPod extends ResolvedResources {
  readonly tmpSize: Size;
  /** `resizePolicy`, defaults applied; undefined when not set. */
  readonly resizePolicy?: Array<{ resourceName: string; restartPolicy: ResizeRestartPolicy }>;
  readonly identity: Required<PythonServiceSecurityContext>;
  /** The user's `env` and `envValues` as EnvValues (checked: names, no reference cycle). */
  readonly userVariables: { [name: string]: kplus.EnvValue };
}

const DEFAULT_ID = 10001;
// EnvValues are immutable: the constant ones are shared by every container.
const ONE = kplus.EnvValue.fromValue('1');
const TMP_DIR = kplus.EnvValue.fromValue('/tmp');

/**
 * Checks the pod options and applies their defaults. Internal: `PythonService` runs it in its
 * resolve phase (so errors name the service), `PythonPodTemplate` in its constructor.
 */
export function resolvePythonPod(v: PropValidator, options: PythonPodOptions): ResolvedPythonPod {
  const resources = resolveResources(v, 'resources', options.resources ?? {});
  const tmpSize = options.tmpSize ?? Size.mebibytes(256);
  v.wholeSize('tmpSize', tmpSize, 'Mi');
  checkTmpFitsStorage(v, tmpSize, 'resources.ephemeralStorage', resources.ephemeralStorage);
  validateEnv(v, options.env, options.envValues);
  const userVariables = userEnvironment(options);
  orderEnvironment(v, {}, userVariables);

  const identity: Required<PythonServiceSecurityContext> = {
    runAsUser: options.securityContext?.runAsUser ?? DEFAULT_ID,
    runAsGroup: options.securityContext?.runAsGroup ?? DEFAULT_ID,
    fsGroup: options.securityContext?.fsGroup ?? DEFAULT_ID,
  };
  v.integerInRange('securityContext.runAsUser', identity.runAsUser, 1, 2147483647);
  v.integerInRange('securityContext.runAsGroup', identity.runAsGroup, 1, 2147483647);
  v.integerInRange('securityContext.fsGroup', identity.fsGroup, 1, 2147483647);
  validateImagePullSecrets(v, options.imagePullSecrets);
  validateMounts(v, options.mounts);
  if (options.hostUsers !== undefined && typeof options.hostUsers !== 'boolean') v.fail('hostUsers', options.hostUsers, 'must be true or false');
  return Object.assign({}, resources, { tmpSize, identity, userVariables, resizePolicy: resolveResizePolicy(v, options.resizePolicy) });
}

/**
 * Each mount an absolute path of its own, outside the `/tmp` the template mounts and the paths
 * `inherited` (the service's mounts, for a component's); each volume name one volume.
 */
function validateMounts(v: PropValidator, mounts: PythonPodMount[] | undefined, inherited: PythonPodMount[] = []): void {
  if (mounts === undefined) return;
  if (!Array.isArray(mounts)) v.fail('mounts', mounts, 'must be a list of { path, volume, readOnly? }');
  const paths = new Map<string, number>([['/tmp', -1], ...inherited.map((m): [string, number] => [normalizedPath(m.path), -2])]);
  const volumes = new Map<string, kplus.Volume>(inherited.map((m) => [m.volume.name, m.volume]));
  mounts.forEach((m, i) => {
    const prop = `mounts[${i}]`;
    if (m === null || typeof m !== 'object') v.fail(prop, m, 'must be { path, volume, readOnly? }');
    if (typeof m.path !== 'string' || !/^\/[^\0]*$/.test(m.path) || m.path.split('/').includes('..')) {
      v.fail(`${prop}.path`, m.path, 'must be an absolute path without ".." segments, e.g. "/app/media"');
    }
    const path = normalizedPath(m.path);
    const earlier = paths.get(path);
    if (earlier !== undefined) {
      v.fail(`${prop}.path`, m.path, earlier === -1 ? 'is the writable /tmp every Python container already mounts; pick another path'
        : earlier === -2 ? 'is already mounted by the service\'s mounts; a path takes one volume' : `is already mounted by mounts[${earlier}]; a path takes one volume`);
    }
    paths.set(path, i);
    if (m.subPath !== undefined && (typeof m.subPath !== 'string' || m.subPath === '' || m.subPath.startsWith('/') || m.subPath.split('/').includes('..'))) {
      v.fail(`${prop}.subPath`, m.subPath, 'must be a path relative to the volume\'s root without ".." segments, e.g. "superset_config.py"');
    }
    if (!(m.volume instanceof kplus.Volume)) v.fail(`${prop}.volume`, m.volume, 'must be a kplus.Volume, e.g. kplus.Volume.fromPersistentVolumeClaim(...)');
    if (m.volume.name === OWN_VOLUME_NAMES.tmp) v.fail(`${prop}.volume`, m.volume.name, 'is the name of the /tmp volume every Python container has; give the volume another name');
    if (m.pinnedToOneNode !== undefined && typeof m.pinnedToOneNode !== 'boolean') v.fail(`${prop}.pinnedToOneNode`, m.pinnedToOneNode, 'must be true or false');
    const same = volumes.get(m.volume.name);
    if (same !== undefined && same !== m.volume) v.fail(`${prop}.volume`, m.volume.name, 'names another volume too; give each volume its own name');
    volumes.set(m.volume.name, m.volume);
  });
}

function normalizedPath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

function resolveResizePolicy(v: PropValidator, policy: PythonResizePolicy | undefined): ResolvedPythonPod['resizePolicy'] {
  if (policy === undefined) return undefined;
  if (policy === null || typeof policy !== 'object') v.fail('resizePolicy', policy, 'must be an object such as { cpu: ResizeRestartPolicy.NOT_REQUIRED }');
  const policies = Object.values(ResizeRestartPolicy);
  const of = (resource: 'cpu' | 'memory', fallback: ResizeRestartPolicy) => {
    const value = policy[resource] ?? fallback;
    if (!policies.includes(value)) v.fail(`resizePolicy.${resource}`, value, `must be one of ${policies.join(', ')}`);
    return { resourceName: resource, restartPolicy: value };
  };
  return [of('cpu', ResizeRestartPolicy.NOT_REQUIRED), of('memory', ResizeRestartPolicy.RESTART_CONTAINER)];
}

function validateImagePullSecrets(v: PropValidator, names: string[] | undefined): void {
  if (names === undefined) return;
  if (!Array.isArray(names) || names.length === 0) v.fail('imagePullSecrets', names, 'must list at least one Secret name (leave it unset for none)');
  names.forEach((name, i) => v.dnsSubdomain(`imagePullSecrets[${i}]`, name));
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) v.fail('imagePullSecrets', names, `names "${repeated}" twice`);
}

/**
 * The kubelet's default container log budget (`containerLogMaxSize` 10Mi × `containerLogMaxFiles` 5):
 * logs count against the ephemeral-storage limit beside the disk-backed `/tmp`.
 */
const LOG_MEBIBYTES = 50;

/**
 * `/tmp` is a disk-backed emptyDir, so what is written there counts against the pod's
 * ephemeral-storage limit, with the container's logs and writable layer: a `/tmp` that does not fit
 * gets the pod evicted before `/tmp` itself is full.
 */
function checkTmpFitsStorage(v: PropValidator, tmpSize: Size, storageProp: string, storage: Size): void {
  const tmp = tmpSize.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
  const limit = storage.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
  if (tmp + LOG_MEBIBYTES > limit) {
    v.fail('tmpSize', tmpSize.asString(), `does not fit in ${storageProp} (${storage.asString()}) with the container logs (${LOG_MEBIBYTES}Mi by the kubelet's default rotation): `
      + `the kubelet evicts the pod when /tmp, logs and the writable layer together pass the ephemeral-storage limit; raise ${storageProp} or lower tmpSize to at most ${limit - LOG_MEBIBYTES}Mi`);
  }
}

/** Checks resources (under `prop`) and applies their defaults. Internal. */
export function resolveResources(v: PropValidator, prop: string, resources: PythonServiceResources): ResolvedResources {
  const cpu = resources.cpu ?? kplus.Cpu.millis(250);
  const cpuMillis = cpuToMillis(v, `${prop}.cpu`, cpu);
  if (resources.cpuLimit !== undefined) {
    const limit = cpuToMillis(v, `${prop}.cpuLimit`, resources.cpuLimit);
    if (limit < cpuMillis) v.fail(`${prop}.cpuLimit`, resources.cpuLimit.amount, `must not be below ${prop}.cpu (${cpu.amount})`);
  }
  const memory = resources.memory ?? Size.mebibytes(256);
  v.wholeSize(`${prop}.memory`, memory, 'Mi');
  const ephemeralStorage = resources.ephemeralStorage ?? Size.gibibytes(1);
  v.wholeSize(`${prop}.ephemeralStorage`, ephemeralStorage, 'Gi');
  return { cpu, cpuLimit: resources.cpuLimit, cpuMillis, memory, ephemeralStorage };
}

/**
 * The Python pod every workload of an application shares: image, environment, resources,
 * numeric ids, the restricted security contexts, the ServiceAccount and a writable `/tmp` on a
 * read-only root. It adds that container to any cdk8s-plus workload (Deployment, Job, CronJob).
 *
 * A plain class, not a construct, like cdk8s-plus' `Container`: it owns no Kubernetes object.
 */
export class PythonPodTemplate {
  /** The container image, verbatim. */
  public readonly image: string;
  /** The ServiceAccount pods run as, if any. */
  public readonly serviceAccount?: kplus.IServiceAccount;
  /** CPU request in millicores. */
  public readonly cpuMillis: number;
  /** Numeric user, group and fsGroup. */
  public readonly identity: PythonServiceSecurityContext;
  /** CPU, memory and ephemeral storage of each container, defaults applied. */
  public readonly resources: PythonServiceResources;

  private readonly validator: PropValidator;
  private readonly errorLabel?: string;
  private readonly mounts: PythonPodMount[];
  private readonly options: PythonPodOptions;
  private readonly resolved: ResolvedPythonPod;

  constructor(props: PythonPodTemplateProps) {
    const v = new PropValidator(props.errorLabel ?? 'PythonPodTemplate');
    if (typeof props.image !== 'string' || props.image.trim() === '') {
      v.fail('image', props.image, 'must be a non-empty container image reference');
    }
    this.resolved = resolvePythonPod(v, props);
    this.options = props;
    this.image = props.image;
    this.serviceAccount = props.serviceAccount;
    this.cpuMillis = this.resolved.cpuMillis;
    this.identity = this.resolved.identity;
    const r = this.resolved;
    this.resources = { cpu: r.cpu, cpuLimit: r.cpuLimit, memory: r.memory, ephemeralStorage: r.ephemeralStorage };
    this.validator = v;
    this.errorLabel = props.errorLabel;
    this.mounts = [...(props.mounts ?? [])];
  }

  /**
   * The same template with a component's changes: its environment merged over this one's, its
   * resources instead of these. The ServiceAccount, image and identity stay.
   */
  public derive(overrides: PythonPodOverrides): PythonPodTemplate {
    validateMounts(new PropValidator(overrides.errorLabel ?? this.errorLabel ?? 'PythonPodTemplate'), overrides.mounts, this.mounts);
    const o = this.options;
    const env = Object.assign({}, o.env, overrides.env);
    const envValues = Object.assign({}, o.envValues, overrides.envValues);
    for (const name of Object.keys(overrides.env ?? {})) delete envValues[name];
    for (const name of Object.keys(overrides.envValues ?? {})) delete env[name];
    return new PythonPodTemplate(Object.assign({}, o, {
      env,
      envValues,
      envFrom: [...(o.envFrom ?? []), ...(overrides.envFrom ?? [])],
      resources: overrides.resources ?? o.resources,
      serviceAccount: this.serviceAccount,
      mounts: [...this.mounts, ...(overrides.mounts ?? [])],
      errorLabel: overrides.errorLabel ?? this.errorLabel,
    }));
  }

  /**
   * The pod-level settings a workload needs: ServiceAccount, no token, pod security context.
   * Pass them when constructing the workload.
   */
  public podProps(): kplus.AbstractPodProps {
    return {
      serviceAccount: this.serviceAccount,
      automountServiceAccountToken: false,
      securityContext: this.podSecurityContext(),
    };
  }

  /**
   * The pod security context: non-root with the numeric ids, fsGroup applied only on mismatch.
   */
  public podSecurityContext(): kplus.PodSecurityContextProps {
    const id = this.resolved.identity;
    return {
      ensureNonRoot: true,
      user: id.runAsUser,
      group: id.runAsGroup,
      fsGroup: id.fsGroup,
      fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
    };
  }

  /**
   * Adds the Python container to `workload`, with the restricted security context and `/tmp`
   * mounted from a size-limited emptyDir.
   * @param workload the Deployment, Job, CronJob or Pod that runs the container
   * @param options the container's name, command, ports, probes and resources
   */
  public addContainer(workload: kplus.AbstractPod, options: PythonContainerOptions): kplus.Container {
    const resources = options.resources ? resolveResources(this.validator, `${options.name} container resources`, options.resources) : this.resolved;
    if (options.resources) checkTmpFitsStorage(this.validator, this.resolved.tmpSize, `${options.name} container resources.ephemeralStorage`, resources.ephemeralStorage);
    const add = options.init ? workload.addInitContainer.bind(workload) : workload.addContainer.bind(workload);
    const container = add(Object.assign({}, this.containerProps(options.name, options.derivedEnv ?? {}, resources), {
      command: options.command ? [...options.command] : undefined,
      ports: options.ports,
      startup: options.startup,
      readiness: options.readiness,
      liveness: options.liveness,
      lifecycle: options.lifecycle,
    }));
    // One /tmp per pod, shared by its Python containers (a migration and the setup step after it).
    const tmp = (workload.node.tryFindChild('TmpVolume') as kplus.Volume | undefined) ?? kplus.Volume.fromEmptyDir(workload, 'TmpVolume', OWN_VOLUME_NAMES.tmp, { sizeLimit: this.resolved.tmpSize });
    container.mount('/tmp', tmp);
    for (const m of this.mounts) {
      container.mount(m.path, m.volume, { readOnly: m.readOnly, subPath: m.subPath });
      if (m.pinnedToOneNode === true) ClaimSharing.of(workload).pin(workload, m.volume);
    }
    // Containers added through the public handles (a sidecar, an init container) get the
    // restricted settings they leave unset, so they pass Pod Security "restricted" like this one.
    setContainerSecurityDefaults(workload, RESTRICTED_CONTAINER_DEFAULTS);
    if (this.options.imagePullSecrets) setImagePullSecrets(workload, this.options.imagePullSecrets);
    if (this.options.hostUsers === false) {
      requireKubernetes(workload, this.validator, 'hostUsers', false, KUBERNETES_FEATURES.userNamespaces);
      setHostUsers(workload, false);
    }
    const resizePolicy = this.resolved.resizePolicy;
    if (resizePolicy !== undefined) {
      requireKubernetes(workload, this.validator, 'resizePolicy', this.options.resizePolicy, KUBERNETES_FEATURES.inPlaceResize);
      // A Job's pods never restart in place (restartPolicy Never refuses RestartContainer) and end on their own.
      if (workload instanceof kplus.Deployment) setResizePolicy(workload, options.name, resizePolicy);
    }
    return container;
  }

  private containerProps(name: string, derivedEnv: { [name: string]: string }, r: ResolvedResources): kplus.ContainerProps {
    const id = this.resolved.identity;
    return {
      name,
      image: this.image,
      imagePullPolicy: this.options.imagePullPolicy ?? kplus.ImagePullPolicy.ALWAYS,
      envVariables: this.environment(derivedEnv),
      envFrom: this.options.envFrom,
      resources: containerResources(r),
      securityContext: restrictedSecurityContext(id),
    };
  }

  private environment(derivedEnv: { [name: string]: string }): OrderedEnvironment {
    const defaults: { [name: string]: kplus.EnvValue } = {
      PYTHONUNBUFFERED: ONE,
      PYTHONDONTWRITEBYTECODE: ONE,
      // Python 3.13+ reads this for os.cpu_count(); without it libraries size pools from the node's cores.
      PYTHON_CPU_COUNT: kplus.EnvValue.fromValue(String(Math.max(1, Math.ceil(this.resolved.cpuMillis / 1000)))),
      TMPDIR: TMP_DIR,
    };
    for (const name of Object.keys(derivedEnv)) defaults[name] = kplus.EnvValue.fromValue(derivedEnv[name]);
    return orderEnvironment(this.validator, defaults, this.resolved.userVariables);
  }
}

/** The user's `env` and `envValues` as one map. */
function userEnvironment(options: PythonPodOptions): { [name: string]: kplus.EnvValue } {
  const env: { [name: string]: kplus.EnvValue } = {};
  for (const [name, value] of Object.entries(options.env ?? {})) env[name] = kplus.EnvValue.fromValue(value);
  return Object.assign(env, options.envValues);
}

/** Millicores of a kplus Cpu ("250m", "2", "0.5"). */
function cpuToMillis(v: PropValidator, prop: string, cpu: kplus.Cpu): number {
  const amount = cpu?.amount;
  const match = typeof amount === 'string' ? /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(amount) : null;
  const millis = match ? (match[2] === 'm' ? Number(match[1]) : Number(match[1]) * 1000) : NaN;
  if (!(millis >= 1) || !Number.isFinite(millis)) {
    v.fail(prop, amount, 'must be a CPU amount of at least 1 millicore (kplus.Cpu.millis(250) or kplus.Cpu.units(1))');
  }
  return millis;
}

function validateEnv(v: PropValidator, env?: { [name: string]: string }, envValues?: { [name: string]: kplus.EnvValue }): void {
  for (const [name, value] of Object.entries(env ?? {})) {
    v.variableName('env name', name);
    if (typeof value !== 'string') v.fail(`env.${name}`, value, 'must be a string (quote numbers and booleans)');
  }
  for (const name of Object.keys(envValues ?? {})) {
    v.variableName('envValues name', name);
    if (env && name in env) v.fail('envValues name', name, 'is also set in env; set each variable once');
  }
}

/** What "restricted" needs in a container's securityContext that cdk8s-plus does not set by itself. */
const RESTRICTED_CONTAINER_DEFAULTS: Array<[string, unknown]> = [
  ['allowPrivilegeEscalation', false],
  ['capabilities', { drop: ['ALL'] }],
  ['runAsNonRoot', true],
  ['seccompProfile', { type: 'RuntimeDefault' }],
];

/** Requests as resolved; memory and ephemeral storage limited to their requests. Internal. */
export function containerResources(r: ResolvedResources): kplus.ContainerResources {
  return {
    cpu: { request: r.cpu, limit: r.cpuLimit },
    memory: { request: r.memory, limit: r.memory },
    ephemeralStorage: { request: r.ephemeralStorage, limit: r.ephemeralStorage },
  };
}

/** Pod Security "restricted" for one container, with the pod's numeric ids and a read-only root. Internal. */
export function restrictedSecurityContext(id: PythonServiceSecurityContext): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: id.runAsUser,
    group: id.runAsGroup,
    privileged: false,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: [kplus.Capability.ALL] },
    seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
  };
}

