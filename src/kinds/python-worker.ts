import { Duration, Size } from 'cdk8s';
import { Construct } from 'constructs';
import { HealthProbe, HealthProbeKind, resolveProbe, toKplusProbe } from '../core/health-probe';
import { NetworkProtocol, ServiceNetworkPolicy } from '../core/network-policy';
import { kplus } from '../core/plus';
import { applicationContextOf, IPythonApplication } from '../core/python-application';
import {
  componentContext, PythonComponent, PythonComponentOptions, StandalonePythonOptions,
} from '../core/python-component';
import { PythonServiceResources } from '../core/python-pod-template';
import { WorkloadBase, WorkloadContext } from '../core/python-workload';
import { addPodMonitor } from '../features/monitoring/monitoring';
import { PythonServiceAutoscaling, ServiceDisruptionBudget } from '../features/scaling/availability';
import { addScaledObject } from '../features/scaling/queue-scaler';
import { QueueScaling, resolveQueueScaling } from '../features/scaling/queue-scaling';
import { createAutoscaler, resolveAutoscaling } from '../features/scaling/scaling';
import { WorkerProcess, WorkerProcessConfig, WorkerProcessKind } from '../python/worker-process';

/**
 * Graceful shutdown of a worker: running tasks get `taskTimeLimit` to finish after SIGTERM.
 */
export interface PythonWorkerShutdown {
  /**
   * How long running tasks get to finish after SIGTERM; the grace period is this plus `margin`.
   * Dramatiq also gets it as `--worker-shutdown-timeout`; a Celery worker has no hard time limit
   * unless its `process.timeLimit` sets one. Keep grace periods under the cluster autoscaler's
   * `--max-graceful-termination-sec` (600 s by default), which caps them on scale-down.
   * @default Duration.minutes(5)
   */
  readonly taskTimeLimit?: Duration;

  /**
   * Extra time on top of the task time limit before the kubelet sends SIGKILL.
   * @default Duration.seconds(15)
   */
  readonly margin?: Duration;

  /**
   * An explicit terminationGracePeriodSeconds; it must cover the task time limit.
   * @default - taskTimeLimit + margin
   */
  readonly terminationGracePeriod?: Duration;
}

/**
 * A background worker of a `PythonService` (`service.addWorker(id, options)`).
 */
export interface PythonWorkerOptions extends PythonComponentOptions {
  /**
   * What the worker runs: `WorkerProcess.celery()`, `.celeryBeat()`, `.rq()`, `.dramatiq()` or `.command()`.
   */
  readonly process: WorkerProcess;

  /**
   * Number of pods.
   * @default 2 - a worker survives one pod being rescheduled; celery beat and singletons: 1, always
   */
  readonly replicas?: number;

  /**
   * Run exactly one pod, and never two in a rollout: one replica, the `Recreate` strategy (the old
   * pod is gone before the new one starts), no autoscaling and no disruption budget. For a process
   * that must not run twice, such as a consumer that watches a directory or a scheduler of its own.
   * A deleted or evicted pod's replacement can still start while the old one finishes its grace
   * period; the process must tolerate that, as celery beat does.
   * @default false - celery beat is always one
   */
  readonly singleton?: boolean;

  /**
   * Memory one worker process needs; the process count derived from the CPU request is capped
   * by how many fit in `resources.memory`.
   * @default - the service's memoryPerProcess (128Mi)
   */
  readonly memoryPerProcess?: Size;

  /**
   * Scale on CPU with an `autoscaling/v2` HorizontalPodAutoscaler.
   * @default - a fixed number of replicas
   */
  readonly autoscaling?: PythonServiceAutoscaling;

  /**
   * Scale on queue length with KEDA.
   * @default - a fixed number of replicas
   */
  readonly queueScaling?: QueueScaling;

  /**
   * Graceful shutdown timing.
   * @default - 5 minute task time limit, 15 s margin
   */
  readonly shutdown?: PythonWorkerShutdown;

  /**
   * A port the worker serves Prometheus metrics on (e.g. a Celery exporter sidecar or
   * `prometheus_client.start_http_server`); with the service's monitoring, a PodMonitor scrapes it.
   * @default - no metrics port
   */
  readonly metricsPort?: number;

  /**
   * A liveness probe. Workers have no HTTP endpoint; `celery inspect ping` is expensive and
   * fails under load, so nothing is probed by default. A heartbeat file the app touches is the
   * robust check: `HealthProbe.exec(['python', '-c', '...mtime check...'])`.
   * @default HealthProbe.none()
   */
  readonly liveness?: HealthProbe;
}

/**
 * Props for `PythonWorker`.
 */
export interface PythonWorkerProps extends PythonWorkerOptions, StandalonePythonOptions {
  /**
   * The service the worker belongs to: it shares its image, environment, ServiceAccount,
   * security settings, admission policy and backup. `service.addWorker()` sets it.
   * @default - a standalone worker: `image` is required
   */
  readonly service?: IPythonApplication;
}

/**
 * A background worker of a Python application: a Deployment named `<service>-<id>` with the
 * component label `<id>`, no Service, no HTTP probes, a grace period that covers the task time
 * limit, and the pod template of its service (or its own, standalone).
 */
export class PythonWorker extends PythonComponent {
  /** The Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The worker container. */
  public readonly container: kplus.Container;
  /** The command and process count. */
  public readonly processConfig: WorkerProcessConfig;
  /** The NetworkPolicy: no ingress but metrics; egress as the application's. */
  public readonly networkPolicy: ServiceNetworkPolicy;
  /** The component label value. */
  public readonly component: string;
  /** The Deployment's name. */
  public readonly name: string;
  /** terminationGracePeriodSeconds. */
  public readonly terminationGracePeriod: Duration;
  /** The PodDisruptionBudget, when more than one replica can run. */
  public readonly disruptionBudget?: ServiceDisruptionBudget;
  /** The HorizontalPodAutoscaler, with `autoscaling`. */
  public readonly autoscaler?: kplus.HorizontalPodAutoscaler;


  constructor(scope: Construct, id: string, props: PythonWorkerProps) {
    super(scope, id);
    // Beat is one small scheduler process that runs no task: it needs neither the web's
    // resources nor a grace period for tasks, and it saves its schedule and exits on SIGTERM.
    const beat = props.process instanceof WorkerProcess && props.process.kind === WorkerProcessKind.CELERY_BEAT;
    const memoryPerProcess = props.memoryPerProcess ?? (props.service && applicationContextOf(props.service, `PythonWorker '${id}'`).memoryPerProcess);
    const ctx = componentContext(this, id, 'PythonWorker', beat && props.resources === undefined
      ? Object.assign({}, props, { resources: beatResources(memoryPerProcess) })
      : props);
    const v = ctx.validator;
    if (!(props.process instanceof WorkerProcess)) v.fail('process', props.process, 'must come from WorkerProcess.celery(), .celeryBeat(), .rq(), .dramatiq() or .command()');
    const shutdown = props.shutdown ?? {};
    if (beat && shutdown.taskTimeLimit !== undefined) {
      v.fail('shutdown.taskTimeLimit', shutdown.taskTimeLimit, 'does not apply to celery beat, which runs no task (the workers do); set it on the workers');
    }
    const taskTimeLimit = shutdown.taskTimeLimit ?? (beat ? BEAT_STOP_TIME : Duration.minutes(5));
    const margin = shutdown.margin ?? Duration.seconds(15);
    v.positiveDuration('shutdown.taskTimeLimit', taskTimeLimit);
    v.positiveDuration('shutdown.margin', margin, { allowZero: true });
    v.positiveDuration('shutdown.terminationGracePeriod', shutdown.terminationGracePeriod);
    if (shutdown.terminationGracePeriod !== undefined && shutdown.terminationGracePeriod.toSeconds() < taskTimeLimit.toSeconds()) {
      v.fail('shutdown.terminationGracePeriod', shutdown.terminationGracePeriod, `must cover shutdown.taskTimeLimit (${taskTimeLimit.toSeconds()}s), or SIGKILL cuts running tasks off`);
    }
    this.terminationGracePeriod = shutdown.terminationGracePeriod ?? Duration.seconds(taskTimeLimit.toSeconds() + margin.toSeconds());

    const memory = ctx.template.resources.memory!.toMebibytes();
    const processesThatFit = Math.floor((memory - PARENT_MEBIBYTES) / ctx.memoryPerProcess.toMebibytes());
    if (processesThatFit < 1) {
      v.fail('resources.memory', `${memory}Mi`, `leaves no room for one worker process: ${ctx.memoryPerProcess.toMebibytes()}Mi per process (memoryPerProcess), ${PARENT_MEBIBYTES}Mi for the parent process; raise resources.memory or lower memoryPerProcess`);
    }
    this.processConfig = props.process.bind({
      cpuMillis: ctx.template.cpuMillis, processesThatFit, taskTimeLimit, stateDir: '/tmp', constructLabel: ctx.label,
    });
    if (props.singleton !== undefined && typeof props.singleton !== 'boolean') v.fail('singleton', props.singleton, 'must be true or false');
    if (beat && props.singleton === false) v.fail('singleton', false, 'cannot be false for celery beat: two schedulers send every periodic task twice');
    const singleton = this.processConfig.singleton || props.singleton === true;

    v.integerInRange('replicas', props.replicas, 0, 10_000);
    v.integerInRange('metricsPort', props.metricsPort, 1, 65535);
    if (props.autoscaling && props.queueScaling) v.fail('autoscaling', props.autoscaling, 'cannot be combined with queueScaling: one autoscaler owns the replica count');
    const scaled = props.autoscaling !== undefined || props.queueScaling !== undefined;
    if (scaled && props.replicas !== undefined) v.fail('replicas', props.replicas, 'cannot be combined with autoscaling or queueScaling: the autoscaler owns the replica count');
    if (singleton && ((props.replicas ?? 1) !== 1 || scaled)) {
      v.fail(props.replicas !== undefined ? 'replicas' : 'autoscaling', props.replicas ?? 'scaling', beat
        ? 'must stay at 1 for celery beat: two schedulers send every periodic task twice'
        : 'must stay at 1 for a singleton worker (singleton: true); leave it unset, or drop singleton to run several');
    }
    const autoscaling = props.autoscaling ? resolveAutoscaling(v, props.autoscaling, this) : undefined;
    const queue = props.queueScaling ? resolveQueueScaling(v, props.queueScaling) : undefined;
    const replicas = singleton ? 1 : props.replicas ?? 2;
    const maxReplicas = autoscaling?.maxReplicas ?? queue?.maxReplicas ?? replicas;
    const liveness = props.liveness ?? HealthProbe.none();
    const networked = liveness instanceof HealthProbe && (liveness.kind === HealthProbeKind.HTTP || liveness.kind === HealthProbeKind.TCP);
    if (networked && props.metricsPort === undefined) {
      v.fail('liveness', liveness.kind, 'must be an exec probe or none: a worker listens on no port');
    }
    const resolvedLiveness = resolveProbe(v, 'liveness', liveness, {
      port: props.metricsPort ?? 1, period: Duration.seconds(60), timeout: Duration.seconds(10), failureThreshold: 3,
    });

    this.component = ctx.component;
    this.name = ctx.name;
    const identity = ctx.identity;
    const selector = identity.selectorLabels(ctx.component);
    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: identity.metadataOf(ctx.name, ctx.component),
      select: false,
      replicas: scaled ? undefined : replicas,
      podMetadata: { labels: identity.labelsOf(ctx.component) },
      ...ctx.template.podProps(),
      terminationGracePeriod: this.terminationGracePeriod,
      // Beat and singletons must never overlap with themselves; other workers surge like the web server.
      strategy: singleton ? kplus.DeploymentStrategy.recreate() : kplus.DeploymentStrategy.rollingUpdate({
        maxSurge: kplus.PercentOrAbsolute.percent(25), maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
      }),
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selector }));
    this.container = ctx.template.addContainer(this.deployment, {
      name: 'worker',
      command: this.processConfig.command,
      ports: props.metricsPort !== undefined ? [{ number: props.metricsPort, name: 'metrics', protocol: kplus.Protocol.TCP }] : undefined,
      liveness: resolvedLiveness && toKplusProbe(resolvedLiveness),
    });

    if (autoscaling) this.autoscaler = createAutoscaler(this, 'Autoscaler', identity.metadataOf(`${ctx.name}-hpa`, ctx.component), this.deployment, autoscaling);
    if (queue) {
      // KEDA creates and owns the HPA: the Deployment must not set replicas, or every apply resets them.
      this.deployment.markHasAutoscaler();
      addScaledObject(this, { name: ctx.name, labels: identity.labelsOf(ctx.component), deploymentName: ctx.name, scaling: queue });
    }

    const base = new WorkloadBase(this, ctx);
    const started = base.begin({ workload: this.deployment, containers: [this.container], maxReplicas, egressTo: props.egressTo });
    this.disruptionBudget = started.disruptionBudget;
    this.networkPolicy = started.networkPolicy;
    addWorkerMetrics(this, ctx, props.metricsPort, this.networkPolicy);
    base.finish(started);
    this._bindComponent(ctx, this.deployment);
  }
}

/** Celery's prefork parent (and headroom), in MiB. */
const PARENT_MEBIBYTES = 32;
/** How long beat takes to save its schedule and exit after SIGTERM (well under a second; room for a slow volume). */
const BEAT_STOP_TIME = Duration.seconds(15);

/** Beat's own resources: one process, a tenth of a core. */
function beatResources(memoryPerProcess: Size | undefined): PythonServiceResources {
  return { cpu: kplus.Cpu.millis(100), memory: Size.mebibytes((memoryPerProcess?.toMebibytes() ?? 128) + PARENT_MEBIBYTES) };
}

function addWorkerMetrics(scope: Construct, ctx: WorkloadContext, metricsPort: number | undefined, networkPolicy: ServiceNetworkPolicy): void {
  const monitoring = ctx.shared?.monitoring;
  if (metricsPort === undefined || !monitoring) return;
  addPodMonitor(scope, {
    name: ctx.name,
    namespace: ctx.identity.namespace,
    labels: Object.assign({}, ctx.identity.labelsOf(ctx.component), monitoring.labels),
    selector: ctx.identity.selectorLabels(ctx.component),
    portName: 'metrics',
    path: monitoring.path,
    interval: monitoring.interval,
  });
  const scraper = monitoring.scraperNamespace ?? 'monitoring';
  networkPolicy.addIngressRule({ peers: [{ namespaceName: scraper }], ports: [{ port: metricsPort, protocol: NetworkProtocol.TCP }] });
}
