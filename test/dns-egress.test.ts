import { DnsEgress, NetworkProtocol } from '../src';

describe('DnsEgress', () => {
  test('kubeDns(): the DNS pods by their common k8s-app labels and the NodeLocal DNSCache addresses, UDP and TCP 53', () => {
    const [rule] = DnsEgress.kubeDns().rules;
    expect(rule.ports).toEqual([{ port: 53, protocol: NetworkProtocol.UDP }, { port: 53, protocol: NetworkProtocol.TCP }]);
    expect(rule.peers).toEqual([
      { namespaceName: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } },
      { namespaceName: 'kube-system', podLabels: { 'k8s-app': 'node-local-dns' } },
      { namespaceName: 'kube-system', podLabels: { 'k8s-app': 'nodelocaldns' } },
      { cidr: '169.254.20.10/32' },
      { cidr: '169.254.25.10/32' },
    ]);
  });

  test('kubeDns({ serviceIp, nodeLocalAddresses }) adds the Service IP and replaces the cache addresses', () => {
    const peers = DnsEgress.kubeDns({ serviceIp: '10.96.0.10', nodeLocalAddresses: ['169.254.0.10', 'fd00::a'] }).rules[0].peers!;
    expect(peers.filter((p) => p.cidr)).toEqual([{ cidr: '169.254.0.10/32' }, { cidr: 'fd00::a/128' }, { cidr: '10.96.0.10/32' }]);
  });

  test('openShift(): port 5353 of the dns-default pods', () => {
    expect(DnsEgress.openShift().rules).toEqual([{
      peers: [{ namespaceName: 'openshift-dns', podLabels: { 'dns.operator.openshift.io/daemonset-dns': 'default' } }],
      ports: [{ port: 5353, protocol: NetworkProtocol.UDP }, { port: 5353, protocol: NetworkProtocol.TCP }],
    }]);
  });

  test('custom() is exactly the rules given', () => {
    const rules = [{ peers: [{ cidr: '10.0.0.53/32' }] }];
    expect(DnsEgress.custom(rules).rules).toBe(rules);
    expect(DnsEgress.custom(rules).description).toBe('DnsEgress.custom()');
  });
});
