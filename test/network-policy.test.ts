import { Testing } from 'cdk8s';
import { NetworkProtocol, ServiceNetworkPolicy } from '../src';
import { expectStrictlyValid, only, synth } from './support/manifests';

function policy() {
  const chart = Testing.chart();
  const np = new ServiceNetworkPolicy(chart, 'np', { metadata: { name: 'api-netpol' }, podSelector: { app: 'api' } });
  return { chart, np };
}

describe('ServiceNetworkPolicy', () => {
  test('isolates ingress and egress, with egress open until restricted', () => {
    const { chart } = policy();
    const np = only(synth(chart), 'NetworkPolicy');
    expect(np.spec).toEqual({ podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress', 'Egress'], egress: [{}] });
  });

  test('renders typed peers and ports', () => {
    const { chart, np } = policy();
    np.addIngressRule({
      peers: [{ namespaceName: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'prometheus' } }, { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }],
      ports: [{ port: 8080 }],
    });
    np.restrictEgress();
    np.addEgressRule({ peers: [{ namespaceLabels: {}, podLabels: { 'k8s-app': 'kube-dns' } }], ports: [{ port: 53, protocol: NetworkProtocol.UDP }, { port: 53 }] });
    np.addEgressRule({ peers: [{ cidr: '2001:db8::/32' }], ports: [{ port: 5432, endPort: 5433 }] });
    const manifests = synth(chart);
    const spec = only(manifests, 'NetworkPolicy').spec;
    expect(spec.ingress).toEqual([{
      from: [
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } },
        { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
      ],
      ports: [{ port: 8080, protocol: 'TCP' }],
    }]);
    expect(spec.egress).toEqual([
      { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
      { to: [{ ipBlock: { cidr: '2001:db8::/32' } }], ports: [{ port: 5432, endPort: 5433, protocol: 'TCP' }] },
    ]);
    expect(np.egressUnrestricted).toBe(false);
    expectStrictlyValid(manifests);
  });

  const bad: Array<[string, any, RegExp]> = [
    ['an invalid CIDR', { peers: [{ cidr: '10.0.0.0/33' }] }, /ingress rule.peers\[0\].cidr "10.0.0.0\/33" must be an IPv4 or IPv6 CIDR/],
    ['an address without prefix', { peers: [{ cidr: '10.0.0.1' }] }, /cidr "10.0.0.1" must be an IPv4 or IPv6 CIDR/],
    ['a bad IPv6 CIDR', { peers: [{ cidr: '2001:::1/64' }] }, /cidr "2001:::1\/64" must be an IPv4 or IPv6 CIDR/],
    ['cidr mixed with selectors', { peers: [{ cidr: '10.0.0.0/8', podLabels: {} }] }, /sets cidr together with namespace or pod selectors/],
    ['an empty peer', { peers: [{}] }, /peers\[0\] \{\} must set cidr, namespaceName, namespaceLabels or podLabels/],
    ['except without cidr', { peers: [{ podLabels: {}, except: ['10.0.0.0/8'] }] }, /except .* only applies together with cidr/],
    ['a port out of range', { ports: [{ port: 0 }] }, /ports\[0\].port 0 must be a whole number from 1 to 65535/],
    ['an end port below the port', { ports: [{ port: 100, endPort: 90 }] }, /endPort 90 must not be below port 100/],
    ['an unknown protocol', { ports: [{ port: 1, protocol: 'ICMP' }] }, /protocol "ICMP" must be one of TCP, UDP, SCTP/],
    ['an invalid namespace name', { peers: [{ namespaceName: 'Kube_System' }] }, /namespaceName "Kube_System" must be a DNS-1123 label/],
  ];
  test.each(bad)('rejects %s', (_title, rule, message) => {
    expect(() => policy().np.addIngressRule(rule)).toThrow(message);
  });
});
