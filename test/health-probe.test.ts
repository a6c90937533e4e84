import { Chart, Duration, Testing } from 'cdk8s';
import { Exposure, HealthProbe, PythonServer, PythonService, PythonServiceProps } from '../src';
import { appContainer, expectStrictlyValid, Manifest, only, synth } from './support/manifests';

function container(props: Partial<PythonServiceProps>): any {
  return appContainer(only(manifests(props), 'Deployment'));
}
function manifests(props: Partial<PythonServiceProps>): Manifest[] {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', ...props });
  return synth(chart);
}

describe('probes that Django with a strict ALLOWED_HOSTS answers', () => {
  const django: Partial<PythonServiceProps> = { server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }), expose: Exposure.ingress({ host: 'shop.example.com' }) };

  test('the HTTP probes send the public host name as the Host header, not the pod IP', () => {
    const c = container(django);
    for (const probe of [c.startupProbe, c.readinessProbe]) {
      expect(probe.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'shop.example.com' }]);
      // httpGet.host is the address to connect to: it must stay the pod IP.
      expect(probe.httpGet.host).toBeUndefined();
    }
    expect(c.livenessProbe.tcpSocket).toBeDefined();
    expectStrictlyValid(manifests(django));
  });

  test('healthCheck.host wins; a wildcard host is never sent; an internal service sends its in-cluster name', () => {
    expect(container({ ...django, healthCheck: { host: 'internal.shop.example.com' } }).readinessProbe.httpGet.httpHeaders)
      .toEqual([{ name: 'Host', value: 'internal.shop.example.com' }]);
    // Without a public host the kubelet would send `<pod IP>:<port>`, which Django refuses (DisallowedHost).
    expect(container({ ...django, expose: Exposure.ingress({ host: '*.shop.example.com' }) }).readinessProbe.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'api.shop.svc' }]);
    expect(container({ ...django, expose: undefined }).readinessProbe.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'api.shop.svc' }]);
    expect(container({ ...django, expose: undefined, name: 'pricing' }).startupProbe.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'pricing.shop.svc' }]);
    // The image's own command, given a health path, gets the same header.
    expect(container({ healthCheck: { path: '/health' } }).readinessProbe.httpGet).toMatchObject({ path: '/health', httpHeaders: [{ name: 'Host', value: 'api.shop.svc' }] });
  });

  test('in a chart without a namespace, the in-cluster name is the Service name alone', () => {
    const chart = new Chart(Testing.app(), 'shop');
    new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', server: PythonServer.uvicorn({ app: 'api.main:app' }) });
    expect(appContainer(only(synth(chart), 'Deployment')).readinessProbe.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'api' }]);
  });

  test('an HTTP liveness path gets the header too', () => {
    expect(container({ ...django, healthCheck: { livenessPath: '/livez' } }).livenessProbe.httpGet).toEqual({
      path: '/livez', port: 8080, scheme: 'HTTP', httpHeaders: [{ name: 'Host', value: 'shop.example.com' }],
    });
  });
});

describe('liveness no dependency can fail', () => {
  // A readiness view that checks the database fails during an outage; if liveness ran it too,
  // every pod would be restarted (and the outage made worse) instead of only leaving the Service.
  test.each([
    ['uvicorn', PythonServer.uvicorn({ app: 'shop.main:app' })],
    ['gunicorn', PythonServer.gunicorn({ app: 'shop.wsgi:application' })],
    ['gunicorn with uvicorn workers', PythonServer.gunicorn({ app: 'shop.main:app', workerClass: 'uvicorn_worker.UvicornWorker' })],
    ['a command', PythonServer.command(['python', '-m', 'shop'])],
  ])('%s: TCP on the port by default, never the readiness path', (_what, server) => {
    const c = container({ server, healthCheck: { path: '/health' } });
    expect(c.livenessProbe.httpGet).toBeUndefined();
    expect(c.livenessProbe).toMatchObject({ tcpSocket: { port: 8080 }, periodSeconds: 20, failureThreshold: 3, timeoutSeconds: 5 });
  });

  test('HTTP only on a path declared for liveness (one that checks no dependency)', () => {
    const c = container({ server: PythonServer.uvicorn({ app: 'shop.main:app' }), healthCheck: { path: '/health', livenessPath: '/livez' } });
    expect(c.livenessProbe.httpGet.path).toBe('/livez');
  });
});

describe('HealthProbe', () => {
  test('each probe kind can be replaced: HTTP, TCP, exec or none, with its own timing', () => {
    const c = container({
      healthCheck: {
        startup: HealthProbe.tcp({ period: Duration.seconds(5), failureThreshold: 60 }),
        readiness: HealthProbe.http({ path: '/ready', host: 'api.internal', timeout: Duration.seconds(3), successThreshold: 2 }),
        liveness: HealthProbe.exec(['python', '-c', 'import sys; sys.exit(0)'], { period: Duration.seconds(60) }),
      },
    });
    expect(c.startupProbe).toMatchObject({ tcpSocket: { port: 8080 }, periodSeconds: 5, failureThreshold: 60 });
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/ready', httpHeaders: [{ name: 'Host', value: 'api.internal' }] }, timeoutSeconds: 3, successThreshold: 2 });
    expect(c.livenessProbe).toMatchObject({ exec: { command: ['python', '-c', 'import sys; sys.exit(0)'] }, periodSeconds: 60 });
    const none = container({ healthCheck: { liveness: HealthProbe.none(), startup: HealthProbe.none() } });
    expect(none.livenessProbe).toBeUndefined();
    expect(none.startupProbe).toBeUndefined();
    expect(none.readinessProbe).toBeDefined();
  });

  test.each([
    [{ healthCheck: { readiness: { kind: 'http' } as any } }, 'healthCheck.readiness {"kind":"http"} must come from HealthProbe.http(), .tcp(), .exec() or .none()'],
    [{ healthCheck: { liveness: HealthProbe.exec([]) } }, 'healthCheck.liveness.command [] must be a non-empty command'],
    [{ healthCheck: { liveness: HealthProbe.tcp({ successThreshold: 2 }) } }, 'healthCheck.liveness.successThreshold 2 must be a whole number from 1 to 1'],
    [{ healthCheck: { readiness: HealthProbe.http({ path: 'ready' }) } }, 'healthCheck.readiness.path "ready" must be an HTTP path'],
    [{ healthCheck: { readiness: HealthProbe.http({ path: '/r', timeout: Duration.seconds(30) }) } }, 'healthCheck.readiness.timeout (30 seconds) must not exceed the period (10s)'],
    [{ healthCheck: { host: 'https://shop.example.com' } }, 'healthCheck.host "https://shop.example.com" must be a lower-case host name'],
    [{ healthCheck: { livenessPath: '/livez', liveness: HealthProbe.tcp() } }, 'healthCheck.livenessPath "/livez" cannot be combined with healthCheck.liveness'],
  ])('rejects %j', (props, message) => {
    expect(() => manifests(props as Partial<PythonServiceProps>)).toThrow(`PythonService 'api': ${message}`);
  });
});
