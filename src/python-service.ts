import { ApiObject, Chart, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct, IConstruct } from 'constructs';
import { PythonServiceAutoscaling, PythonServiceDisruptionBudget, ServiceDisruptionBudget } from './availability';
import { BackupSchedule, BackupVolumeMode, PythonServiceBackup, validateBackupOptions } from './backup';
import { Exposure } from './exposure';
import { parseImageReference, versionLabelOf } from './image-reference';
import {
  LABEL_COMPONENT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_NAME,
  LABEL_PART_OF,
  LABEL_VERSION,
  MANAGED_BY,
} from './labels';
import { MigrationJob, PythonServiceMigrations } from './migrations';
import { PythonServiceMonitoring, ServiceMonitoring, validateMonitoringOptions } from './monitoring';
import { dnsEgressRule, NetworkPeer, NetworkProtocol, ServiceNetworkPolicy, validateNetworkRule } from './network-policy';
import { isSingleAttach, PythonServicePersistence, validatePersistence } from './persistence';
import { PythonServer, PythonServerConfig } from './python-server';
import { createAutoscaler, resolveAutoscaling, topologySpreadConstraints } from './scaling';
import {
  PodSecurityLevel, PodSecurityNamespace, PythonServiceSecurity, SecurityPolicy, validateAllowedImages, validateVolumeNames,
} from './security-policy';
import { isQualifiedName, PropValidator } from './validation';

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
 * HTTP health checks for a `PythonService`.
 */
export interface PythonServiceHealthCheck {
  /**
   * Path answered with 2xx when the app can serve traffic; used by the startup and readiness probes.
   * @default "/healthz"
   */
  readonly path?: string;

  /**
   * Path for the liveness probe. It must differ from `path` so that a slow dependency checked
   * by readiness does not get healthy pods restarted.
   * @default - a TCP check on the service port: it fails only when the server stops accepting connections
   */
  readonly livenessPath?: string;

  /**
   * How long the app may take to start before the startup probe gives up and restarts it.
   * @default Duration.minutes(2)
   */
  readonly startupTimeout?: Duration;
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
 * Graceful shutdown timing.
 */
export interface PythonServiceShutdown {
  /**
   * Pause before the server receives SIGTERM, so load balancers and kube-proxy stop sending new
   * requests first (endpoint removal and SIGTERM happen in parallel).
   * @default Duration.seconds(5)
   */
  readonly preStopPause?: Duration;

  /**
   * Extra time on top of the pause and the server's graceful timeout before the kubelet sends SIGKILL.
   * @default Duration.seconds(5)
   */
  readonly margin?: Duration;

  /**
   * An explicit terminationGracePeriodSeconds. It must cover the preStop pause plus the server's
   * graceful timeout, or in-flight requests are cut off by SIGKILL.
   * @default - preStopPause + the server's graceful timeout + margin
   */
  readonly terminationGracePeriod?: Duration;
}

/**
 * Props for `PythonService`.
 */
export interface PythonServiceProps {
  /**
   * The container image, e.g. `ghcr.io/acme/shop-api:1.4.2` or `...@sha256:...`. Kept verbatim.
   */
  readonly image: string;

  /**
   * Base name of every object (Deployment, Service, ServiceAccount, ...). A DNS-1035 label.
   * @default - the construct id in kebab-case
   */
  readonly name?: string;

  /**
   * How the container starts the app.
   * @default - the image's own ENTRYPOINT/CMD, with a 30 s graceful timeout assumed
   */
  readonly server?: PythonServer;

  /**
   * Container port the server listens on (named `http`).
   * @default 8080 - unprivileged, and what the source article uses
   */
  readonly port?: number;

  /**
   * Port of the Service in front of the pods.
   * @default 80 - clients reach `http://<name>` without a port
   */
  readonly servicePort?: number;

  /**
   * Number of pods.
   * @default 3 - survives one pod being rescheduled while another rolls
   */
  readonly replicas?: number;

  /**
   * CPU, memory and ephemeral storage per pod.
   * @default - 250m CPU, 256Mi memory (request = limit), 1Gi ephemeral storage
   */
  readonly resources?: PythonServiceResources;

  /**
   * Plain environment variables. They may override the Python defaults this construct sets
   * (PYTHONUNBUFFERED, WEB_CONCURRENCY, ...).
   * @default - none
   */
  readonly env?: { [name: string]: string };

  /**
   * Environment variables from Secrets, ConfigMaps or the downward API,
   * e.g. `{ DATABASE_URL: kplus.EnvValue.fromSecretValue({ secret, key: 'url' }) }`.
   * @default - none
   */
  readonly envValues?: { [name: string]: kplus.EnvValue };

  /**
   * Whole Secrets or ConfigMaps to load as environment variables,
   * e.g. `[kplus.Env.fromSecret(secret)]`.
   * @default - none
   */
  readonly envFrom?: kplus.EnvFrom[];

  /**
   * Health check paths and startup budget.
   * @default - startup and readiness on /healthz, liveness by TCP
   */
  readonly healthCheck?: PythonServiceHealthCheck;

  /**
   * How the service is reached.
   * @default Exposure.clusterIp()
   */
  readonly expose?: Exposure;

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
   * Graceful shutdown timing.
   * @default - 5 s preStop pause, 5 s margin
   */
  readonly shutdown?: PythonServiceShutdown;

  /**
   * Size limit of the writable `/tmp` (the root filesystem is read-only).
   * @default Size.mebibytes(256)
   */
  readonly tmpSize?: Size;

  /**
   * `app.kubernetes.io/version`.
   * @default - the image tag, else the first 12 digits of the digest, else "latest"
   */
  readonly version?: string;

  /**
   * `app.kubernetes.io/part-of`: the larger application this service belongs to.
   * @default - the service name
   */
  readonly partOf?: string;

  /**
   * Extra labels on every object and pod (not used in selectors).
   * @default - none
   */
  readonly labels?: { [key: string]: string };

  /**
   * Scale horizontally with an `autoscaling/v2` HorizontalPodAutoscaler. The Deployment then
   * omits `replicas`, so the autoscaler owns the count; setting both is an error.
   * @default - a fixed number of replicas
   */
  readonly autoscaling?: PythonServiceAutoscaling;

  /**
   * The PodDisruptionBudget, emitted whenever more than one replica can run.
   * @default - maxUnavailable 1
   */
  readonly disruptionBudget?: PythonServiceDisruptionBudget;

  /**
   * A PersistentVolumeClaim mounted into the pods.
   * @default - no persistent storage
   */
  readonly persistence?: PythonServicePersistence;

  /**
   * Database migrations run as ONE Job per release (never per-pod init containers, which race
   * across replicas).
   * @default - no migration Job
   */
  readonly migrations?: PythonServiceMigrations;

  /**
   * Prometheus monitoring: a ServiceMonitor (and optionally alert rules) for the metrics
   * endpoint, prometheus_client multiprocess mode for multi-worker servers, and a NetworkPolicy
   * rule admitting the scraper.
   * @default - not monitored
   */
  readonly monitoring?: PythonServiceMonitoring;

  /**
   * Scheduled Velero backups of this service's objects and volumes (the article's daily
   * backup). Needs the chart's namespace.
   * @default - no backups
   */
  readonly backup?: PythonServiceBackup;

  /**
   * Lock the service down: default-deny NetworkPolicies with explicit allows, CEL admission
   * rules (allowed images and volumes, Pod Security), and a synth-time self-check. Needs the
   * chart's namespace.
   * @default - pods are isolated for ingress only; no admission policy
   */
  readonly security?: PythonServiceSecurity;
}

/** Where the gunicorn heartbeat files go (a memory-backed emptyDir). */
const WORKER_TMP_DIR = '/run/gunicorn';
const DEFAULT_PORT = 8080;
const DEFAULT_SERVICE_PORT = 80;
const DEFAULT_REPLICAS = 3;
const DEFAULT_ID = 10001;
const PORT_NAME = 'http';

/** Service names per app root and namespace, to reject two services that would overwrite each other. */
const namesInUse = new WeakMap<IConstruct, Map<string, string>>();
/** Namespaces emitted with Pod Security Admission labels, per app root: namespace → owning service path. */
const namespacesEmitted = new WeakMap<IConstruct, Map<string, string>>();

/**
 * A containerized Python web app on Kubernetes: a Deployment behind a Service (and optionally an
 * Ingress), with a dedicated ServiceAccount and a NetworkPolicy, secure by default (Pod Security
 * "restricted") and aware of how Python servers behave in containers.
 *
 * Every child is a public property, so anything not covered by props can be changed through
 * cdk8s-plus APIs without JSON patches.
 */
export class PythonService extends Construct {
  /** Base name of every object. */
  public readonly name: string;
  /** The namespace the objects go to (the chart's). */
  public readonly namespace?: string;
  /** The container port the server listens on. */
  public readonly port: number;
  /** The Service port. */
  public readonly servicePort: number;
  /** Labels that select this service's pods and nothing else: name, instance and component. */
  public readonly selectorLabels: { [key: string]: string };
  /** Labels on every object: the selector labels plus version, part-of, managed-by and user labels. */
  public readonly labels: { [key: string]: string };
  /** What the server produced: command, env, workers and graceful timeout. */
  public readonly serverConfig: PythonServerConfig;
  /** terminationGracePeriodSeconds: preStop pause + server graceful timeout + margin. */
  public readonly terminationGracePeriod: Duration;
  /** The dedicated ServiceAccount (no API token mounted). */
  public readonly serviceAccount: kplus.ServiceAccount;
  /** The Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The app container. */
  public readonly container: kplus.Container;
  /** The Service. */
  public readonly service: kplus.Service;
  /** The Ingress, when exposed through one. */
  public readonly ingress?: kplus.Ingress;
  /** The NetworkPolicy isolating the pods: ingress to the service port only; egress open until restricted. */
  public readonly networkPolicy: ServiceNetworkPolicy;
  /** The exposure in effect. */
  public readonly exposure: Exposure;
  /** The HorizontalPodAutoscaler, with `autoscaling`. */
  public readonly autoscaler?: kplus.HorizontalPodAutoscaler;
  /** The PodDisruptionBudget, when more than one replica can run. */
  public readonly disruptionBudget?: ServiceDisruptionBudget;
  /** The PersistentVolumeClaim, with `persistence`. */
  public readonly persistentVolumeClaim?: kplus.PersistentVolumeClaim;
  /** The ServiceMonitor (and PrometheusRule), with `monitoring`. */
  public readonly monitoring?: ServiceMonitoring;
  /** The container port serving metrics, with `monitoring`. */
  public readonly metricsPort?: number;
  /** The Velero Schedule, with `backup`. */
  public readonly backup?: BackupSchedule;
  /** The migration Job, with `migrations`. */
  public readonly migrationJob?: MigrationJob;
  /** The admission policy and self-check, with `security`. */
  public readonly securityPolicy?: SecurityPolicy;
  /** The Pod Security Admission namespace, with `security.podSecurityAdmission`. */
  public readonly podSecurityNamespace?: PodSecurityNamespace;
  /** The image reference, verbatim. */
  public readonly image: string;
  /** The Pod and container security settings every pod of this service uses. */
  public readonly podIdentity: PythonServiceSecurityContext;

  private readonly validator: PropValidator;
  private readonly props: PythonServiceProps;
  private readonly cpuMillis: number;
  private resources!: ResolvedResources;
  private tmpSize!: Size;

  constructor(scope: Construct, id: string, props: PythonServiceProps) {
    super(scope, id);
    const v = (this.validator = new PropValidator(`PythonService '${id}'`));
    if (props === undefined || props === null || typeof props !== 'object') {
      v.fail('props', props, 'must be an object with at least "image"');
    }

    this.name = props.name ?? kebabCase(id);
    validateServiceName(v, props.name === undefined ? 'name (derived from the construct id)' : 'name', this.name);
    this.namespace = Chart.of(this).namespace;
    if (this.namespace !== undefined) v.dnsLabel('chart namespace', this.namespace);
    this.checkNameIsFree();

    if (typeof props.image !== 'string' || props.image.trim() === '') {
      v.fail('image', props.image, 'must be a non-empty container image reference');
    }
    const image = parseImageReference(props.image);
    if (!image) {
      v.fail('image', props.image, 'is not a valid image reference ([registry/]repository[:tag][@digest], repository in lower case)');
    }

    if (props.security) this.validateSecurity(v, props.security, props.image);

    this.port = props.port ?? DEFAULT_PORT;
    v.integerInRange('port', this.port, 1, 65535);
    this.servicePort = props.servicePort ?? DEFAULT_SERVICE_PORT;
    v.integerInRange('servicePort', this.servicePort, 1, 65535);
    v.integerInRange('replicas', props.replicas, 0, 10_000);
    const autoscaling = props.autoscaling !== undefined ? resolveAutoscaling(v, props.autoscaling) : undefined;
    if (autoscaling && props.replicas !== undefined) {
      v.fail('replicas', props.replicas, 'cannot be combined with autoscaling: the autoscaler owns the replica count (set autoscaling.minReplicas instead)');
    }
    const replicas = autoscaling ? autoscaling.minReplicas : props.replicas ?? DEFAULT_REPLICAS;
    const maxReplicas = autoscaling ? autoscaling.maxReplicas : replicas;
    if (props.persistence !== undefined) validatePersistence(v, props.persistence, replicas, autoscaling !== undefined);
    const singleAttachVolume = props.persistence !== undefined
      && isSingleAttach(props.persistence.accessMode ?? kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE);

    const resources = validateResources(v, props.resources ?? {});
    const tmpSize = props.tmpSize ?? Size.mebibytes(256);
    v.wholeSize('tmpSize', tmpSize, 'Mi');
    validateEnv(v, props.env, props.envValues);

    const health = props.healthCheck ?? {};
    const healthPath = health.path ?? '/healthz';
    v.httpPath('healthCheck.path', healthPath);
    v.httpPath('healthCheck.livenessPath', health.livenessPath);
    if (health.livenessPath !== undefined && health.livenessPath === healthPath) {
      v.fail('healthCheck.livenessPath', health.livenessPath, 'must differ from healthCheck.path: a readiness check that fails on a slow dependency must not restart the pod');
    }
    const startupTimeout = health.startupTimeout ?? Duration.minutes(2);
    v.positiveDuration('healthCheck.startupTimeout', startupTimeout);

    const identity: Required<PythonServiceSecurityContext> = {
      runAsUser: props.securityContext?.runAsUser ?? DEFAULT_ID,
      runAsGroup: props.securityContext?.runAsGroup ?? DEFAULT_ID,
      fsGroup: props.securityContext?.fsGroup ?? DEFAULT_ID,
    };
    v.integerInRange('securityContext.runAsUser', identity.runAsUser, 1, 2147483647);
    v.integerInRange('securityContext.runAsGroup', identity.runAsGroup, 1, 2147483647);
    v.integerInRange('securityContext.fsGroup', identity.fsGroup, 1, 2147483647);
    this.podIdentity = identity;
    this.image = props.image;
    this.props = props;
    this.cpuMillis = resources.cpuMillis;

    const preStopPause = props.shutdown?.preStopPause ?? Duration.seconds(5);
    const margin = props.shutdown?.margin ?? Duration.seconds(5);
    v.positiveDuration('shutdown.preStopPause', preStopPause, { allowZero: true });
    v.positiveDuration('shutdown.margin', margin, { allowZero: true });

    this.exposure = props.expose ?? Exposure.clusterIp();
    if (!(this.exposure instanceof Exposure)) {
      v.fail('expose', props.expose, 'must come from Exposure.clusterIp(), .loadBalancer(), .nodePort() or .ingress()');
    }
    validateExposure(v, this.exposure);

    const version = props.version ?? versionLabelOf(image!);
    v.labelMap('version', { [LABEL_VERSION]: version });
    const partOf = props.partOf ?? this.name;
    v.labelMap('partOf', { [LABEL_PART_OF]: partOf });
    v.labelMap('labels', props.labels);

    this.serverConfig = (props.server ?? PythonServer.imageDefault()).bind({
      port: this.port,
      cpuMillis: resources.cpuMillis,
      workerTmpDir: WORKER_TMP_DIR,
      constructLabel: `PythonService '${id}'`,
    });
    const needed = preStopPause.toSeconds() + this.serverConfig.gracefulTimeout.toSeconds();
    const explicitGrace = props.shutdown?.terminationGracePeriod;
    if (explicitGrace !== undefined) {
      v.positiveDuration('shutdown.terminationGracePeriod', explicitGrace);
      if (explicitGrace.toSeconds() < needed) {
        v.fail('shutdown.terminationGracePeriod', explicitGrace,
          `must be at least the preStop pause (${preStopPause.toSeconds()}s) plus the server's graceful timeout (${this.serverConfig.gracefulTimeout.toSeconds()}s) = ${needed}s, or SIGKILL cuts off in-flight requests`);
      }
    }
    this.terminationGracePeriod = explicitGrace ?? Duration.seconds(needed + margin.toSeconds());

    this.selectorLabels = {
      [LABEL_NAME]: this.name,
      [LABEL_INSTANCE]: this.name,
      [LABEL_COMPONENT]: 'server',
    };
    this.labels = {
      ...(props.labels ?? {}),
      ...this.selectorLabels,
      [LABEL_VERSION]: version,
      [LABEL_PART_OF]: partOf,
      [LABEL_MANAGED_BY]: MANAGED_BY,
    };

    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: this.metadata(this.name),
      automountToken: false,
    });

    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: this.metadata(this.name),
      // Select by the recommended labels, not by cdk8s' path-hash label, so selectors stay readable
      // and stable when the construct tree is refactored.
      select: false,
      replicas: autoscaling ? undefined : replicas,
      podMetadata: { labels: { ...this.labels } },
      serviceAccount: this.serviceAccount,
      automountServiceAccountToken: false,
      terminationGracePeriod: this.terminationGracePeriod,
      securityContext: this._podSecurityContext(),
      strategy: rolloutStrategy(maxReplicas, singleAttachVolume),
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: this.selectorLabels }));

    const probeTimeout = Duration.seconds(2);
    this.resources = resources;
    this.container = this.deployment.addContainer({
      ...this._containerBase('app'),
      command: this.serverConfig.command,
      ports: [{ number: this.port, name: PORT_NAME, protocol: kplus.Protocol.TCP }],
      startup: kplus.Probe.fromHttpGet(healthPath, {
        port: this.port,
        periodSeconds: Duration.seconds(2),
        timeoutSeconds: probeTimeout,
        failureThreshold: Math.max(1, Math.ceil(startupTimeout.toSeconds() / 2)),
      }),
      readiness: kplus.Probe.fromHttpGet(healthPath, {
        port: this.port,
        periodSeconds: Duration.seconds(10),
        timeoutSeconds: probeTimeout,
        failureThreshold: 3,
        successThreshold: 1,
      }),
      liveness: health.livenessPath !== undefined
        ? kplus.Probe.fromHttpGet(health.livenessPath, {
          port: this.port,
          periodSeconds: Duration.seconds(20),
          timeoutSeconds: probeTimeout,
          failureThreshold: 3,
        })
        : kplus.Probe.fromTcpSocket({
          port: this.port,
          periodSeconds: Duration.seconds(20),
          timeoutSeconds: probeTimeout,
          failureThreshold: 3,
        }),
      lifecycle: preStopPause.toSeconds() > 0
        ? {
          // `sleep` is missing from distroless Python images and the native sleep action needs
          // Kubernetes 1.29+, but the interpreter is always there.
          preStop: kplus.Handler.fromCommand(['python', '-c', `import time; time.sleep(${preStopPause.toSeconds()})`]),
        }
        : undefined,
    });

    this.tmpSize = tmpSize;
    this.container.mount('/tmp', this._tmpVolume(this.deployment));
    if (this.serverConfig.needsWorkerTmpDir) {
      this.container.mount(WORKER_TMP_DIR, kplus.Volume.fromEmptyDir(this, 'WorkerTmpVolume', 'worker-tmp', {
        medium: kplus.EmptyDirMedium.MEMORY,
        sizeLimit: Size.mebibytes(16),
      }));
    }

    this.service = new kplus.Service(this, 'Service', {
      metadata: this.metadata(this.name),
      type: this.exposure.serviceType,
      ports: [{
        name: PORT_NAME,
        port: this.servicePort,
        targetPort: this.port,
        protocol: kplus.Protocol.TCP,
        nodePort: this.exposure.requestedNodePort,
      }],
    });
    for (const [key, value] of Object.entries(this.selectorLabels)) {
      this.service.selectLabel(key, value);
    }

    const ingressOptions = this.exposure.ingressOptions;
    if (ingressOptions) {
      this.ingress = new kplus.Ingress(this, 'Ingress', {
        metadata: { ...this.metadata(this.name), annotations: ingressOptions.annotations },
        className: ingressOptions.className,
        rules: [{
          host: ingressOptions.host,
          path: ingressOptions.path ?? '/',
          pathType: kplus.HttpIngressPathType.PREFIX,
          backend: kplus.IngressBackend.fromService(this.service, { port: this.servicePort }),
        }],
        tls: ingressOptions.tlsSecretName
          ? [{ hosts: [ingressOptions.host], secret: kplus.Secret.fromSecretName(this, 'TlsSecret', ingressOptions.tlsSecretName) }]
          : undefined,
      });
    }

    if (props.persistence) {
      this.persistentVolumeClaim = new kplus.PersistentVolumeClaim(this, 'Data', {
        metadata: this.metadata(this.objectName('data')),
        storage: props.persistence.size,
        storageClassName: props.persistence.storageClassName,
        accessModes: [props.persistence.accessMode ?? kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
        volumeMode: kplus.PersistentVolumeMode.FILE_SYSTEM,
      });
      this.container.mount(props.persistence.mountPath ?? '/data',
        kplus.Volume.fromPersistentVolumeClaim(this, 'DataVolume', this.persistentVolumeClaim, { name: 'data' }));
    }

    if (autoscaling) {
      this.autoscaler = createAutoscaler(this, 'Autoscaler', this.metadata(this.objectName('hpa')), this.deployment, autoscaling);
    }

    if (maxReplicas > 1) {
      this.disruptionBudget = new ServiceDisruptionBudget(this, 'DisruptionBudget', {
        metadata: this.metadata(this.objectName('pdb')),
        podSelector: this.selectorLabels,
        maxUnavailable: props.disruptionBudget?.maxUnavailable,
        errorLabel: `PythonService '${id}'`,
      });
      ApiObject.of(this.deployment).addJsonPatch(
        JsonPatch.add('/spec/template/spec/topologySpreadConstraints', topologySpreadConstraints(this.selectorLabels)),
      );
      // A soft anti-affinity on top of the spread: kube-score and kube-linter look for it, and it
      // keeps replicas apart in clusters whose nodes lack zone labels.
      this.deployment.scheduling.separate(kplus.Pods.select(this, 'Peers', { labels: this.selectorLabels }), {
        topology: kplus.Topology.HOSTNAME,
        weight: 100,
      });
    } else if (props.disruptionBudget !== undefined) {
      v.fail('disruptionBudget', props.disruptionBudget, 'needs more than one replica: a budget for a single pod either blocks node drains or protects nothing');
    }

    this.networkPolicy = new ServiceNetworkPolicy(this, 'NetworkPolicy', {
      metadata: this.metadata(this.objectName('netpol')),
      podSelector: this.selectorLabels,
      errorLabel: `PythonService '${id}'`,
    });
    // Pods are isolated; only the app port is open, to everyone unless a security policy narrows it.
    this.networkPolicy.addIngressRule({ peers: this.ingressPeers(props.security), ports: [{ port: this.port, protocol: NetworkProtocol.TCP }] });

    if (props.monitoring) {
      const m = props.monitoring;
      const prefix = 'monitoring.';
      validateMonitoringOptions(v, prefix, m);
      v.integerInRange('monitoring.port', m.port, 1, 65535);
      if (m.port !== undefined && m.port !== this.port && m.port === this.servicePort && this.servicePort !== this.port) {
        v.fail('monitoring.port', m.port, `collides with servicePort (${this.servicePort})`);
      }
      const scraperNamespace = m.scraperNamespace ?? 'monitoring';
      v.dnsLabel('monitoring.scraperNamespace', scraperNamespace);
      const multiprocessDir = m.multiprocessDir ?? '/run/prometheus';
      v.httpPath('monitoring.multiprocessDir', multiprocessDir);
      const mounted = (this.container.mounts ?? []).map((mount) => mount.path);
      if (mounted.includes(multiprocessDir)) {
        v.fail('monitoring.multiprocessDir', multiprocessDir, 'is already used by another volume of this service');
      }

      this.metricsPort = m.port ?? this.port;
      let portName = PORT_NAME;
      if (this.metricsPort !== this.port) {
        portName = 'metrics';
        this.container.addPort({ number: this.metricsPort, name: portName, protocol: kplus.Protocol.TCP });
        this.service.bind(this.metricsPort, { name: portName, targetPort: this.metricsPort, protocol: kplus.Protocol.TCP });
      }
      if (this.serverConfig.workers > 1) {
        // Each worker process has its own registry; prometheus_client aggregates through files here.
        this.container.env.addVariable('PROMETHEUS_MULTIPROC_DIR', kplus.EnvValue.fromValue(multiprocessDir));
        this.container.mount(multiprocessDir, kplus.Volume.fromEmptyDir(this, 'MetricsVolume', 'prometheus-multiproc', {
          medium: kplus.EmptyDirMedium.MEMORY,
          sizeLimit: Size.mebibytes(64),
        }));
      }
      this.monitoring = new ServiceMonitoring(this, 'Monitoring', {
        service: this.service,
        serviceSelector: this.selectorLabels,
        portName,
        name: this.name,
        namespace: this.namespace,
        path: m.path,
        interval: m.interval,
        scrapeTimeout: m.scrapeTimeout,
        labels: { ...this.labels, ...(m.labels ?? {}) },
        alerts: m.alerts,
        alertOptions: m.alertOptions,
        deploymentName: this.name,
        autoscalerName: this.autoscaler ? this.objectName('hpa') : undefined,
      });
      this.networkPolicy.addIngressRule({
        peers: [{ namespaceName: scraperNamespace }],
        ports: [{ port: this.metricsPort, protocol: NetworkProtocol.TCP }],
      });
    }

    if (props.backup) {
      validateBackupOptions(v, 'backup.', props.backup);
      if (this.namespace === undefined) {
        v.fail('backup', props.backup.schedule, 'needs the app namespace, which Velero\'s Schedule must name: create the chart with { namespace: ... }');
      }
      const volumes = props.backup.volumes ?? (props.persistence ? BackupVolumeMode.SNAPSHOT : BackupVolumeMode.NONE);
      if (volumes === BackupVolumeMode.FILE_SYSTEM && !props.persistence) {
        v.fail('backup.volumes', volumes, 'needs persistence: there is no volume to back up');
      }
      this.backup = new BackupSchedule(this, 'Backup', {
        ...props.backup,
        volumes,
        name: this.name,
        namespace: this.namespace!,
        // Every object of this service (all components), and nothing of any other service.
        selector: { [LABEL_NAME]: this.name, [LABEL_INSTANCE]: this.name },
        fileSystemVolumes: props.persistence ? ['data'] : [],
        hookContainer: 'app',
        labels: this.labels,
      });
      for (const [key, value] of Object.entries(this.backup.podAnnotations)) {
        this.deployment.podMetadata.addAnnotation(key, value);
      }
    }

    if (props.migrations) {
      this.migrationJob = new MigrationJob(this, 'Migrations', { ...props.migrations, service: this });
    }

    if (props.security) {
      this.securityPolicy = this.applySecurity(props.security);
      if (props.security.podSecurityAdmission) {
        const owners = namespacesEmitted.get(this.node.root) ?? new Map<string, string>();
        namespacesEmitted.set(this.node.root, owners);
        const owner = owners.get(this.namespace!);
        if (owner !== undefined) {
          v.fail('security.podSecurityAdmission', true, `would emit Namespace "${this.namespace}" a second time (the PythonService at "${owner}" already does); set it on one service only`);
        }
        owners.set(this.namespace!, this.node.path);
        this.podSecurityNamespace = new PodSecurityNamespace(this, 'Namespace', {
          name: this.namespace!,
          level: props.security.podSecurityLevel,
        });
      }
    }

    // Only a service that was built completely claims its name.
    this.reserveName();
  }

  private validateSecurity(v: PropValidator, s: PythonServiceSecurity, image: string): void {
    validateAllowedImages(v, 'security.allowedImages', s.allowedImages);
    if (typeof image === 'string' && !s.allowedImages.some((prefix) => image.startsWith(prefix))) {
      v.fail('image', image, `is not under any of security.allowedImages (${s.allowedImages.join(', ')})`);
    }
    validateVolumeNames(v, 'security.allowedVolumes', s.allowedVolumes);
    (s.ingressFrom ?? []).forEach((peer, i) => validateNetworkRule(v, `security.ingressFrom[${i}]`, { peers: [peer] }));
    (s.egressTo ?? []).forEach((rule, i) => validateNetworkRule(v, `security.egressTo[${i}]`, rule));
    if (s.ingressFrom !== undefined && s.ingressFrom.length === 0) {
      v.fail('security.ingressFrom', s.ingressFrom, 'is empty, which would make the service unreachable; leave it out for the default');
    }
    if (this.namespace === undefined) {
      v.fail('security', s.allowedImages, 'needs the app namespace, which the admission policy binds to: create the chart with { namespace: ... }');
    }
  }

  /** Who may reach the service port. */
  private ingressPeers(security: PythonServiceSecurity | undefined): NetworkPeer[] | undefined {
    if (!security) return undefined;
    if (security.ingressFrom) return [...security.ingressFrom];
    // Behind a LoadBalancer, NodePort or Ingress the traffic comes from outside the namespace
    // (the controller or the internet); a cluster-internal service only serves its neighbours.
    return this.exposure.clusterInternal ? [{ podLabels: {} }] : undefined;
  }

  private applySecurity(s: PythonServiceSecurity): SecurityPolicy {
    for (const policy of [this.networkPolicy, this.migrationJob?.networkPolicy]) {
      if (!policy) continue;
      policy.restrictEgress();
      policy.addEgressRule(dnsEgressRule());
      for (const rule of s.egressTo ?? []) policy.addEgressRule(rule);
    }

    const workloads: kplus.AbstractPod[] = [this.deployment, ...(this.migrationJob ? [this.migrationJob.job] : [])];
    // kplus adds a mounted volume to the pod only when it renders, so collect them from the mounts too.
    const emitted = [...new Set(workloads.flatMap((w) => [
      ...w.volumes.map((vol) => vol.name),
      ...w.containers.flatMap((c) => c.mounts.map((mount) => mount.volume.name)),
    ]))].sort();
    const allowedVolumes = s.allowedVolumes ?? emitted;
    for (const name of emitted) {
      if (!allowedVolumes.includes(name)) {
        this.validator.fail('security.allowedVolumes', s.allowedVolumes, `does not include volume "${name}", which this service mounts`);
      }
    }
    const policy = new SecurityPolicy(this, 'SecurityPolicy', {
      name: this.name,
      namespace: this.namespace!,
      matchLabels: { [LABEL_NAME]: this.name, [LABEL_INSTANCE]: this.name },
      allowedImages: s.allowedImages,
      allowedVolumes,
      admissionEngine: s.admissionEngine,
      admissionApiVersion: s.admissionApiVersion,
      enforcement: s.enforcement,
      podSecurityLevel: s.podSecurityLevel ?? PodSecurityLevel.RESTRICTED,
      labels: this.labels,
    });
    for (const workload of workloads) policy.addWorkload(workload);
    return policy;
  }

  /**
   * The container settings every pod of this service shares (app and migration Job): image, env,
   * resources and the restricted security context.
   * @internal
   */
  public _containerBase(name: string): kplus.ContainerProps {
    return {
      name,
      image: this.image,
      imagePullPolicy: this.props.imagePullPolicy ?? kplus.ImagePullPolicy.ALWAYS,
      envVariables: this.buildEnv(this.props, this.cpuMillis),
      envFrom: this.props.envFrom,
      resources: {
        cpu: { request: this.resources.cpu, limit: this.props.resources?.cpuLimit },
        memory: { request: this.resources.memory, limit: this.resources.memory },
        ephemeralStorage: { request: this.resources.ephemeralStorage, limit: this.resources.ephemeralStorage },
      },
      securityContext: {
        ensureNonRoot: true,
        user: this.podIdentity.runAsUser,
        group: this.podIdentity.runAsGroup,
        privileged: false,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: [kplus.Capability.ALL] },
        seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
      },
    };
  }

  /**
   * The pod security context every pod of this service uses.
   * @internal
   */
  public _podSecurityContext(): kplus.PodSecurityContextProps {
    return {
      ensureNonRoot: true,
      user: this.podIdentity.runAsUser,
      group: this.podIdentity.runAsGroup,
      fsGroup: this.podIdentity.fsGroup,
      fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
    };
  }

  /**
   * A size-limited `/tmp` volume for a pod of this service.
   * @internal
   */
  public _tmpVolume(scope: Construct): kplus.Volume {
    return kplus.Volume.fromEmptyDir(scope, 'TmpVolume', 'tmp', { sizeLimit: this.tmpSize });
  }

  /**
   * Labels for another component of this service (e.g. "migration"): the common labels with
   * that component.
   * @internal
   */
  public _componentLabels(component: string): { [key: string]: string } {
    return { ...this.labels, [LABEL_COMPONENT]: component };
  }

  /**
   * `<name>-<suffix>`, checked against the 63-character limit for object names.
   */
  public objectName(suffix: string): string {
    const full = `${this.name}-${suffix}`;
    if (full.length > 63) {
      this.validator.fail('name', this.name, `is too long: the derived object name "${full}" has ${full.length} characters; the limit is 63`);
    }
    return full;
  }

  private metadata(name: string): { name: string; labels: { [key: string]: string } } {
    return { name, labels: { ...this.labels } };
  }

  private buildEnv(props: PythonServiceProps, cpuMillis: number): { [name: string]: kplus.EnvValue } {
    const env: { [name: string]: kplus.EnvValue } = {};
    const plain: { [name: string]: string } = {
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      // Python 3.13+ reads this for os.cpu_count(); without it libraries size pools from the node's cores.
      PYTHON_CPU_COUNT: String(Math.max(1, Math.ceil(cpuMillis / 1000))),
      TMPDIR: '/tmp',
      ...this.serverConfig.env,
      ...(props.env ?? {}),
    };
    for (const key of Object.keys(plain).sort()) {
      env[key] = kplus.EnvValue.fromValue(plain[key]);
    }
    for (const key of Object.keys(props.envValues ?? {}).sort()) {
      env[key] = props.envValues![key];
    }
    return env;
  }

  private namesInUseHere(): Map<string, string> {
    let names = namesInUse.get(this.node.root);
    if (!names) {
      names = new Map();
      namesInUse.set(this.node.root, names);
    }
    return names;
  }

  private checkNameIsFree(): void {
    const existing = this.namesInUseHere().get(`${this.namespace ?? ''}/${this.name}`);
    if (existing !== undefined) {
      this.validator.fail('name', this.name, `is already used by the PythonService at "${existing}" in namespace "${this.namespace ?? '(default)'}"; objects would overwrite each other`);
    }
  }

  private reserveName(): void {
    this.namesInUseHere().set(`${this.namespace ?? ''}/${this.name}`, this.node.path);
  }

}

function rolloutStrategy(maxReplicas: number, singleAttachVolume: boolean): kplus.DeploymentStrategy {
  // A volume that attaches to one node cannot be mounted by a surge pod elsewhere: stop first.
  if (singleAttachVolume) return kplus.DeploymentStrategy.recreate();
  return kplus.DeploymentStrategy.rollingUpdate({
    // Never below capacity: new pods come up before old ones go.
    maxSurge: maxReplicas > 1 ? kplus.PercentOrAbsolute.percent(25) : kplus.PercentOrAbsolute.absolute(1),
    maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
  });
}

interface ResolvedResources {
  readonly cpu: kplus.Cpu;
  readonly cpuMillis: number;
  readonly memory: Size;
  readonly ephemeralStorage: Size;
}

function validateResources(v: PropValidator, resources: PythonServiceResources): ResolvedResources {
  const cpu = resources.cpu ?? kplus.Cpu.millis(250);
  const cpuMillis = cpuToMillis(v, 'resources.cpu', cpu);
  if (resources.cpuLimit !== undefined) {
    const limit = cpuToMillis(v, 'resources.cpuLimit', resources.cpuLimit);
    if (limit < cpuMillis) v.fail('resources.cpuLimit', resources.cpuLimit.amount, `must not be below resources.cpu (${cpu.amount})`);
  }
  const memory = resources.memory ?? Size.mebibytes(256);
  v.wholeSize('resources.memory', memory, 'Mi');
  const ephemeralStorage = resources.ephemeralStorage ?? Size.gibibytes(1);
  v.wholeSize('resources.ephemeralStorage', ephemeralStorage, 'Gi');
  return { cpu, cpuMillis, memory, ephemeralStorage };
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

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function validateEnv(v: PropValidator, env?: { [name: string]: string }, envValues?: { [name: string]: kplus.EnvValue }): void {
  for (const [name, value] of Object.entries(env ?? {})) {
    if (!ENV_NAME.test(name)) v.fail('env name', name, 'must be a valid variable name: letters, digits and "_", not starting with a digit');
    if (typeof value !== 'string') v.fail(`env.${name}`, value, 'must be a string (quote numbers and booleans)');
  }
  for (const name of Object.keys(envValues ?? {})) {
    if (!ENV_NAME.test(name)) v.fail('envValues name', name, 'must be a valid variable name: letters, digits and "_", not starting with a digit');
    if (env && name in env) v.fail('envValues name', name, 'is also set in env; set each variable once');
  }
}

function validateServiceName(v: PropValidator, prop: string, name: string): void {
  // Service names are DNS-1035 labels: they must start with a letter.
  if (typeof name !== 'string' || !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    v.fail(prop, name, 'must be a DNS-1035 label: lower-case letters, digits and "-", starting with a letter and ending with a letter or digit');
  }
  if (name.length > 63) v.fail(prop, name, `is ${name.length} characters long; the limit is 63`);
}

function validateExposure(v: PropValidator, exposure: Exposure): void {
  v.integerInRange('expose.nodePort', exposure.requestedNodePort, 1, 65535);
  const ingress = exposure.ingressOptions;
  if (!ingress) return;
  const host = ingress.host;
  if (typeof host !== 'string' || !/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(host) || host.length > 253) {
    v.fail('expose.host', host, 'must be a lower-case DNS host name such as "shop.example.com" (no scheme, port or path)');
  }
  v.httpPath('expose.path', ingress.path);
  if (ingress.tlsSecretName !== undefined) v.dnsSubdomain('expose.tlsSecretName', ingress.tlsSecretName);
  if (ingress.className !== undefined) v.dnsSubdomain('expose.className', ingress.className);
  for (const [key, value] of Object.entries(ingress.annotations ?? {})) {
    if (!isQualifiedName(key)) v.fail('expose.annotations key', key, 'must be a qualified name such as "cert-manager.io/cluster-issuer"');
    if (typeof value !== 'string') v.fail(`expose.annotations["${key}"]`, value, 'must be a string');
  }
}

/** "ShopApi" → "shop-api"; "api_v2" → "api-v2". */
function kebabCase(id: string): string {
  const kebab = id
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();
  return kebab;
}
