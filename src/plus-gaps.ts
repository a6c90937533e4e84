import { ApiObject, JsonPatch } from 'cdk8s';
import { podTemplateOfManifest } from './admission';
import { afterRender, withSortedKey } from './after-render';
import { k8s, kplus } from './plus';

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

const withPullSecrets = new WeakSet<kplus.AbstractPod>();

/** cdk8s-plus-28 takes one registry Secret (`dockerRegistryAuth`); pods may need several. */
export function setImagePullSecrets(workload: kplus.AbstractPod, names: string[]): void {
  if (withPullSecrets.has(workload)) return;
  withPullSecrets.add(workload);
  const secrets = names.map((name) => ({ name }));
  afterRender(ApiObject.of(workload), (manifest) => {
    const template = podTemplateOfManifest(manifest);
    if (template?.spec) template.spec = withSortedKey(template.spec, 'imagePullSecrets', JSON.parse(JSON.stringify(secrets)));
  });
}

/** cdk8s-plus-28's Handler has no sleep action, and its types drop the field from a JSON patch: the first container's `preStop.sleep`. */
export function setPreStopSleep(workload: kplus.AbstractPod, seconds: number): void {
  afterRender(ApiObject.of(workload), (manifest) => {
    const containers = podTemplateOfManifest(manifest).spec.containers;
    containers[0] = withSortedKey(containers[0], 'lifecycle', { preStop: { sleep: { seconds } } });
  });
}

/** cdk8s-plus-28's probes have no headers: a `Host` header on the named HTTP probes of the first container. */
export function setProbeHostHeaders(workload: kplus.AbstractPod, hostByProbe: Array<[string, string]>): void {
  for (const [field, host] of hostByProbe) {
    ApiObject.of(workload).addJsonPatch(JsonPatch.add(`/spec/template/spec/containers/0/${field}/httpGet/httpHeaders`, [{ name: 'Host', value: host }]));
  }
}

/** cdk8s-plus-28 has no topology spread API (its `spread` is required anti-affinity). */
export function setTopologySpread(deployment: kplus.Deployment | kplus.StatefulSet, constraints: k8s.TopologySpreadConstraint[]): void {
  ApiObject.of(deployment).addJsonPatch(JsonPatch.add('/spec/template/spec/topologySpreadConstraints', constraints));
}

/**
 * cdk8s-plus-28 predates `podFailurePolicy`. On a Job it is appended to the spec, where it has
 * always been: a migration Job's name hashes its rendered content, so moving the key would rename
 * every migration Job once. On a CronJob it goes into the job template in sorted order.
 */
export function setPodFailurePolicy(workload: kplus.Job | kplus.CronJob, policy: k8s.PodFailurePolicy): void {
  if (workload instanceof kplus.Job) {
    ApiObject.of(workload).addJsonPatch(JsonPatch.add('/spec/podFailurePolicy', policy));
    return;
  }
  afterRender(ApiObject.of(workload), (manifest) => {
    manifest.spec.jobTemplate.spec = withSortedKey(manifest.spec.jobTemplate.spec, 'podFailurePolicy', JSON.parse(JSON.stringify(policy)));
  });
}

/** cdk8s-plus-28 takes a `Cron` and renders it in five fields: the schedule as written (a macro such as `@daily`, or a time zone), verbatim. */
export function setCronSchedule(cronJob: kplus.CronJob, schedule: string): void {
  afterRender(ApiObject.of(cronJob), (manifest) => {
    manifest.spec.schedule = schedule;
  });
}
