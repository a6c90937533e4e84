import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Exposure, GatewayPathType, PythonService } from '../src';
import { appContainer, expectStrictlyValid, only, synth } from './support/manifests';

describe('Exposure', () => {
  test('clusterIp is cluster-internal', () => {
    expect(Exposure.clusterIp()).toMatchObject({ serviceType: kplus.ServiceType.CLUSTER_IP, clusterInternal: true });
  });

  test('loadBalancer, nodePort and ingress reach outside the cluster', () => {
    expect(Exposure.loadBalancer()).toMatchObject({ serviceType: kplus.ServiceType.LOAD_BALANCER, clusterInternal: false });
    expect(Exposure.nodePort({ nodePort: 30001 })).toMatchObject({
      serviceType: kplus.ServiceType.NODE_PORT, requestedNodePort: 30001, clusterInternal: false,
    });
    const ingress = Exposure.ingress({ host: 'a.example.com' });
    expect(ingress).toMatchObject({ serviceType: kplus.ServiceType.CLUSTER_IP, clusterInternal: false });
    expect(ingress.ingressOptions).toEqual({ host: 'a.example.com' });
  });
});

describe('several hosts on an Ingress, as on a Gateway route', () => {
  const ingressOf = (expose: Exposure) => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'web', { image: 'ghcr.io/acme/web:1.0', healthCheck: { path: '/healthz' }, expose });
    const manifests = synth(chart);
    expectStrictlyValid(manifests);
    return { ingress: only(manifests, 'Ingress'), deployment: only(manifests, 'Deployment') };
  };

  test('one rule per host with the same path and backend, one TLS Secret for all, the first host as the probes\' Host', () => {
    const { ingress, deployment } = ingressOf(Exposure.ingress({ hosts: ['example.com', 'www.example.com'], path: '/shop', tlsSecretName: 'example-tls' }));
    expect(ingress.spec.rules.map((r: any) => [r.host, r.http.paths.map((p: any) => [p.path, p.pathType, p.backend.service.name])])).toEqual([
      ['example.com', [['/shop', 'Prefix', 'web']]],
      ['www.example.com', [['/shop', 'Prefix', 'web']]],
    ]);
    expect(ingress.spec.tls).toEqual([{ hosts: ['example.com', 'www.example.com'], secretName: 'example-tls' }]);
    expect(appContainer(deployment).readinessProbe.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'example.com' }]);
  });

  test('one TLS Secret per host, and an exact path', () => {
    const { ingress } = ingressOf(Exposure.ingress({
      hosts: ['example.com', 'www.example.com', 'api.example.com'],
      pathType: GatewayPathType.EXACT,
      path: '/',
      tlsSecretNames: { 'example.com': 'apex-tls', 'www.example.com': 'apex-tls', 'api.example.com': 'api-tls' },
    }));
    expect(ingress.spec.tls).toEqual([{ hosts: ['example.com', 'www.example.com'], secretName: 'apex-tls' }, { hosts: ['api.example.com'], secretName: 'api-tls' }]);
    expect(ingress.spec.rules.every((r: any) => r.http.paths[0].pathType === 'Exact')).toBe(true);
  });

  test('a wildcard host is routed but never sent as the probes\' Host', () => {
    const { deployment } = ingressOf(Exposure.ingress({ hosts: ['*.example.com', 'shop.example.com'] }));
    expect(appContainer(deployment).readinessProbe.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'shop.example.com' }]);
  });

  test.each([
    ['neither host nor hosts', {}, "PythonService 'web': expose.host (undefined) is required: the host name the Ingress routes (or hosts, for several)"],
    ['both host and hosts', { host: 'a.example.com', hosts: ['b.example.com'] }, 'expose.hosts ["b.example.com"] cannot be combined with expose.host'],
    ['an empty hosts list', { hosts: [] }, 'expose.hosts [] must list at least one host name'],
    ['a host with a scheme', { hosts: ['https://example.com'] }, 'expose.hosts[0] "https://example.com" must be a lower-case DNS host name'],
    ['a host twice', { hosts: ['example.com', 'example.com'] }, 'expose.hosts ["example.com","example.com"] names "example.com" twice'],
    ['a TLS Secret for a host not routed', { hosts: ['example.com'], tlsSecretNames: { 'www.example.com': 'www-tls' } }, 'expose.tlsSecretNames["www.example.com"] "www-tls" is for a host the Ingress does not route (hosts: example.com)'],
    ['both TLS forms', { host: 'example.com', tlsSecretName: 'a', tlsSecretNames: { 'example.com': 'b' } }, 'cannot be combined with expose.tlsSecretName'],
  ])('%s is an error naming the prop', (_what, options, message) => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    expect(() => new PythonService(chart, 'web', { image: 'ghcr.io/acme/web:1.0', expose: Exposure.ingress(options as any) })).toThrow(message);
  });
});
