import { Chart, Testing } from 'cdk8s';
import { KUBERNETES_VERSIONS, KubernetesVersion, ManifestValidator } from './schema-validator';
import { restrictedViolations } from '../../src/features/security/pod-security-standards';

/** A synthesized Kubernetes object. */
export type Manifest = { [key: string]: any };

/** Synthesizes a chart the way `cdk8s synth` does, as plain objects. */
export function synth(chart: Chart): Manifest[] {
  return Testing.synth(chart);
}

/** The single object of a kind (and name, if given); fails if there is not exactly one. */
export function only(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata?.name === name));
  if (found.length !== 1) {
    throw new Error(`expected exactly one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}: ${manifests.map((m) => `${m.kind}/${m.metadata?.name}`).join(', ')}`);
  }
  return found[0];
}

/** Every object of a kind. */
export function allOf(manifests: Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

/** The pod template (metadata + spec) of a workload object, if it has one. */
export function podTemplateOf(m: Manifest): { metadata: any; spec: any } | undefined {
  switch (m.kind) {
    case 'Pod': return { metadata: m.metadata ?? {}, spec: m.spec };
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job': return m.spec?.template;
    case 'CronJob': return m.spec?.jobTemplate?.spec?.template;
    default: return undefined;
  }
}

/** The first container of a workload. */
export function appContainer(m: Manifest): any {
  return podTemplateOf(m)!.spec.containers[0];
}

/** Env of a container as a name → value map (values of valueFrom entries are the raw objects). */
export function envOf(container: any): { [name: string]: any } {
  return Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));
}

/** The Kubernetes releases under test that serve an object's apiVersion and kind. */
export function releasesServing(m: Manifest): string[] {
  return KUBERNETES_VERSIONS.filter((version) => ManifestValidator.forVersion(version).knows(m.apiVersion, m.kind));
}

/**
 * All strict checks every synthesized set of objects must pass: the Kubernetes schemas of
 * `releases` (and CRD schemas), with unknown fields as errors, and Pod Security "restricted" for
 * every pod template. The defaults target Kubernetes 1.30 and later, so they are checked against
 * 1.35; output that claims to fit 1.28 (the options for older clusters) is checked against both.
 * Returns a readable list of problems (empty when all pass).
 */
export function strictProblems(manifests: Manifest[], releases: KubernetesVersion[] = ['1.35']): string[] {
  const problems: string[] = [];
  for (const m of manifests) {
    // An API that only some releases serve (ValidatingAdmissionPolicy v1 from 1.30, v1beta1 up
    // to 1.31) is checked against those; one that none of them knows is an error.
    const versions = releases.filter((version) => ManifestValidator.forVersion(version).knows(m.apiVersion, m.kind));
    if (versions.length === 0) problems.push(`${m.kind}/${m.metadata?.name}: ${m.apiVersion} ${m.kind} is known to no Kubernetes release under test nor to the CRDs`);
    for (const version of versions) {
      const errors = ManifestValidator.forVersion(version).errorsOf(m);
      if (errors.length > 0) problems.push(`[k8s ${version}] ${m.kind}/${m.metadata?.name}: ${errors.join('; ')}`);
    }
  }
  for (const m of manifests) {
    const template = podTemplateOf(m);
    if (!template) continue;
    for (const v of restrictedViolations(template.spec, template.metadata?.annotations ?? {})) {
      problems.push(`[restricted] ${m.kind}/${m.metadata?.name}: ${v.control}: ${v.field} ${v.message}`);
    }
  }
  return problems;
}

/** Asserts `strictProblems` is empty, printing every problem otherwise. */
export function expectStrictlyValid(manifests: Manifest[], releases?: KubernetesVersion[]): void {
  expect(strictProblems(manifests, releases)).toEqual([]);
}

/** True if `selector` (matchLabels only) selects an object with `labels`. */
export function selects(selector: { [key: string]: string } | undefined, labels: { [key: string]: string } | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return true;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/**
 * Cross-object checks: every Service selects pods of exactly one workload in its namespace and
 * its named/numbered target ports exist on them; every NetworkPolicy selects some pods.
 */
export function crossObjectProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  // Jobs count too: a Service or budget that also picked up migration pods would be a bug.
  const workloads = manifests.filter((m) => podTemplateOf(m));
  const podsOf = (ns: string | undefined, selector: { [key: string]: string }) =>
    workloads.filter((w) => w.metadata?.namespace === ns && selects(selector, podTemplateOf(w)!.metadata?.labels));
  for (const svc of allOf(manifests, 'Service')) {
    const selected = podsOf(svc.metadata?.namespace, svc.spec.selector);
    if (selected.length !== 1) {
      problems.push(`Service/${svc.metadata.name} selects ${selected.length} workloads`);
      continue;
    }
    const ports = podTemplateOf(selected[0])!.spec.containers.flatMap((c: any) => c.ports ?? []);
    for (const p of svc.spec.ports ?? []) {
      const target = p.targetPort ?? p.port;
      const ok = ports.some((cp: any) => cp.containerPort === target || cp.name === target);
      if (!ok) problems.push(`Service/${svc.metadata.name} port ${p.name} targets ${target}, which no container exposes`);
    }
  }
  for (const np of allOf(manifests, 'NetworkPolicy')) {
    const selected = podsOf(np.metadata?.namespace, np.spec.podSelector?.matchLabels ?? {});
    if (selected.length === 0) problems.push(`NetworkPolicy/${np.metadata.name} selects no pods`);
  }
  for (const pdb of allOf(manifests, 'PodDisruptionBudget')) {
    const selected = podsOf(pdb.metadata?.namespace, pdb.spec.selector?.matchLabels ?? {});
    if (selected.length !== 1) problems.push(`PodDisruptionBudget/${pdb.metadata.name} selects ${selected.length} workloads`);
  }
  for (const hpa of allOf(manifests, 'HorizontalPodAutoscaler')) {
    const ref = hpa.spec.scaleTargetRef;
    const target = manifests.find((m) => m.kind === ref.kind && m.apiVersion === ref.apiVersion && m.metadata?.name === ref.name && m.metadata?.namespace === hpa.metadata?.namespace);
    if (!target) problems.push(`HorizontalPodAutoscaler/${hpa.metadata.name} targets ${ref.kind}/${ref.name}, which does not exist`);
    else if (target.spec.replicas !== undefined) problems.push(`HorizontalPodAutoscaler/${hpa.metadata.name} targets ${ref.kind}/${ref.name}, which also sets replicas`);
  }
  for (const w of workloads) {
    for (const term of podTemplateOf(w)!.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
      const selected = podsOf(w.metadata?.namespace, term.podAffinityTerm.labelSelector?.matchLabels ?? {});
      if (selected.length !== 1 || selected[0] !== w) problems.push(`${w.kind}/${w.metadata.name} anti-affinity covers pods of ${selected.length} workloads`);
    }
    for (const c of podTemplateOf(w)!.spec.topologySpreadConstraints ?? []) {
      const selected = podsOf(w.metadata?.namespace, c.labelSelector?.matchLabels ?? {});
      if (selected.length !== 1 || selected[0] !== w) problems.push(`${w.kind}/${w.metadata.name} spreads over pods of ${selected.length} workloads`);
    }
  }
  for (const d of allOf(manifests, 'Deployment')) {
    const templateLabels = d.spec.template.metadata?.labels;
    if (!selects(d.spec.selector.matchLabels, templateLabels)) problems.push(`Deployment/${d.metadata.name} selector does not match its template`);
    if (Object.keys(d.spec.selector.matchLabels).includes('app.kubernetes.io/version')) problems.push(`Deployment/${d.metadata.name} selects on the version label`);
  }
  return problems;
}

const isAdmissionPolicy = (m: Manifest) => m.kind === 'ValidatingAdmissionPolicy' || m.kind === 'NamespacedValidatingPolicy';

/** The one admission policy scoped to a service by its labels (ValidatingAdmissionPolicy or Kyverno's). */
export function servicePolicy(manifests: Manifest[]): Manifest {
  const found = manifests.filter((m) => isAdmissionPolicy(m) && m.spec.matchConstraints.objectSelector !== undefined);
  if (found.length !== 1) throw new Error(`expected exactly one service admission policy, found ${found.map((m) => m.metadata.name).join(', ') || 'none'}`);
  return found[0];
}

/** The one admission policy that covers the whole namespace (no label selector). */
export function namespacePolicy(manifests: Manifest[]): Manifest {
  const found = manifests.filter((m) => isAdmissionPolicy(m) && m.spec.matchConstraints.objectSelector === undefined);
  if (found.length !== 1) throw new Error(`expected exactly one namespace admission policy, found ${found.map((m) => m.metadata.name).join(', ') || 'none'}`);
  return found[0];
}
