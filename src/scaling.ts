import { ApiObjectMetadata, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { PythonServiceAutoscaling } from './availability';
import { PropValidator } from './validation';

// Internal helpers of PythonService's scaling; not exported from the package root.

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
