import { ApiObject, ApiObjectMetadata, Duration } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { AutoscalingExternalMetric, AutoscalingPodMetric, PythonServiceAutoscaling } from './availability';
import { KUBERNETES_FEATURES, requireKubernetes } from '../../core/kubernetes-version';
import { k8s, kplus } from '../../core/plus';
import { setAutoscalerTolerance } from '../../core/plus-gaps';
import { PropValidator } from '../../core/validation';

// Internal helpers of PythonService's scaling; not exported from the package root.

/** The autoscaling settings after defaults and validation. */
export interface ResolvedAutoscaling {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly targetCpuUtilization?: number;
  readonly targetMemoryUtilization?: number;
  readonly scaleDownStabilization: Duration;
  readonly scaleDownPodsPerMinute: number;
  readonly scaleUpPodsPerMinute?: number;
  readonly podMetrics: AutoscalingPodMetric[];
  readonly externalMetrics: AutoscalingExternalMetric[];
  /** Tolerances as Kubernetes quantities ("50m"), when set. */
  readonly tolerance: { scaleUp?: string; scaleDown?: string };
}

/** A fraction from 0 to 1 in thousandths as the quantity the API server stores ("50m", "0"). */
function toleranceQuantity(v: PropValidator, scope: IConstruct, prop: string, value: number | undefined): string | undefined {
  if (value === undefined) return undefined;
  const thousandths = Math.round(value * 1000);
  if (typeof value !== 'number' || !(value >= 0 && value < 1) || Math.abs(thousandths - value * 1000) > 1e-9) {
    v.fail(prop, value, 'must be a fraction of the target from 0 to below 1 in thousandths, such as 0.05 for 5 %');
  }
  requireKubernetes(scope, v, prop, value, KUBERNETES_FEATURES.autoscalerTolerance);
  return thousandths === 0 ? '0' : `${thousandths}m`;
}

const METRIC_NAME = /^[A-Za-z_:][A-Za-z0-9_:.-]*$/;

function validateMetricTargets(
  v: PropValidator, prop: string, metrics: Array<AutoscalingPodMetric | AutoscalingExternalMetric> | undefined, external: boolean,
): void {
  if (metrics === undefined) return;
  if (!Array.isArray(metrics) || metrics.length === 0) v.fail(prop, metrics, 'must list at least one metric (leave it unset for none)');
  metrics.forEach((m, i) => {
    if (typeof m.name !== 'string' || !METRIC_NAME.test(m.name)) v.fail(`${prop}[${i}].name`, m.name, 'must be a metric name such as "http_requests_per_second"');
    const e = m as AutoscalingExternalMetric;
    const values = [m.averageValue, ...(external ? [e.value] : [])].filter((x) => x !== undefined);
    if (values.length !== 1) v.fail(`${prop}[${i}]`, m.name, external ? 'needs exactly one of averageValue (per pod) and value (for the whole metric)' : 'needs averageValue');
    for (const [key, x] of [['averageValue', m.averageValue], ['value', e.value]] as const) {
      if (x !== undefined && (typeof x !== 'number' || !(x > 0) || !Number.isFinite(x))) v.fail(`${prop}[${i}].${key}`, x, 'must be a positive number');
    }
    v.labelMap(`${prop}[${i}].selector`, m.selector);
  });
}

/** Applies defaults and validates; throws naming the prop. */
export function resolveAutoscaling(v: PropValidator, a: PythonServiceAutoscaling, scope: IConstruct): ResolvedAutoscaling {
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
  v.integerInRange('autoscaling.scaleDownPodsPerMinute', a.scaleDownPodsPerMinute, 1, 10_000);
  v.integerInRange('autoscaling.scaleUpPodsPerMinute', a.scaleUpPodsPerMinute, 1, 10_000);
  validateMetricTargets(v, 'autoscaling.podMetrics', a.podMetrics, false);
  validateMetricTargets(v, 'autoscaling.externalMetrics', a.externalMetrics, true);
  // CPU at 70 % is the default signal only when nothing else is said.
  const neither = [a.targetCpuUtilization, a.targetMemoryUtilization, a.podMetrics, a.externalMetrics].every((x) => x === undefined);
  return {
    minReplicas: a.minReplicas,
    maxReplicas: a.maxReplicas,
    targetCpuUtilization: neither ? 70 : a.targetCpuUtilization,
    targetMemoryUtilization: a.targetMemoryUtilization,
    scaleDownStabilization,
    scaleDownPodsPerMinute: a.scaleDownPodsPerMinute ?? 1,
    scaleUpPodsPerMinute: a.scaleUpPodsPerMinute,
    podMetrics: [...(a.podMetrics ?? [])],
    externalMetrics: [...(a.externalMetrics ?? [])],
    tolerance: {
      scaleUp: toleranceQuantity(v, scope, 'autoscaling.scaleUpTolerance', a.scaleUpTolerance),
      scaleDown: toleranceQuantity(v, scope, 'autoscaling.scaleDownTolerance', a.scaleDownTolerance),
    },
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
  const selector = (labels?: { [key: string]: string }) => (labels ? kplus.LabelSelector.of({ labels: Object.assign({}, labels) }) : undefined);
  for (const m of a.podMetrics) {
    metrics.push(kplus.Metric.pods({ name: m.name, target: kplus.MetricTarget.averageValue(m.averageValue), labelSelector: selector(m.selector) }));
  }
  for (const m of a.externalMetrics) {
    const metricTarget = m.averageValue !== undefined ? kplus.MetricTarget.averageValue(m.averageValue) : kplus.MetricTarget.value(m.value!);
    metrics.push(kplus.Metric.external({ name: m.name, target: metricTarget, labelSelector: selector(m.selector) }));
  }
  const autoscaler = new kplus.HorizontalPodAutoscaler(scope, id, {
    metadata,
    target,
    minReplicas: a.minReplicas,
    maxReplicas: a.maxReplicas,
    metrics,
    scaleUp: a.scaleUpPodsPerMinute !== undefined ? {
      strategy: kplus.ScalingStrategy.MAX_CHANGE,
      policies: [{ replicas: kplus.Replicas.absolute(a.scaleUpPodsPerMinute), duration: Duration.minutes(1) }],
    } : undefined,
    scaleDown: {
      stabilizationWindow: a.scaleDownStabilization,
      strategy: kplus.ScalingStrategy.MIN_CHANGE,
      // A few pods a minute at most (one by default), so a short lull does not empty the service.
      policies: [{ replicas: kplus.Replicas.absolute(a.scaleDownPodsPerMinute), duration: Duration.minutes(1) }],
    },
  });
  if (a.tolerance.scaleUp !== undefined || a.tolerance.scaleDown !== undefined) setAutoscalerTolerance(ApiObject.of(autoscaler), a.tolerance);
  return autoscaler;
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
