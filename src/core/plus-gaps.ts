import { ApiObject, JsonPatch } from 'cdk8s';
import { overlayOf, withSortedKey } from './after-render';
import { podTemplateOfManifest } from './manifest';
import { k8s, kplus } from './plus';

/**
 * The gaps between what cdk8s-plus-28 renders and what the API server stores. Fields the
 * generated 1.28 types know go in as JSON patches; the others (and the corrections of what
 * cdk8s-plus renders) are typed fields of one overlay per object, written into its rendered
 * manifest in one fixed order. Each setter is named for the kind it fixes, so moving to a newer
 * cdk8s-plus is an edit here. Internal.
 */
interface PlusGaps {
  /** Service: drop the `externalIPs: []` cdk8s-plus-28 renders (the API server drops empty lists). */
  dropEmptyExternalIps?: boolean;
  /** Service: `spec.trafficDistribution` (1.30+). */
  trafficDistribution?: string;
  /** Namespace: drop the `spec: {}` cdk8s-plus-28 renders. */
  dropEmptySpec?: boolean;
  /** HorizontalPodAutoscaler: `behavior.<direction>.tolerance` (1.33+). */
  autoscalerTolerance?: { scaleUp?: string; scaleDown?: string };
  /** Pod template: `hostUsers`. */
  hostUsers?: boolean;
  /** Pod template: every registry Secret (cdk8s-plus-28 takes one). */
  imagePullSecrets?: string[];
  /** Pod template: `resizePolicy` by container name. */
  resizePolicies?: { [containerName: string]: ReadonlyArray<{ resourceName: string; restartPolicy: string }> };
  /** Pod template: the first container's `lifecycle.preStop.sleep` (1.30+). */
  preStopSleepSeconds?: number;
  /** Pod template: security-context fields every container gets when it leaves them unset. */
  containerSecurityDefaults?: ReadonlyArray<readonly [string, unknown]>;
  /** CronJob: `podFailurePolicy` in the job template. */
  jobTemplateFailurePolicy?: k8s.PodFailurePolicy;
  /** CronJob: the schedule as written. */
  schedule?: string;
}

function gapsOf(apiObject: ApiObject): PlusGaps {
  return overlayOf<PlusGaps>(apiObject, () => ({ fields: {}, apply: applyGaps }));
}

/** Writes the fields into the rendered manifest: the object's own spec, then the pod template's, then its containers'. */
function applyGaps(manifest: any, g: PlusGaps): void {
  if (g.dropEmptyExternalIps && Array.isArray(manifest.spec?.externalIPs) && manifest.spec.externalIPs.length === 0) delete manifest.spec.externalIPs;
  if (g.trafficDistribution !== undefined) manifest.spec = withSortedKey(manifest.spec ?? {}, 'trafficDistribution', g.trafficDistribution);
  if (g.dropEmptySpec && manifest.spec && Object.keys(manifest.spec).length === 0) delete manifest.spec;
  if (g.autoscalerTolerance !== undefined) {
    let behavior: { [key: string]: any } = manifest.spec.behavior ?? {};
    for (const direction of ['scaleUp', 'scaleDown'] as const) {
      const value = g.autoscalerTolerance[direction];
      if (value !== undefined) behavior = withSortedKey(behavior, direction, withSortedKey(behavior[direction] ?? {}, 'tolerance', value));
    }
    manifest.spec = withSortedKey(manifest.spec, 'behavior', behavior);
  }
  if (g.jobTemplateFailurePolicy !== undefined) {
    manifest.spec.jobTemplate.spec = withSortedKey(manifest.spec.jobTemplate.spec, 'podFailurePolicy', JSON.parse(JSON.stringify(g.jobTemplateFailurePolicy)));
  }
  if (g.schedule !== undefined) manifest.spec.schedule = g.schedule;

  const template = podTemplateOfManifest(manifest);
  if (!template?.spec) return;
  if (g.hostUsers !== undefined) template.spec = withSortedKey(template.spec, 'hostUsers', g.hostUsers);
  if (g.imagePullSecrets !== undefined) template.spec = withSortedKey(template.spec, 'imagePullSecrets', g.imagePullSecrets.map((name) => ({ name })));
  const spec = template.spec;
  if (g.resizePolicies !== undefined && Array.isArray(spec.containers)) {
    const policies = g.resizePolicies;
    spec.containers = spec.containers.map((c: any) => (policies[c.name] !== undefined ? withSortedKey(c, 'resizePolicy', policies[c.name].map((p) => ({ ...p }))) : c));
  }
  if (g.preStopSleepSeconds !== undefined) {
    spec.containers[0] = withSortedKey(spec.containers[0], 'lifecycle', { preStop: { sleep: { seconds: g.preStopSleepSeconds } } });
  }
  if (g.containerSecurityDefaults !== undefined) {
    for (const field of ['containers', 'initContainers']) {
      if (Array.isArray(spec[field])) spec[field] = spec[field].map((c: any) => withSecurityDefaults(c, g.containerSecurityDefaults!));
    }
  }
}

function withSecurityDefaults(container: any, defaults: ReadonlyArray<readonly [string, unknown]>): any {
  let context: { [key: string]: any } = container.securityContext ?? {};
  for (const [key, value] of defaults) {
    if (context[key] === undefined) context = withSortedKey(context, key, JSON.parse(JSON.stringify(value)));
  }
  return context === container.securityContext ? container : withSortedKey(container, 'securityContext', context);
}

/**
 * cdk8s-plus-28 renders `externalIPs: []` on every Service. The API server drops empty lists, so
 * the applied file would differ from the live object on every apply.
 */
export function closeServiceGaps(service: ApiObject): void {
  gapsOf(service).dropEmptyExternalIps = true;
}

/** cdk8s-plus-28 renders `spec: {}` on every Namespace, which the API server drops likewise. */
export function closeNamespaceGaps(namespace: ApiObject): void {
  gapsOf(namespace).dropEmptySpec = true;
}

/** cdk8s-plus-28 predates user namespaces: `hostUsers` on the pod (template) spec. */
export function setHostUsers(workload: kplus.AbstractPod, hostUsers: boolean): void {
  gapsOf(ApiObject.of(workload)).hostUsers = hostUsers;
}

/** cdk8s-plus-28 predates in-place resize: `resizePolicy` on the container named `containerName`. */
export function setResizePolicy(
  workload: kplus.AbstractPod, containerName: string, policy: ReadonlyArray<{ resourceName: string; restartPolicy: string }>,
): void {
  const gaps = gapsOf(ApiObject.of(workload));
  gaps.resizePolicies = Object.assign({}, gaps.resizePolicies, { [containerName]: policy });
}

/** cdk8s-plus-28 predates `spec.trafficDistribution` on a Service. */
export function setTrafficDistribution(service: ApiObject, trafficDistribution: string): void {
  gapsOf(service).trafficDistribution = trafficDistribution;
}

/**
 * cdk8s-plus-28 predates `behavior.scaleUp/scaleDown.tolerance` on a HorizontalPodAutoscaler; a
 * direction it does not render gets a rule of the tolerance alone (the API server fills in the rest).
 */
export function setAutoscalerTolerance(autoscaler: ApiObject, tolerance: { scaleUp?: string; scaleDown?: string }): void {
  gapsOf(autoscaler).autoscalerTolerance = { ...tolerance };
}

/** cdk8s-plus-28 takes one registry Secret (`dockerRegistryAuth`); pods may need several. */
export function setImagePullSecrets(workload: kplus.AbstractPod, names: string[]): void {
  gapsOf(ApiObject.of(workload)).imagePullSecrets = [...names];
}

/** cdk8s-plus-28's Handler has no sleep action, and its types drop the field from a JSON patch: the first container's `preStop.sleep`. */
export function setPreStopSleep(workload: kplus.AbstractPod, seconds: number): void {
  gapsOf(ApiObject.of(workload)).preStopSleepSeconds = seconds;
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
  gapsOf(ApiObject.of(workload)).jobTemplateFailurePolicy = policy;
}

/** cdk8s-plus-28 takes a `Cron` and renders it in five fields: the schedule as written (a macro such as `@daily`, or a time zone), verbatim. */
export function setCronSchedule(cronJob: kplus.CronJob, schedule: string): void {
  gapsOf(ApiObject.of(cronJob)).schedule = schedule;
}

/**
 * Containers added to a workload through its public handles (a sidecar, an init container) get
 * the security-context fields in `defaults` they leave unset; a value set explicitly is kept.
 */
export function setContainerSecurityDefaults(workload: kplus.AbstractPod, defaults: ReadonlyArray<readonly [string, unknown]>): void {
  gapsOf(ApiObject.of(workload)).containerSecurityDefaults = defaults;
}
