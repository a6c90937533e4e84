import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { PythonPodTemplate } from './python-pod-template';
import { PythonServerConfig } from './python-server';
import { topologySpreadConstraints } from './scaling';
import { ServiceIdentity } from './service-identity';
import { PropValidator } from './validation';

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

/** Where the gunicorn heartbeat files go (a memory-backed emptyDir). */
export const WORKER_TMP_DIR = '/run/gunicorn';
/** The name of the web container's port. */
export const HTTP_PORT_NAME = 'http';
/** The component label of the web server. */
export const WEB_COMPONENT = 'server';

/** Health checks after defaults and validation. */
export interface ResolvedHealthCheck {
  readonly path: string;
  readonly livenessPath?: string;
  readonly startupTimeout: Duration;
}

/** Shutdown timing after defaults and validation. */
export interface ResolvedShutdown {
  readonly preStopPause: Duration;
  readonly terminationGracePeriod: Duration;
}

export function resolveHealthCheck(v: PropValidator, health: PythonServiceHealthCheck): ResolvedHealthCheck {
  const path = health.path ?? '/healthz';
  v.httpPath('healthCheck.path', path);
  v.httpPath('healthCheck.livenessPath', health.livenessPath);
  if (health.livenessPath !== undefined && health.livenessPath === path) {
    v.fail('healthCheck.livenessPath', health.livenessPath, 'must differ from healthCheck.path: a readiness check that fails on a slow dependency must not restart the pod');
  }
  const startupTimeout = health.startupTimeout ?? Duration.minutes(2);
  v.positiveDuration('healthCheck.startupTimeout', startupTimeout);
  return { path, livenessPath: health.livenessPath, startupTimeout };
}

/** The grace period adds up: preStop pause + the server's graceful timeout + margin. */
export function resolveShutdown(v: PropValidator, shutdown: PythonServiceShutdown, gracefulTimeout: Duration): ResolvedShutdown {
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
  return { preStopPause, terminationGracePeriod: explicitGrace ?? Duration.seconds(needed + margin.toSeconds()) };
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

  const probeTimeout = Duration.seconds(2);
  const pause = o.shutdown.preStopPause.toSeconds();
  const container = o.template.addContainer(deployment, {
    name: 'app',
    command: o.server.command,
    derivedEnv: o.server.env,
    ports: [{ number: o.port, name: HTTP_PORT_NAME, protocol: kplus.Protocol.TCP }],
    startup: kplus.Probe.fromHttpGet(o.health.path, {
      port: o.port,
      periodSeconds: Duration.seconds(2),
      timeoutSeconds: probeTimeout,
      failureThreshold: Math.max(1, Math.ceil(o.health.startupTimeout.toSeconds() / 2)),
    }),
    readiness: kplus.Probe.fromHttpGet(o.health.path, {
      port: o.port,
      periodSeconds: Duration.seconds(10),
      timeoutSeconds: probeTimeout,
      failureThreshold: 3,
      successThreshold: 1,
    }),
    liveness: o.health.livenessPath !== undefined
      ? kplus.Probe.fromHttpGet(o.health.livenessPath, {
        port: o.port,
        periodSeconds: Duration.seconds(20),
        timeoutSeconds: probeTimeout,
        failureThreshold: 3,
      })
      : kplus.Probe.fromTcpSocket({
        port: o.port,
        periodSeconds: Duration.seconds(20),
        timeoutSeconds: probeTimeout,
        failureThreshold: 3,
      }),
    lifecycle: pause > 0
      ? {
        // `sleep` is missing from distroless Python images and the native sleep action needs
        // Kubernetes 1.29+, but the interpreter is always there.
        preStop: kplus.Handler.fromCommand(['python', '-c', `import time; time.sleep(${pause})`]),
      }
      : undefined,
  });

  if (o.server.needsWorkerTmpDir) {
    container.mount(WORKER_TMP_DIR, kplus.Volume.fromEmptyDir(scope, 'WorkerTmpVolume', 'worker-tmp', {
      medium: kplus.EmptyDirMedium.MEMORY,
      sizeLimit: Size.mebibytes(16),
    }));
  }
  return { deployment, container };
}

/**
 * Spreads the replicas over zones and hosts: topology spread (no cdk8s-plus-28 API, so one JSON
 * patch) plus a soft host anti-affinity, which kube-score and kube-linter look for and which keeps
 * replicas apart in clusters whose nodes lack zone labels.
 */
export function spreadReplicas(scope: Construct, deployment: kplus.Deployment, selector: { [key: string]: string }): void {
  ApiObject.of(deployment).addJsonPatch(
    JsonPatch.add('/spec/template/spec/topologySpreadConstraints', topologySpreadConstraints(selector)),
  );
  deployment.scheduling.separate(kplus.Pods.select(scope, 'Peers', { labels: selector }), {
    topology: kplus.Topology.HOSTNAME,
    weight: 100,
  });
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
