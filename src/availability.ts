import { ApiObjectMetadata, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { PropValidator } from './validation';

/**
 * Horizontal autoscaling for a `PythonService`.
 */
export interface PythonServiceAutoscaling {
  /**
   * Fewest pods. At least 1.
   */
  readonly minReplicas: number;

  /**
   * Most pods. At least `minReplicas`.
   */
  readonly maxReplicas: number;

  /**
   * Target average CPU utilization, in percent of the CPU request (1-100).
   * @default 70 - when neither target is set; leaves headroom for a pod to absorb a spike while new pods start
   */
  readonly targetCpuUtilization?: number;

  /**
   * Target average memory utilization, in percent of the memory request (1-100).
   * @default - memory is not a scaling signal (Python processes rarely give memory back)
   */
  readonly targetMemoryUtilization?: number;

  /**
   * How long load must stay low before pods are removed.
   * @default Duration.minutes(5) - avoids flapping on bursty traffic
   */
  readonly scaleDownStabilization?: Duration;
}

/**
 * The PodDisruptionBudget of a `PythonService`.
 */
export interface PythonServiceDisruptionBudget {
  /**
   * Pods that may be down at once during voluntary disruptions (drains, upgrades). At least 1,
   * so a budget can never block a node drain.
   * @default 1
   */
  readonly maxUnavailable?: number;
}

/** The autoscaling settings after defaults and validation. */
export interface ResolvedAutoscaling {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly targetCpuUtilization?: number;
  readonly targetMemoryUtilization?: number;
  readonly scaleDownStabilization: Duration;
}

/** Applies defaults and validates; throws naming the prop. */
export function resolveAutoscaling(v: PropValidator, a: PythonServiceAutoscaling): ResolvedAutoscaling {
  v.integerInRange('autoscaling.minReplicas', a.minReplicas, 1, 10_000);
  v.integerInRange('autoscaling.maxReplicas', a.maxReplicas, 1, 10_000);
  if (a.minReplicas > a.maxReplicas) {
    v.fail('autoscaling.minReplicas', a.minReplicas, `must not exceed autoscaling.maxReplicas (${a.maxReplicas})`);
  }
  v.integerInRange('autoscaling.targetCpuUtilization', a.targetCpuUtilization, 1, 100);
  v.integerInRange('autoscaling.targetMemoryUtilization', a.targetMemoryUtilization, 1, 100);
  const scaleDownStabilization = a.scaleDownStabilization ?? Duration.minutes(5);
  v.positiveDuration('autoscaling.scaleDownStabilization', scaleDownStabilization, { allowZero: true });
  if (scaleDownStabilization.toSeconds() > 3600) {
    v.fail('autoscaling.scaleDownStabilization', scaleDownStabilization, 'must be at most one hour (the Kubernetes limit)');
  }
  const neither = a.targetCpuUtilization === undefined && a.targetMemoryUtilization === undefined;
  return {
    minReplicas: a.minReplicas,
    maxReplicas: a.maxReplicas,
    targetCpuUtilization: neither ? 70 : a.targetCpuUtilization,
    targetMemoryUtilization: a.targetMemoryUtilization,
    scaleDownStabilization,
  };
}

/** Creates an `autoscaling/v2` HorizontalPodAutoscaler for a Deployment. */
export function createAutoscaler(
  scope: Construct, id: string, metadata: ApiObjectMetadata, target: kplus.Deployment, a: ResolvedAutoscaling,
): kplus.HorizontalPodAutoscaler {
  const metrics = new Array<kplus.Metric>();
  const utilization = kplus.MetricTarget.averageUtilization;
  if (a.targetCpuUtilization !== undefined) metrics.push(kplus.Metric.resourceCpu(utilization(a.targetCpuUtilization)));
  if (a.targetMemoryUtilization !== undefined) metrics.push(kplus.Metric.resourceMemory(utilization(a.targetMemoryUtilization)));
  return new kplus.HorizontalPodAutoscaler(scope, id, {
    metadata,
    target,
    minReplicas: a.minReplicas,
    maxReplicas: a.maxReplicas,
    metrics,
    scaleDown: {
      stabilizationWindow: a.scaleDownStabilization,
      strategy: kplus.ScalingStrategy.MIN_CHANGE,
      // Remove at most one pod a minute, so a short lull does not empty the service.
      policies: [{ replicas: kplus.Replicas.absolute(1), duration: Duration.minutes(1) }],
    },
  });
}

/**
 * Props for `ServiceDisruptionBudget`.
 */
export interface ServiceDisruptionBudgetProps {
  /** Metadata of the PodDisruptionBudget. */
  readonly metadata: ApiObjectMetadata;

  /** Labels that select exactly the pods the budget protects. */
  readonly podSelector: { [key: string]: string };

  /**
   * Pods that may be down at once during voluntary disruptions. At least 1.
   * @default 1
   */
  readonly maxUnavailable?: number;

  /**
   * Who is asking, for error messages.
   * @default "ServiceDisruptionBudget '<id>'"
   */
  readonly errorLabel?: string;
}

/**
 * A `policy/v1` PodDisruptionBudget with `maxUnavailable` (never `minAvailable`, which blocks
 * node drains when replicas ≤ minAvailable). cdk8s-plus-28 has no PodDisruptionBudget, so this
 * uses its `k8s` L1 class.
 */
export class ServiceDisruptionBudget extends Construct {
  /** The underlying PodDisruptionBudget. */
  public readonly apiObject: k8s.KubePodDisruptionBudget;

  constructor(scope: Construct, id: string, props: ServiceDisruptionBudgetProps) {
    super(scope, id);
    const v = new PropValidator(props.errorLabel ?? `ServiceDisruptionBudget '${id}'`);
    const maxUnavailable = props.maxUnavailable ?? 1;
    v.integerInRange(props.errorLabel ? 'disruptionBudget.maxUnavailable' : 'maxUnavailable', maxUnavailable, 1, 10_000);
    v.labelMap('podSelector', props.podSelector);
    if (Object.keys(props.podSelector).length === 0) v.fail('podSelector', props.podSelector, 'must not be empty: it would protect every pod in the namespace');
    this.apiObject = new k8s.KubePodDisruptionBudget(this, 'Resource', {
      metadata: props.metadata,
      spec: {
        maxUnavailable: k8s.IntOrString.fromNumber(maxUnavailable),
        selector: { matchLabels: { ...props.podSelector } },
        // Evict pods that never became ready even when the budget is exhausted: a crash-looping
        // pod must not block a drain (GA in 1.31, beta and on by default since 1.27).
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });
  }
}

/**
 * Spreads a Deployment's pods over zones and nodes (`ScheduleAnyway`, maxSkew 1), selecting
 * exactly `podSelector`. cdk8s-plus-28's `spread` emits required anti-affinity instead, which
 * leaves pods Pending when there are more replicas than nodes; topologySpreadConstraints has no
 * cdk8s-plus-28 API, so it is written to the pod template with a typed JSON patch.
 */
export function topologySpreadConstraints(podSelector: { [key: string]: string }): k8s.TopologySpreadConstraint[] {
  return ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'].map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: 'ScheduleAnyway',
    // Patches are applied after cdk8s sorts keys; sort here so the YAML reads like the rest.
    labelSelector: { matchLabels: Object.fromEntries(Object.entries(podSelector).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) },
  }));
}
