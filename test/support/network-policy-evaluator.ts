import { Manifest, podTemplateOf } from './manifests';

/** A pod as NetworkPolicies see it. */
export interface PodView {
  readonly what: string;
  readonly namespace: string;
  readonly labels: { [key: string]: string };
  /** Named container ports, for rules that name a port. */
  readonly namedPorts?: { [name: string]: number };
  /** For an address outside the cluster (no pod): the address, which only ipBlock peers select. */
  readonly externalAddress?: string;
}

const ipv4 = (address: string) => address.split('.').reduce((n, part) => n * 256 + Number(part), 0);

/** Whether an IPv4 CIDR holds `address`. */
function cidrHolds(cidr: string, address: string): boolean {
  const [base, bits] = cidr.split('/');
  if (base.includes(':') || address.includes(':')) return false;
  const size = 2 ** (32 - Number(bits ?? 32));
  return Math.floor(ipv4(base) / size) === Math.floor(ipv4(address) / size);
}

/** One pod per workload (Deployment, StatefulSet, Job, CronJob) of `manifests`, with its template's labels. */
export function workloadPods(manifests: Manifest[]): PodView[] {
  return manifests.filter((m) => ['Deployment', 'StatefulSet', 'Job', 'CronJob'].includes(m.kind)).map((m) => {
    const template = podTemplateOf(m)!;
    const namedPorts: { [name: string]: number } = {};
    for (const c of template.spec.containers ?? []) for (const p of c.ports ?? []) if (p.name) namedPorts[p.name] = p.containerPort;
    return { what: `${m.kind}/${m.metadata.name}`, namespace: m.metadata.namespace ?? 'default', labels: template.metadata?.labels ?? {}, namedPorts };
  });
}

function selectorMatches(selector: any, labels: { [key: string]: string }): boolean {
  if (selector === undefined || selector === null) return true;
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector.matchExpressions ?? []).every((e: any) => {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case 'In': return has && e.values.includes(labels[e.key]);
      case 'NotIn': return !has || !e.values.includes(labels[e.key]);
      case 'Exists': return has;
      case 'DoesNotExist': return !has;
      default: throw new Error(`unknown selector operator ${e.operator}`);
    }
  });
  return byLabel && byExpression;
}

/**
 * Whether `peer` (of a policy in `policyNamespace`) selects `pod`, by the NetworkPolicy rules: a
 * pod selector alone means the policy's namespace; a namespace selector alone every pod there;
 * both, the pods that match both. An ipBlock selects only addresses outside the cluster (as the
 * spec intends it; what it does to pod addresses is left to the implementation), and selectors
 * never select those.
 */
function peerSelects(peer: any, policyNamespace: string, pod: PodView, namespaceLabels: (ns: string) => { [key: string]: string }): boolean {
  if (peer.ipBlock) {
    const address = pod.externalAddress;
    return address !== undefined && cidrHolds(peer.ipBlock.cidr, address) && !(peer.ipBlock.except ?? []).some((e: string) => cidrHolds(e, address));
  }
  if (pod.externalAddress !== undefined) return false;
  const inNamespace = peer.namespaceSelector !== undefined ? selectorMatches(peer.namespaceSelector, namespaceLabels(pod.namespace)) : pod.namespace === policyNamespace;
  return inNamespace && selectorMatches(peer.podSelector, pod.labels);
}

function portOpen(rule: any, port: number, destination: PodView, protocol: string): boolean {
  if (!rule.ports || rule.ports.length === 0) return true;
  return rule.ports.some((p: any) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined) return true;
    const number = typeof p.port === 'string' ? destination.namedPorts?.[p.port] : p.port;
    return number !== undefined && number <= port && port <= (p.endPort ?? number);
  });
}

/**
 * Whether a connection (TCP unless said) from `from` to `to` on `port` is allowed by the NetworkPolicies of
 * `manifests`, as the Kubernetes NetworkPolicy semantics define it: egress at the source and
 * ingress at the destination must both allow it; a pod no policy of that direction selects is
 * open in it; rules are unions.
 */
export function reachable(manifests: Manifest[], from: PodView, to: PodView, port: number, protocol = 'TCP'): boolean {
  const policies = manifests.filter((m) => m.kind === 'NetworkPolicy');
  const namespaces = new Map(manifests.filter((m) => m.kind === 'Namespace').map((m) => [m.metadata.name, m.metadata.labels ?? {}]));
  const namespaceLabels = (ns: string) => Object.assign({}, namespaces.get(ns), { 'kubernetes.io/metadata.name': ns });
  const selecting = (pod: PodView, type: string) => pod.externalAddress !== undefined ? [] : policies.filter((p) => (p.metadata.namespace ?? 'default') === pod.namespace
    && (p.spec.policyTypes ?? ['Ingress']).includes(type) && selectorMatches(p.spec.podSelector, pod.labels));

  const egress = selecting(from, 'Egress');
  const egressAllowed = egress.length === 0 || egress.some((p) => (p.spec.egress ?? []).some((rule: any) => portOpen(rule, port, to, protocol)
    && (!rule.to || rule.to.length === 0 || rule.to.some((peer: any) => peerSelects(peer, p.metadata.namespace ?? 'default', to, namespaceLabels)))));
  const ingress = selecting(to, 'Ingress');
  const ingressAllowed = ingress.length === 0 || ingress.some((p) => (p.spec.ingress ?? []).some((rule: any) => portOpen(rule, port, to, protocol)
    && (!rule.from || rule.from.length === 0 || rule.from.some((peer: any) => peerSelects(peer, p.metadata.namespace ?? 'default', from, namespaceLabels)))));
  return egressAllowed && ingressAllowed;
}
