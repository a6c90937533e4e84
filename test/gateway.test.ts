import { Chart, Duration, Size, Testing } from 'cdk8s';
import { Exposure, GatewayPathType, PythonServer, PythonService, PythonServiceProps } from '../src';
import { appContainer, expectStrictlyValid, Manifest, only, selects, synth } from './support/manifests';

const GATEWAY = { gatewayName: 'public', gatewayNamespace: 'gateway-system', sectionName: 'https', hostnames: ['shop.example.com', '*.shop.example.com'] };

function build(props: Partial<PythonServiceProps>): Manifest[] {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', expose: Exposure.gateway(GATEWAY), ...props });
  return synth(chart);
}

describe('Exposure.gateway()', () => {
  const manifests = build({ server: PythonServer.uvicorn({ app: 'shop.main:app' }) });
  const route = only(manifests, 'HTTPRoute');

  test('a gateway.networking.k8s.io/v1 HTTPRoute in the app namespace, strictly valid against the v1.6.1 CRD', () => {
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.metadata).toMatchObject({ name: 'api', namespace: 'shop' });
    expectStrictlyValid(manifests);
  });

  test('attached to the named Gateway and listener, matching the host names and the path prefix', () => {
    expect(route.spec.parentRefs).toEqual([{ name: 'public', namespace: 'gateway-system', sectionName: 'https' }]);
    expect(route.spec.hostnames).toEqual(['shop.example.com', '*.shop.example.com']);
    expect(route.spec.rules[0].matches).toEqual([{ path: { type: 'PathPrefix', value: '/' } }]);
  });

  test('routes to a Service and port that exist', () => {
    const [backend] = route.spec.rules[0].backendRefs;
    const service = only(manifests, 'Service', backend.name);
    expect(service.spec.ports.map((p: any) => p.port)).toContain(backend.port);
    expect(service.spec.type).toBe('ClusterIP');
  });

  test('uvicorn: no route timeout unless asked (nothing on the server kills a slow request)', () => {
    expect(route.spec.rules[0].timeouts).toBeUndefined();
    const asked = only(build({ server: PythonServer.uvicorn({ app: 'a:b' }), expose: Exposure.gateway({ ...GATEWAY, requestTimeout: Duration.minutes(2) }) }), 'HTTPRoute');
    expect(asked.spec.rules[0].timeouts).toEqual({ request: '120s' });
  });

  test('gunicorn sync workers: the proxy waits the server\'s timeout plus a margin; gthread is left alone; timeouts can be turned off', () => {
    const sync = only(build({ server: PythonServer.gunicorn({ app: 'a:b', timeout: Duration.seconds(60) }) }), 'HTTPRoute');
    expect(sync.spec.rules[0].timeouts).toEqual({ request: '65s' });
    const gthread = only(build({ server: PythonServer.gunicorn({ app: 'a:b', workerClass: 'gthread' }) }), 'HTTPRoute');
    expect(gthread.spec.rules[0].timeouts).toBeUndefined();
    const off = only(build({ server: PythonServer.gunicorn({ app: 'a:b' }), expose: Exposure.gateway({ ...GATEWAY, timeouts: false }) }), 'HTTPRoute');
    expect(off.spec.rules[0].timeouts).toBeUndefined();
  });

  test('exact paths, and every listener without a section name', () => {
    const exact = only(build({ expose: Exposure.gateway({ gatewayName: 'public', path: '/api', pathType: GatewayPathType.EXACT }) }), 'HTTPRoute');
    expect(exact.spec.rules[0].matches).toEqual([{ path: { type: 'Exact', value: '/api' } }]);
    expect(exact.spec.parentRefs).toEqual([{ name: 'public' }]);
    expect(exact.spec.hostnames).toBeUndefined();
  });

  test('the probes send the first host name that is not a wildcard', () => {
    const c = appContainer(only(build({ server: PythonServer.gunicorn({ app: 'a:b' }), expose: Exposure.gateway({ ...GATEWAY, hostnames: ['*.example.com', 'api.example.com'] }) }), 'Deployment'));
    expect(c.readinessProbe.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'api.example.com' }]);
  });
});

describe('NetworkPolicy with a Gateway in front', () => {
  const appPortRule = (manifests: Manifest[]) => only(manifests, 'NetworkPolicy', 'api-netpol').spec.ingress[0];
  const admits = (rule: any, namespace: string) => !rule.from || rule.from.some((peer: any) => selects(peer.namespaceSelector?.matchLabels, { 'kubernetes.io/metadata.name': namespace }));

  test('the app port is open to every source by default (data planes run in different places)', () => {
    const rule = appPortRule(build({ security: { allowedImages: ['ghcr.io/acme/'] } }));
    expect(rule.from).toBeUndefined();
    expect(admits(rule, 'envoy-gateway-system')).toBe(true);
  });

  test('proxyNamespace narrows it to the data plane\'s namespace', () => {
    const rule = appPortRule(build({ expose: Exposure.gateway({ ...GATEWAY, proxyNamespace: 'envoy-gateway-system' }), security: { allowedImages: ['ghcr.io/acme/'] } }));
    expect(rule.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'envoy-gateway-system' } } }]);
    expect(admits(rule, 'envoy-gateway-system')).toBe(true);
    expect(admits(rule, 'shop')).toBe(false);
    // Even without `security`: the NetworkPolicy is always there.
    expect(appPortRule(build({ expose: Exposure.gateway({ ...GATEWAY, proxyNamespace: 'istio-ingress' }) })).from)
      .toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-ingress' } } }]);
  });

  test('and so does the same option on Ingress exposure; forwarded headers may then be trusted from everyone', () => {
    const manifests = build({
      expose: Exposure.ingress({ host: 'shop.example.com', proxyNamespace: 'ingress-nginx' }),
      server: PythonServer.gunicorn({ app: 'a:b', forwardedAllowIps: '*' }),
      resources: { memory: Size.mebibytes(512) },
    });
    expect(appPortRule(manifests).from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]);
  });
});

describe('bad gateway props', () => {
  test.each([
    [{ gatewayName: 'Public' }, 'expose.gatewayName "Public" must be a DNS-1123 subdomain'],
    [{ gatewayName: 'public', gatewayNamespace: 'Gateway_System' }, 'expose.gatewayNamespace "Gateway_System" must be a DNS-1123 label'],
    [{ gatewayName: 'public', hostnames: [] }, 'expose.hostnames [] must list 1 to 16 host names'],
    [{ gatewayName: 'public', hostnames: ['https://shop.example.com'] }, 'expose.hostnames[0] "https://shop.example.com" must be a lower-case RFC 1123 host name'],
    [{ gatewayName: 'public', hostnames: ['shop.*.example.com'] }, 'expose.hostnames[0] "shop.*.example.com" must be a lower-case RFC 1123 host name, optionally starting with "*."'],
    [{ gatewayName: 'public', hostnames: ['10.0.0.1'] }, 'expose.hostnames[0] "10.0.0.1" must be a host name: Gateway API does not route by IP address'],
    [{ gatewayName: 'public', path: 'api' }, 'expose.path "api" must be an HTTP path'],
    [{ gatewayName: 'public', pathType: 'RegularExpression' as GatewayPathType }, 'expose.pathType "RegularExpression" must be one of PathPrefix, Exact'],
    [{ gatewayName: 'public', requestTimeout: Duration.millis(1500) }, 'expose.requestTimeout (1 second 500 millis) must be a whole number of seconds'],
    [{ gatewayName: 'public', requestTimeout: Duration.seconds(10), timeouts: false }, 'expose.requestTimeout (10 seconds) cannot be combined with timeouts: false'],
    [{ gatewayName: 'public', proxyNamespace: 'Envoy' }, 'expose.proxyNamespace "Envoy" must be a DNS-1123 label'],
  ])('%j', (options, message) => {
    expect(() => build({ expose: Exposure.gateway(options) })).toThrow(`PythonService 'api': ${message}`);
  });
});
