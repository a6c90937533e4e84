import { ApiObject, ApiObjectMetadata, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { k8s } from './plus';
import { PropValidator } from './validation';

/**
 * Transport protocol of a network port.
 */
export enum NetworkProtocol {
  /** TCP */
  TCP = 'TCP',
  /** UDP */
  UDP = 'UDP',
  /** SCTP */
  SCTP = 'SCTP',
}

/**
 * A port (or port range) in a network rule.
 */
export interface NetworkPort {
  /**
   * The port number.
   */
  readonly port: number;

  /**
   * The last port of a range starting at `port`.
   * @default - a single port
   */
  readonly endPort?: number;

  /**
   * The protocol.
   * @default NetworkProtocol.TCP
   */
  readonly protocol?: NetworkProtocol;
}

/**
 * Who may talk to (or be talked to by) the pods. Set either an IP block (`cidr`) or any mix of
 * `namespaceName` / `namespaceLabels` / `podLabels` (which then must all match).
 */
export interface NetworkPeer {
  /**
   * Pods in the namespace with this name (matched by its `kubernetes.io/metadata.name` label).
   * @default - no namespace name constraint
   */
  readonly namespaceName?: string;

  /**
   * Pods in namespaces with these labels. An empty map means every namespace.
   * @default - the policy's own namespace, unless namespaceName is set
   */
  readonly namespaceLabels?: { [key: string]: string };

  /**
   * Pods with these labels. An empty map means every pod.
   * @default - every pod in the selected namespaces
   */
  readonly podLabels?: { [key: string]: string };

  /**
   * An IP block in CIDR notation, e.g. `10.0.0.0/16`. Cannot be combined with the selectors.
   * @default - no IP block
   */
  readonly cidr?: string;

  /**
   * CIDRs inside `cidr` to exclude.
   * @default - none
   */
  readonly except?: string[];
}

/**
 * A traffic rule: from/to these peers, on these ports.
 */
export interface NetworkRule {
  /**
   * The peers the rule applies to.
   * @default - every source or destination
   */
  readonly peers?: NetworkPeer[];

  /**
   * The ports the rule applies to.
   * @default - every port
   */
  readonly ports?: NetworkPort[];
}

/**
 * Props for `ServiceNetworkPolicy`.
 */
export interface ServiceNetworkPolicyProps {
  /**
   * Metadata of the NetworkPolicy (name, namespace, labels).
   */
  readonly metadata: ApiObjectMetadata;

  /**
   * Labels that select exactly the pods this policy isolates.
   */
  readonly podSelector: { [key: string]: string };

  /**
   * Allow all egress until `restrictEgress()` is called.
   * @default true - an app's outbound dependencies are unknown until a security policy declares them
   */
  readonly allowAllEgress?: boolean;

  /**
   * Who is asking, for error messages.
   * @default "ServiceNetworkPolicy '<id>'"
   */
  readonly errorLabel?: string;
}

const checkedRules = new WeakSet<NetworkRule>();

function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

/**
 * One `networking.k8s.io/v1` NetworkPolicy that isolates a set of pods for both ingress and egress
 * and then admits exactly the rules added to it.
 *
 * With `policyTypes: [Ingress, Egress]`, anything no rule matches is denied, so this is a
 * default-deny policy and its explicit allows in one object. Egress stays open (one empty rule)
 * until `restrictEgress()` is called, because denying egress by default would cut off DNS and
 * every database before the user has said what the app talks to.
 */
export class ServiceNetworkPolicy extends Construct {
  /** The underlying NetworkPolicy. */
  public readonly apiObject: ApiObject;

  private readonly ingressRules = new Array<NetworkRule>();
  private readonly egressRules = new Array<NetworkRule>();
  private egressOpen: boolean;
  private readonly validator: PropValidator;

  constructor(scope: Construct, id: string, props: ServiceNetworkPolicyProps) {
    super(scope, id);
    this.validator = new PropValidator(props.errorLabel ?? `ServiceNetworkPolicy '${id}'`);
    this.validator.labelMap('podSelector', props.podSelector);
    this.egressOpen = props.allowAllEgress ?? true;
    const podSelector = { matchLabels: { ...props.podSelector } };
    this.apiObject = new ApiObject(this, 'Resource', Object.assign({}, k8s.KubeNetworkPolicy.GVK, {
      metadata: props.metadata,
      spec: Lazy.any({
        // An empty rule list is left out, not rendered as `[]`: the API server drops empty lists,
        // so `ingress: []` would differ from the stored object on every apply (and denies the same).
        produce: () => ({
          podSelector,
          policyTypes: ['Ingress', 'Egress'],
          ingress: nonEmpty(this.ingressRules.map((rule) => renderRule(rule, 'from'))),
          egress: this.egressOpen ? [{}] : nonEmpty(this.egressRules.map((rule) => renderRule(rule, 'to'))),
        }),
      }),
    }));
  }

  /** Whether all egress is currently allowed. */
  public get egressUnrestricted(): boolean {
    return this.egressOpen;
  }

  /**
   * Admits traffic matching `rule` into the pods.
   * @param rule the sources and ports to admit
   */
  public addIngressRule(rule: NetworkRule): void {
    this.validateRule('ingress rule', rule);
    this.ingressRules.push(rule);
  }

  /**
   * Admits traffic matching `rule` out of the pods (effective once egress is restricted).
   * @param rule the destinations and ports to admit
   */
  public addEgressRule(rule: NetworkRule): void {
    this.validateRule('egress rule', rule);
    this.egressRules.push(rule);
  }

  /** Denies all egress except the rules added with `addEgressRule()`. */
  public restrictEgress(): void {
    this.egressOpen = false;
  }

  /** A copy of the ingress rules added so far. */
  public get ingress(): NetworkRule[] {
    return [...this.ingressRules];
  }

  /** A copy of the egress rules added so far. */
  public get egress(): NetworkRule[] {
    return [...this.egressRules];
  }

  private validateRule(prop: string, rule: NetworkRule): void {
    // Shared rules (the DNS rule of every service) are checked once.
    if (checkedRules.has(rule)) return;
    validateNetworkRule(this.validator, prop, rule);
    checkedRules.add(rule);
  }
}


/** Validates a rule's peers and ports; shared with the security policy's props. */
export function validateNetworkRule(v: PropValidator, prop: string, rule: NetworkRule): void {
  (rule.peers ?? []).forEach((peer, i) => validateNetworkPeer(v, `${prop}.peers[${i}]`, peer));
  (rule.ports ?? []).forEach((port, i) => {
    v.integerInRange(`${prop}.ports[${i}].port`, port.port, 1, 65535);
    v.integerInRange(`${prop}.ports[${i}].endPort`, port.endPort, 1, 65535);
    if (port.endPort !== undefined && port.endPort < port.port) {
      v.fail(`${prop}.ports[${i}].endPort`, port.endPort, `must not be below port ${port.port}`);
    }
    if (port.protocol !== undefined && !Object.values(NetworkProtocol).includes(port.protocol)) {
      v.fail(`${prop}.ports[${i}].protocol`, port.protocol, `must be one of ${Object.values(NetworkProtocol).join(', ')}`);
    }
  });
}

function validateNetworkPeer(v: PropValidator, prop: string, peer: NetworkPeer): void {
  const hasSelector = peer.namespaceName !== undefined || peer.namespaceLabels !== undefined || peer.podLabels !== undefined;
  if (peer.cidr !== undefined) {
    if (hasSelector) v.fail(prop, peer, 'sets cidr together with namespace or pod selectors; a peer is one or the other');
    if (!isCidr(peer.cidr)) v.fail(`${prop}.cidr`, peer.cidr, 'must be an IPv4 or IPv6 CIDR such as "10.0.0.0/16"');
    (peer.except ?? []).forEach((ex, i) => {
      if (!isCidr(ex)) v.fail(`${prop}.except[${i}]`, ex, 'must be an IPv4 or IPv6 CIDR such as "10.0.1.0/24"');
    });
  } else {
    if (!hasSelector) v.fail(prop, peer, 'must set cidr, namespaceName, namespaceLabels or podLabels');
    if (peer.except !== undefined) v.fail(`${prop}.except`, peer.except, 'only applies together with cidr');
    v.dnsLabel(`${prop}.namespaceName`, peer.namespaceName);
    v.labelMap(`${prop}.namespaceLabels`, peer.namespaceLabels);
    v.labelMap(`${prop}.podLabels`, peer.podLabels);
  }
}

const IPV4_OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);

/** True for an IPv4 (`a.b.c.d/n`, n ≤ 32) or IPv6 (`x::y/n`, n ≤ 128) CIDR. */
export function isCidr(value: string): boolean {
  if (typeof value !== 'string') return false;
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || prefix === undefined || !/^[0-9]{1,3}$/.test(prefix)) return false;
  const bits = Number(prefix);
  if (IPV4.test(address)) return bits <= 32;
  return isIpv6(address) && bits <= 128;
}

function isIpv6(address: string): boolean {
  if (!/^[0-9a-fA-F:]+$/.test(address) || address.includes(':::')) return false;
  const doubleColons = address.split('::').length - 1;
  if (doubleColons > 1) return false;
  const groups = address.split(':').filter((g) => g !== '');
  if (!groups.every((g) => g.length <= 4)) return false;
  return doubleColons === 1 ? groups.length < 8 : groups.length === 8;
}

function renderRule(rule: NetworkRule, direction: 'from' | 'to'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (rule.peers && rule.peers.length > 0) out[direction] = rule.peers.map(renderPeer);
  if (rule.ports && rule.ports.length > 0) {
    out.ports = rule.ports.map((p) => ({
      port: p.port,
      ...(p.endPort !== undefined ? { endPort: p.endPort } : {}),
      protocol: p.protocol ?? NetworkProtocol.TCP,
    }));
  }
  return out;
}

function renderPeer(peer: NetworkPeer): Record<string, unknown> {
  if (peer.cidr !== undefined) {
    return { ipBlock: { cidr: peer.cidr, ...(peer.except?.length ? { except: [...peer.except] } : {}) } };
  }
  const out: Record<string, unknown> = {};
  if (peer.namespaceName !== undefined || peer.namespaceLabels !== undefined) {
    const labels = { ...(peer.namespaceLabels ?? {}) };
    if (peer.namespaceName !== undefined) labels['kubernetes.io/metadata.name'] = peer.namespaceName;
    out.namespaceSelector = Object.keys(labels).length > 0 ? { matchLabels: labels } : {};
  }
  if (peer.podLabels !== undefined) {
    out.podSelector = Object.keys(peer.podLabels).length > 0 ? { matchLabels: { ...peer.podLabels } } : {};
  }
  return out;
}

/** The pods labelled `podLabels` in `namespace`, as a peer of a policy in `policyNamespace` (a peer without a namespace selects pods of the policy's own). */
export function peerIn(namespace: string | undefined, policyNamespace: string, podLabels: { [key: string]: string }): NetworkPeer {
  return namespace !== undefined && namespace !== policyNamespace ? { namespaceName: namespace, podLabels } : { podLabels };
}
