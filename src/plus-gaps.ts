import { ApiObject } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { podTemplateOfManifest } from './admission';
import { afterRender, withSortedKey } from './after-render';

/**
 * The gaps between what cdk8s-plus-28 renders and what the API server stores, closed on the
 * rendered manifest. Each one is named for the kind it fixes, so moving to a newer cdk8s-plus is
 * an edit here. Internal.
 */

/**
 * cdk8s-plus-28 renders `externalIPs: []` on every Service. The API server drops empty lists, so
 * the applied file would differ from the live object on every apply.
 */
export function closeServiceGaps(service: ApiObject): void {
  afterRender(service, (manifest) => {
    if (Array.isArray(manifest.spec?.externalIPs) && manifest.spec.externalIPs.length === 0) delete manifest.spec.externalIPs;
  });
}

/** cdk8s-plus-28 renders `spec: {}` on every Namespace, which the API server drops likewise. */
export function closeNamespaceGaps(namespace: ApiObject): void {
  afterRender(namespace, (manifest) => {
    if (manifest.spec && Object.keys(manifest.spec).length === 0) delete manifest.spec;
  });
}

const withHostUsers = new WeakSet<kplus.AbstractPod>();

/** cdk8s-plus-28 predates user namespaces: `hostUsers` on the pod (template) spec. */
export function setHostUsers(workload: kplus.AbstractPod, hostUsers: boolean): void {
  if (withHostUsers.has(workload)) return;
  withHostUsers.add(workload);
  afterRender(ApiObject.of(workload), (manifest) => {
    const template = podTemplateOfManifest(manifest);
    if (template?.spec) template.spec = withSortedKey(template.spec, 'hostUsers', hostUsers);
  });
}

/** cdk8s-plus-28 predates in-place resize: `resizePolicy` on the container named `containerName`. */
export function setResizePolicy(
  workload: kplus.AbstractPod, containerName: string, policy: ReadonlyArray<{ resourceName: string; restartPolicy: string }>,
): void {
  afterRender(ApiObject.of(workload), (manifest) => {
    const spec = podTemplateOfManifest(manifest)?.spec;
    if (!Array.isArray(spec?.containers)) return;
    spec.containers = spec.containers.map((c: any) => (c.name === containerName ? withSortedKey(c, 'resizePolicy', policy.map((p) => ({ ...p }))) : c));
  });
}

/** cdk8s-plus-28 predates `spec.trafficDistribution` on a Service. */
export function setTrafficDistribution(service: ApiObject, trafficDistribution: string): void {
  afterRender(service, (manifest) => {
    manifest.spec = withSortedKey(manifest.spec ?? {}, 'trafficDistribution', trafficDistribution);
  });
}

/**
 * cdk8s-plus-28 predates `behavior.scaleUp/scaleDown.tolerance` on a HorizontalPodAutoscaler; a
 * direction it does not render gets a rule of the tolerance alone (the API server fills in the rest).
 */
export function setAutoscalerTolerance(autoscaler: ApiObject, tolerance: { scaleUp?: string; scaleDown?: string }): void {
  afterRender(autoscaler, (manifest) => {
    let behavior: { [key: string]: any } = manifest.spec.behavior ?? {};
    for (const direction of ['scaleUp', 'scaleDown'] as const) {
      const value = tolerance[direction];
      if (value !== undefined) behavior = withSortedKey(behavior, direction, withSortedKey(behavior[direction] ?? {}, 'tolerance', value));
    }
    manifest.spec = withSortedKey(manifest.spec, 'behavior', behavior);
  });
}
