import { ApiObjectMetadata, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { k8s } from '../../core/plus';
import { PropValidator } from '../../core/validation';

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

  /**
   * The most pods removed in one minute once load is low.
   * @default 1 - a short lull does not empty the service, and each removed pod's connections drain before the next
   */
  readonly scaleDownPodsPerMinute?: number;

  /**
   * The most pods added in one minute.
   * @default - 4 pods or 200 % a minute, whichever is more, with no stabilization (a Python server is slow to start, so scale up early rather than cap it)
   */
  readonly scaleUpPodsPerMinute?: number;

  /**
   * How far above the target a metric must be before the autoscaler adds pods, as a fraction of
   * the target (0.02: 2 % above). Lower it for a large service, where 10 % of the pods is many
   * overloaded ones. Needs Kubernetes 1.35 or later (on by default from 1.35, GA in 1.37; see
   * `KubernetesVersion.setOldest`).
   * @default - the cluster's, 0.1 unless kube-controller-manager says otherwise
   */
  readonly scaleUpTolerance?: number;

  /**
   * How far below the target a metric must be before the autoscaler removes pods, as a fraction
   * of the target. Raise it to keep capacity through small dips. Needs Kubernetes 1.35 or later.
   * @default - the cluster's, 0.1 unless kube-controller-manager says otherwise
   */
  readonly scaleDownTolerance?: number;

  /**
   * Per-pod metrics to scale on (`type: Pods`), e.g. requests per second from a Prometheus
   * adapter: `[{ name: 'http_requests_per_second', averageValue: 20 }]`. Added to the CPU/memory targets.
   * @default - none
   */
  readonly podMetrics?: AutoscalingPodMetric[];

  /**
   * Metrics from outside the cluster's objects to scale on (`type: External`), e.g. a queue
   * length or a load balancer's request rate: `[{ name: 'sqs_messages_visible', averageValue: 30, selector: { queue: 'orders' } }]`.
   * @default - none
   */
  readonly externalMetrics?: AutoscalingExternalMetric[];
}

/**
 * A per-pod metric target for the HorizontalPodAutoscaler (`type: Pods`).
 */
export interface AutoscalingPodMetric {
  /** The metric's name as the custom metrics API serves it. */
  readonly name: string;
  /** The target value averaged over the pods. */
  readonly averageValue: number;
  /**
   * Labels that select the metric's series.
   * @default - none
   */
  readonly selector?: { [key: string]: string };
}

/**
 * An external metric target for the HorizontalPodAutoscaler (`type: External`).
 */
export interface AutoscalingExternalMetric {
  /** The metric's name as the external metrics API serves it. */
  readonly name: string;
  /**
   * The target per pod (the metric divided by the pod count).
   * @default - `value` must be set instead
   */
  readonly averageValue?: number;
  /**
   * The target for the metric as a whole.
   * @default - `averageValue` must be set instead
   */
  readonly value?: number;
  /**
   * Labels that select the metric's series.
   * @default - none
   */
  readonly selector?: { [key: string]: string };
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
