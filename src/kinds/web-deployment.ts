import { Duration, Size } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { HealthProbe, HealthProbeKind, ResolvedProbe, resolveProbe, toKplusProbe, validateHostHeader } from '../core/health-probe';
import { KUBERNETES_FEATURES, KubernetesVersion, requireKubernetes } from '../core/kubernetes-version';
import { kplus } from '../core/plus';
import { setPreStopSleep, setProbeHostHeaders } from '../core/plus-gaps';
import { PythonPodTemplate } from '../core/python-pod-template';
import { ServiceIdentity } from '../core/service-identity';
import { PropValidator } from '../core/validation';
import { OWN_VOLUME_NAMES } from '../core/volume-names';
import { PythonServerConfig } from '../python/python-server';

/**
 * Health checks for a `PythonService`.
 */
export interface PythonServiceHealthCheck {
  /**
   * Path answered with 2xx when the app can serve traffic; used by the startup and readiness probes.
   * @default - "/healthz" for the gunicorn and uvicorn presets; none for `PythonServer.command()` and the image's own command, whose startup and readiness probes are TCP on the port (the library cannot know that app's paths: set this, or `readiness`)
   */
  readonly path?: string;

  /**
   * Path for an HTTP liveness probe. It must differ from `path` so that a slow dependency checked
   * by readiness does not get healthy pods restarted.
   * @default - see `liveness`
   */
  readonly livenessPath?: string;

  /**
   * The `Host` header of the HTTP probes. Django with `DEBUG=False` answers a request whose host
   * is not in `ALLOWED_HOSTS` with 400, and the kubelet sends `Host: <pod IP>:<port>`, so every
   * probe would fail. Sent as an `httpHeaders` entry (`httpGet.host` is the address to connect to).
   * List it in `ALLOWED_HOSTS`.
   * @default - the first host name the service is exposed under that is not a wildcard; else the Service's in-cluster name, `<name>.<namespace>.svc` (`<name>` in a chart without a namespace), which needs no cluster domain
   */
  readonly host?: string;

  /**
   * How long the app may take to start before the startup probe gives up and restarts it.
   * @default Duration.minutes(2)
   */
  readonly startupTimeout?: Duration;

  /**
   * The startup probe, instead of the default.
   * @default - HTTP GET on `path` every 2 s (2 s timeout) for up to `startupTimeout`; TCP on the port when there is no `path` (a command or the image's own)
   */
  readonly startup?: HealthProbe;

  /**
   * The readiness probe, instead of the default.
   * @default - HTTP GET on `path` every 10 s with a 5 s timeout, NotReady after 3 failures in a row (30 s), so a few slow requests on busy sync workers do not take every pod out of the Service at once; TCP on the port when there is no `path` (a command or the image's own)
   */
  readonly readiness?: HealthProbe;

  /**
   * The liveness probe, instead of the default. Liveness never runs the readiness check: a view
   * that checks the database would restart every pod during a database outage.
   * @default - TCP on the port every 20 s, restart after 3 failures; HTTP GET on `livenessPath` when set (a path that checks no dependency, e.g. to catch a wedged event loop, which still accepts TCP connections)
   */
  readonly liveness?: HealthProbe;
}

/**
 * How the pod pauses before the server gets SIGTERM.
 */
export enum PreStopMethod {
  /** The kubelet's own `preStop.sleep` action (on by default since Kubernetes 1.30, GA in 1.34): no process in the container. */
  SLEEP_ACTION = 'sleep-action',
  /** `python -c "import time; time.sleep(N)"` in the container, for clusters before 1.30 (`sleep` is missing from distroless images, the interpreter never is). */
  PYTHON_EXEC = 'python-exec',
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
   * How the pause is made.
   * @default - PreStopMethod.SLEEP_ACTION; PYTHON_EXEC when the app's oldest Kubernetes version is before 1.30, which lacks the sleep action (see `KubernetesVersion.setOldest`)
   */
  readonly preStopMethod?: PreStopMethod;

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

/** Where the gunicorn heartbeat files go (a memory-backed emptyDir). */
export const WORKER_TMP_DIR = '/run/gunicorn';
/** The name of the web container's port. */
export const HTTP_PORT_NAME = 'http';
/** The component label of the web server. */
export const WEB_COMPONENT = 'server';

/** Health checks after defaults and validation. */
export interface ResolvedHealthCheck {
  readonly startupTimeout: Duration;
  readonly startup?: ResolvedProbe;
  readonly readiness?: ResolvedProbe;
  readonly liveness?: ResolvedProbe;
}

export function resolveHealthCheck(
  v: PropValidator, health: PythonServiceHealthCheck,
  context: { port: number; exposedHost?: string; inClusterHost: string; defaultPath?: string },
): ResolvedHealthCheck {
  const path = health.path ?? context.defaultPath;
  v.httpPath('healthCheck.path', path);
  v.httpPath('healthCheck.livenessPath', health.livenessPath);
  if (health.livenessPath !== undefined && health.livenessPath === path) {
    v.fail('healthCheck.livenessPath', health.livenessPath, 'must differ from healthCheck.path: a readiness check that fails on a slow dependency must not restart the pod');
  }
  if (health.livenessPath !== undefined && health.liveness !== undefined) {
    v.fail('healthCheck.livenessPath', health.livenessPath, 'cannot be combined with healthCheck.liveness; put the path into HealthProbe.http({ path })');
  }
  const startupTimeout = health.startupTimeout ?? Duration.minutes(2);
  v.positiveDuration('healthCheck.startupTimeout', startupTimeout);
  const host = health.host ?? context.exposedHost ?? context.inClusterHost;
  if (health.host !== undefined) validateHostHeader(v, 'healthCheck.host', health.host);

  const seconds = (s: number) => Duration.seconds(s);
  // Without a path the app's routes are unknown: a guessed one would fail every probe and restart the pod.
  const trafficProbe = () => (path === undefined ? HealthProbe.tcp() : HealthProbe.http({ path }));
  const startup = resolveProbe(v, 'healthCheck.startup', health.startup ?? trafficProbe(), {
    port: context.port, host, period: seconds(2), timeout: seconds(2), failureThreshold: Math.max(1, Math.ceil(startupTimeout.toSeconds() / 2)),
  });
  const readiness = resolveProbe(v, 'healthCheck.readiness', health.readiness ?? trafficProbe(), {
    port: context.port, host, period: seconds(10), timeout: seconds(5), failureThreshold: 3,
  }, { readiness: true });
  const defaultLiveness = health.livenessPath !== undefined ? HealthProbe.http({ path: health.livenessPath }) : HealthProbe.tcp();
  const liveness = resolveProbe(v, 'healthCheck.liveness', health.liveness ?? defaultLiveness, {
    port: context.port, host, period: seconds(20), timeout: seconds(5), failureThreshold: 3,
  });
  return { startupTimeout, startup, readiness, liveness };
}

/** Shutdown timing after defaults and validation. */
export interface ResolvedShutdown {
  readonly preStopPause: Duration;
  readonly preStopMethod: PreStopMethod;
  readonly terminationGracePeriod: Duration;
}

/** The grace period adds up: preStop pause + the server's graceful timeout + margin. */
export function resolveShutdown(v: PropValidator, shutdown: PythonServiceShutdown, gracefulTimeout: Duration, scope: IConstruct): ResolvedShutdown {
  const preStopPause = shutdown.preStopPause ?? Duration.seconds(5);
  const margin = shutdown.margin ?? Duration.seconds(5);
  v.positiveDuration('shutdown.preStopPause', preStopPause, { allowZero: true });
  v.positiveDuration('shutdown.margin', margin, { allowZero: true });
  const needed = preStopPause.toSeconds() + gracefulTimeout.toSeconds();
  const explicitGrace = shutdown.terminationGracePeriod;
  if (explicitGrace !== undefined) {
    v.positiveDuration('shutdown.terminationGracePeriod', explicitGrace);
    if (explicitGrace.toSeconds() < needed) {
      v.fail('shutdown.terminationGracePeriod', explicitGrace,
        `must be at least the preStop pause (${preStopPause.toSeconds()}s) plus the server's graceful timeout (${gracefulTimeout.toSeconds()}s) = ${needed}s, or SIGKILL cuts off in-flight requests`);
    }
  }
  const sleepAction = KUBERNETES_FEATURES.preStopSleepAction;
  const defaultMethod = KubernetesVersion.oldestOf(scope).isAtLeast(sleepAction.since) ? PreStopMethod.SLEEP_ACTION : PreStopMethod.PYTHON_EXEC;
  const preStopMethod = shutdown.preStopMethod ?? defaultMethod;
  if (!Object.values(PreStopMethod).includes(preStopMethod)) v.fail('shutdown.preStopMethod', preStopMethod, `must be one of ${Object.values(PreStopMethod).join(', ')}`);
  if (preStopMethod === PreStopMethod.SLEEP_ACTION && preStopPause.toSeconds() > 0) requireKubernetes(scope, v, 'shutdown.preStopMethod', preStopMethod, sleepAction);
  return { preStopPause, preStopMethod, terminationGracePeriod: explicitGrace ?? Duration.seconds(needed + margin.toSeconds()) };
}

/** What the web Deployment is built from. */
export interface WebDeploymentOptions {
  readonly identity: ServiceIdentity;
  readonly template: PythonPodTemplate;
  readonly server: PythonServerConfig;
  readonly port: number;
  /** Undefined when an autoscaler owns the count. */
  readonly replicas?: number;
  readonly maxReplicas: number;
  readonly singleAttachVolume: boolean;
  readonly health: ResolvedHealthCheck;
  readonly shutdown: ResolvedShutdown;
}

/** The web server's Deployment and its container. */
export interface WebDeployment {
  readonly deployment: kplus.Deployment;
  readonly container: kplus.Container;
}

/**
 * Adds the web Deployment (`<scope>/Deployment`, a path the pod's `cdk8s.io/metadata.addr` label
 * derives from) with probes, the preStop pause, a grace period that adds up and a rollout that
 * never drops below capacity.
 */
export function addWebDeployment(scope: Construct, o: WebDeploymentOptions): WebDeployment {
  const selector = o.identity.selectorLabels(WEB_COMPONENT);
  const deployment = new kplus.Deployment(scope, 'Deployment', {
    metadata: o.identity.metadataOf(o.identity.name, WEB_COMPONENT),
    // Select by the recommended labels, not by cdk8s' path-hash label, so selectors stay readable
    // and stable when the construct tree is refactored.
    select: false,
    replicas: o.replicas,
    podMetadata: { labels: o.identity.labelsOf(WEB_COMPONENT) },
    ...o.template.podProps(),
    terminationGracePeriod: o.shutdown.terminationGracePeriod,
    strategy: rolloutStrategy(o.maxReplicas, o.singleAttachVolume),
  });
  deployment.select(kplus.LabelSelector.of({ labels: selector }));

  const pause = o.shutdown.preStopPause.toSeconds();
  const probes = o.health;
  const container = o.template.addContainer(deployment, {
    name: 'app',
    command: o.server.command,
    derivedEnv: o.server.env,
    ports: [{ number: o.port, name: HTTP_PORT_NAME, protocol: kplus.Protocol.TCP }],
    startup: probes.startup && toKplusProbe(probes.startup),
    readiness: probes.readiness && toKplusProbe(probes.readiness),
    liveness: probes.liveness && toKplusProbe(probes.liveness),
    lifecycle: pause > 0 && o.shutdown.preStopMethod === PreStopMethod.PYTHON_EXEC
      ? { preStop: kplus.Handler.fromCommand(['python', '-c', `import time; time.sleep(${pause})`]) }
      : undefined,
  });
  if (pause > 0 && o.shutdown.preStopMethod === PreStopMethod.SLEEP_ACTION) setPreStopSleep(deployment, pause);
  const kinds: Array<[string, ResolvedProbe | undefined]> = [['startupProbe', probes.startup], ['readinessProbe', probes.readiness], ['livenessProbe', probes.liveness]];
  const withHost = kinds.filter(([, p]) => p?.kind === HealthProbeKind.HTTP && p.host !== undefined);
  setProbeHostHeaders(deployment, withHost.map(([field, p]) => [field, p!.host!]));
  if (o.server.needsWorkerTmpDir) {
    container.mount(WORKER_TMP_DIR, kplus.Volume.fromEmptyDir(scope, 'WorkerTmpVolume', OWN_VOLUME_NAMES.workerTmp, {
      medium: kplus.EmptyDirMedium.MEMORY,
      sizeLimit: Size.mebibytes(16),
    }));
  }
  return { deployment, container };
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
