import { NetworkPeer, NetworkProtocol, NetworkRule } from '../../core/network-policy';

/**
 * Options for `DnsEgress.kubeDns()`.
 */
export interface KubeDnsEgressOptions {
  /**
   * The ClusterIP of the `kube-dns` Service (`kubectl -n kube-system get svc kube-dns`), admitted
   * as an IP block. Needed with NodeLocal DNSCache when kube-proxy runs in iptables mode: the
   * cache then answers on this address itself, without the DNAT to a CoreDNS pod that a pod
   * selector would match.
   * @default - not admitted (it is not known at synth time)
   */
  readonly serviceIp?: string;

  /**
   * Link-local addresses NodeLocal DNSCache listens on.
   * @default ["169.254.20.10", "169.254.25.10"] - the upstream default and kubespray's
   */
  readonly nodeLocalAddresses?: string[];
}

/**
 * Where pods may send DNS queries once egress is restricted.
 *
 * The default fits CoreDNS/kube-dns and NodeLocal DNSCache (upstream, kubespray, GKE): the cache
 * runs with `hostNetwork`, so no pod selector matches it and only its link-local address does.
 */
export class DnsEgress {
  /**
   * kube-system pods labelled `k8s-app` = `kube-dns`, `node-local-dns` or `nodelocaldns`, and
   * the NodeLocal DNSCache link-local addresses, on UDP and TCP 53.
   */
  public static kubeDns(options: KubeDnsEgressOptions = {}): DnsEgress {
    const pods: NetworkPeer[] = KUBE_DNS_APPS.map((app) => ({ namespaceName: 'kube-system', podLabels: { 'k8s-app': app } }));
    const addresses = [...(options.nodeLocalAddresses ?? NODE_LOCAL_DNS_ADDRESSES), ...(options.serviceIp !== undefined ? [options.serviceIp] : [])];
    const blocks: NetworkPeer[] = addresses.map((address) => ({ cidr: hostCidr(address) }));
    return new DnsEgress([{ peers: [...pods, ...blocks], ports: dnsPorts(53) }], 'DnsEgress.kubeDns()');
  }

  /**
   * OpenShift's cluster DNS: the `dns-default` pods in `openshift-dns`, which listen on 5353
   * (the Service maps 53 to 5353, and NetworkPolicy sees the pod port).
   */
  public static openShift(): DnsEgress {
    return new DnsEgress([{
      peers: [{ namespaceName: 'openshift-dns', podLabels: { 'dns.operator.openshift.io/daemonset-dns': 'default' } }],
      ports: dnsPorts(5353),
    }], 'DnsEgress.openShift()');
  }

  /**
   * Any other DNS setup: exactly these egress rules.
   * @param rules the egress rules that reach your cluster's DNS servers, e.g. a NodeLocal DNSCache address on port 53
   */
  public static custom(rules: NetworkRule[]): DnsEgress {
    return new DnsEgress(rules, 'DnsEgress.custom()');
  }

  /**
   * @param rules the egress rules that admit DNS
   * @param description how it was made, for error messages
   */
  private constructor(
    /** The egress rules that admit DNS. */
    public readonly rules: NetworkRule[],
    /** How it was made, for error messages. */
    public readonly description: string,
  ) {}
}

const KUBE_DNS_APPS = ['kube-dns', 'node-local-dns', 'nodelocaldns'];
const NODE_LOCAL_DNS_ADDRESSES = ['169.254.20.10', '169.254.25.10'];

function dnsPorts(port: number) {
  return [{ port, protocol: NetworkProtocol.UDP }, { port, protocol: NetworkProtocol.TCP }];
}

/** One address as a CIDR (`/32` or `/128`); a CIDR stays as it is. */
function hostCidr(address: string): string {
  if (typeof address !== 'string' || address.includes('/')) return address;
  return address.includes(':') ? `${address}/128` : `${address}/32`;
}
