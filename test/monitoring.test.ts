import { Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Exposure, PythonServer, PythonService, PythonServiceProps, ServiceMonitoring } from '../src';
import { allOf, appContainer, crossObjectProblems, envOf, expectStrictlyValid, Manifest, only, podTemplateOf, synth } from './support/manifests';

function build(props: Partial<PythonServiceProps> = {}): Manifest[] {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1.4.2', monitoring: {}, ...props });
  return synth(chart);
}

/** Checks that each ServiceMonitor selects exactly one Service and that the endpoint port exists on it. */
function serviceMonitorProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  for (const sm of allOf(manifests, 'ServiceMonitor')) {
    const namespaces: string[] = sm.spec.namespaceSelector?.matchNames ?? [sm.metadata.namespace];
    const services = allOf(manifests, 'Service').filter((svc) => namespaces.includes(svc.metadata.namespace)
      && Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels?.[k] === v));
    if (services.length !== 1) { problems.push(`ServiceMonitor/${sm.metadata.name} selects ${services.length} Services`); continue; }
    for (const ep of sm.spec.endpoints) {
      if (!services[0].spec.ports.some((p: any) => p.name === ep.port)) problems.push(`ServiceMonitor/${sm.metadata.name} port ${ep.port} is not on Service/${services[0].metadata.name}`);
    }
  }
  return problems;
}

describe('monitoring through PythonService', () => {
  const manifests = build({ monitoring: { labels: { release: 'kube-prometheus-stack' } } });
  const sm = only(manifests, 'ServiceMonitor');

  test('a monitoring.coreos.com/v1 ServiceMonitor: port http, /metrics, every 30s (the article\'s)', () => {
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata).toMatchObject({ name: 'api', namespace: 'shop' });
    expect(sm.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s', scrapeTimeout: '10s', scheme: 'http' }]);
  });

  test('selects exactly this service\'s Service by stable labels, in its namespace', () => {
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: ['shop'] });
    expect(sm.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'api', 'app.kubernetes.io/instance': 'api', 'app.kubernetes.io/component': 'server' });
    expect(serviceMonitorProblems(manifests)).toEqual([]);
  });

  test('carries the Prometheus selection labels and the recommended labels', () => {
    expect(sm.metadata.labels).toMatchObject({ 'release': 'kube-prometheus-stack', 'app.kubernetes.io/name': 'api' });
  });

  test('admits the scraper from the monitoring namespace to the metrics port', () => {
    expect(only(manifests, 'NetworkPolicy', 'api-netpol').spec.ingress).toContainEqual({
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
      ports: [{ port: 8080, protocol: 'TCP' }],
    });
  });

  test('validates strictly against the CRD and the Kubernetes schemas', () => {
    expectStrictlyValid(manifests);
    expect(crossObjectProblems(manifests)).toEqual([]);
  });

  test('no alerts unless asked', () => {
    expect(allOf(manifests, 'PrometheusRule')).toEqual([]);
  });
});

describe('a separate metrics port', () => {
  const manifests = build({ monitoring: { port: 9100, path: '/prom', interval: Duration.seconds(15), scrapeTimeout: Duration.seconds(5), scraperNamespace: 'observability' } });

  test('gets a container and Service port named metrics, scraped by the ServiceMonitor', () => {
    expect(appContainer(only(manifests, 'Deployment')).ports).toContainEqual({ containerPort: 9100, name: 'metrics', protocol: 'TCP' });
    expect(only(manifests, 'Service').spec.ports).toContainEqual({ name: 'metrics', port: 9100, targetPort: 9100, protocol: 'TCP' });
    expect(only(manifests, 'ServiceMonitor').spec.endpoints).toEqual([{ port: 'metrics', path: '/prom', interval: '15s', scrapeTimeout: '5s', scheme: 'http' }]);
    expect(serviceMonitorProblems(manifests)).toEqual([]);
    expect(crossObjectProblems(manifests)).toEqual([]);
  });

  test('the scraper is admitted to 9100 from its namespace', () => {
    expect(only(manifests, 'NetworkPolicy', 'api-netpol').spec.ingress).toContainEqual({
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } }],
      ports: [{ port: 9100, protocol: 'TCP' }],
    });
  });
});

describe('prometheus_client multiprocess mode', () => {
  test('multi-worker gunicorn gets PROMETHEUS_MULTIPROC_DIR on a memory emptyDir', () => {
    const manifests = build({ server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }), resources: { memory: Size.mebibytes(512) } });
    const deployment = only(manifests, 'Deployment');
    const container = appContainer(deployment);
    expect(envOf(container).PROMETHEUS_MULTIPROC_DIR).toBe('/run/prometheus');
    expect(container.volumeMounts).toContainEqual({ name: 'prometheus-multiproc', mountPath: '/run/prometheus' });
    expect(podTemplateOf(deployment)!.spec.volumes).toContainEqual({ name: 'prometheus-multiproc', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } });
    expectStrictlyValid(manifests);
  });

  test('single-process servers do not get it (gunicorn always does: its hooks serve the metrics, one worker or many)', () => {
    expect(envOf(appContainer(only(build({ server: PythonServer.gunicorn({ app: 'a:b', workers: 1 }) }), 'Deployment'))).PROMETHEUS_MULTIPROC_DIR).toBe('/run/prometheus');
    for (const server of [PythonServer.uvicorn({ app: 'a:b' }), undefined]) {
      const container = appContainer(only(build({ server }), 'Deployment'));
      expect(envOf(container).PROMETHEUS_MULTIPROC_DIR).toBeUndefined();
    }
  });

  test('nor does the migration Job, which runs one process and has no such volume', () => {
    const manifests = build({ server: PythonServer.gunicorn({ app: 'a:b' }), migrations: { command: ['migrate'] } });
    expect(envOf(appContainer(only(manifests, 'Job'))).PROMETHEUS_MULTIPROC_DIR).toBeUndefined();
  });
});

describe('alerts', () => {
  const manifests = build({ autoscaling: { minReplicas: 2, maxReplicas: 4 }, monitoring: { alerts: true } });
  const rule = only(manifests, 'PrometheusRule');
  const rules: any[] = rule.spec.groups[0].rules;
  const byName = (name: string) => rules.find((r) => r.alert === name);

  test('a PrometheusRule <name>-alerts scoped to this service', () => {
    expect(rule.metadata).toMatchObject({ name: 'api-alerts', namespace: 'shop' });
    expect(rules.map((r) => r.alert)).toEqual(['ApiTargetDown', 'ApiCrashLooping', 'ApiHighErrorRatio', 'ApiHighLatency', 'ApiAtMaxReplicas']);
    for (const r of rules) expect(r.expr).toContain('namespace="shop"');
  });

  test('target down covers missing targets too', () => {
    expect(byName('ApiTargetDown').expr).toBe('count by (namespace, service) (up{namespace="shop",service="api"} == 0) > 0 or absent(up{namespace="shop",service="api"})');
  });

  test('crash looping matches only this Deployment\'s pods', () => {
    expect(byName('ApiCrashLooping').expr).toContain('pod=~"api-[a-z0-9]+-[a-z0-9]+"');
  });

  test('5xx ratio and latency use the default metric names', () => {
    expect(byName('ApiHighErrorRatio').expr).toBe('sum by (namespace, service) (rate(http_requests_total{namespace="shop",service="api",status=~"5.."}[5m])) / sum by (namespace, service) (rate(http_requests_total{namespace="shop",service="api"}[5m])) > 0.05');
    expect(byName('ApiHighLatency').expr).toBe('histogram_quantile(0.95, sum by (namespace, service, le) (rate(http_request_duration_seconds_bucket{namespace="shop",service="api"}[5m]))) > 0.5');
  });

  test('HPA at max replicas names the autoscaler', () => {
    expect(byName('ApiAtMaxReplicas').expr).toContain('horizontalpodautoscaler="api-hpa"');
  });

  test('metric names and thresholds are configurable (django-prometheus)', () => {
    const custom = only(build({
      replicas: 2,
      monitoring: { alerts: true, alertOptions: { requestsMetric: 'django_http_responses_total_by_status_total', statusLabel: 'status', latencyHistogram: 'django_http_requests_latency_seconds_by_view_method', errorRatio: 0.01, latencyP95: Duration.seconds(1), severity: 'critical' } },
    }), 'PrometheusRule');
    const r: any[] = custom.spec.groups[0].rules;
    expect(r.map((x) => x.alert)).not.toContain('ApiAtMaxReplicas');
    expect(r[2].expr).toContain('django_http_responses_total_by_status_total{namespace="shop",service="api",status=~"5.."}');
    expect(r[2].expr).toMatch(/> 0.01$/);
    expect(r[3].expr).toContain('django_http_requests_latency_seconds_by_view_method_bucket');
    expect(r[3].expr).toMatch(/> 1$/);
    expect(r.every((x) => x.labels.severity === 'critical')).toBe(true);
  });

  test('each alert waits its own time before firing: 5 minutes for targets and crash loops, 10 for errors and latency, 15 at the maximum', () => {
    expect(Object.fromEntries(rules.map((r: any) => [r.alert, r.for]))).toEqual({
      ApiTargetDown: '5m', ApiCrashLooping: '5m', ApiHighErrorRatio: '10m', ApiHighLatency: '10m', ApiAtMaxReplicas: '15m',
    });
  });

  test('one pending period for every alert shortens or lengthens them all', () => {
    const short = only(build({ replicas: undefined, autoscaling: { minReplicas: 2, maxReplicas: 4 }, monitoring: { alerts: true, alertOptions: { pendingPeriod: Duration.seconds(30) } } }), 'PrometheusRule');
    expect(short.spec.groups[0].rules.map((r: any) => r.for)).toEqual(['30s', '30s', '30s', '30s', '30s']);
    expect(short.spec.groups[0].rules[4].annotations.description).toContain('at its maximum for 30s;');
    const long = only(build({ monitoring: { alerts: true, alertOptions: { pendingPeriod: Duration.hours(1) } } }), 'PrometheusRule');
    expect(long.spec.groups[0].rules.map((r: any) => r.for)).toEqual(['1h', '1h', '1h', '1h']);
  });

  test('validates strictly against the PrometheusRule CRD', () => {
    expectStrictlyValid(manifests);
  });

  test('the monitoring output matches its snapshot', () => {
    expect(allOf(manifests, 'ServiceMonitor').concat(allOf(manifests, 'PrometheusRule'))).toMatchSnapshot();
  });
});

describe('ServiceMonitoring alone', () => {
  test('works on any kplus Service', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'web' });
    const deployment = new kplus.Deployment(chart, 'd', { containers: [{ image: 'nginx:1', portNumber: 80, securityContext: { ensureNonRoot: false } }] });
    const service = deployment.exposeViaService({ name: 'web', ports: [{ port: 80, name: 'web' }] });
    service.metadata.addLabel('app', 'web');
    new ServiceMonitoring(chart, 'm', { service, portName: 'web', alerts: true });
    const sm = only(synth(chart), 'ServiceMonitor');
    expect(sm.metadata.name).toBe('web');
    expect(sm.spec.selector.matchLabels).toEqual({ app: 'web' });
    expect(sm.spec.endpoints[0].port).toBe('web');
    expectStrictlyValid(allOf(synth(chart), 'ServiceMonitor').concat(allOf(synth(chart), 'PrometheusRule')));
  });

  test('works with a selector and a port name', () => {
    const chart = new Chart(Testing.app(), 'c');
    new ServiceMonitoring(chart, 'm', { serviceSelector: { app: 'legacy' }, portName: 'metrics', name: 'legacy', namespace: 'old' });
    const sm = only(synth(chart), 'ServiceMonitor');
    expect(sm.spec).toMatchObject({ selector: { matchLabels: { app: 'legacy' } }, namespaceSelector: { matchNames: ['old'] } });
  });

  const bad: Array<[string, () => void, RegExp]> = [
    ['a port name the Service does not have', () => {
      const chart = Testing.chart();
      const service = new kplus.Service(chart, 's', { metadata: { labels: { a: 'b' } }, ports: [{ port: 80, name: 'http' }] });
      new ServiceMonitoring(chart, 'm', { service, portName: 'metrics' });
    }, /ServiceMonitoring 'm': portName "metrics" is not a port of Service ".*" \(its ports: http\)/],
    ['a Service without labels', () => {
      const chart = Testing.chart();
      const service = new kplus.Service(chart, 's', { ports: [{ port: 80, name: 'http' }] });
      new ServiceMonitoring(chart, 'm', { service });
    }, /has no labels to select the Service by/],
    ['neither service nor selector', () => new ServiceMonitoring(Testing.chart(), 'm', {}), /service \(undefined\) or serviceSelector must be given/],
  ];
  test.each(bad)('rejects %s', (_title, fn, message) => {
    expect(fn).toThrow(message);
  });
});

describe('bad monitoring props', () => {
  const cases: Array<[string, Partial<PythonServiceProps>, RegExp]> = [
    ['a zero interval', { monitoring: { interval: Duration.seconds(0) } }, /PythonService 'api': monitoring.interval \(0 seconds\) must be longer than zero/],
    ['a zero scrape timeout', { monitoring: { scrapeTimeout: Duration.seconds(0) } }, /monitoring.scrapeTimeout \(0 seconds\) must be longer than zero/],
    ['scrapeTimeout > interval', { monitoring: { interval: Duration.seconds(10), scrapeTimeout: Duration.seconds(20) } }, /monitoring.scrapeTimeout \(20 seconds\) must not exceed monitoring.interval \(10s\)/],
    ['a path without a slash', { monitoring: { path: 'metrics' } }, /monitoring.path "metrics" must be an HTTP path that starts with "\/"/],
    ['a port out of range', { monitoring: { port: 70000 } }, /monitoring.port 70000 must be a whole number from 1 to 65535/],
    ['a bad metric name', { monitoring: { alerts: true, alertOptions: { requestsMetric: 'http-requests' } } }, /monitoring.alertOptions.requestsMetric "http-requests" must be a Prometheus metric name/],
    ['a zero pending period', { monitoring: { alerts: true, alertOptions: { pendingPeriod: Duration.seconds(0) } } }, /monitoring.alertOptions.pendingPeriod \(0 seconds\) must be longer than zero/],
    ['an error ratio of 5', { monitoring: { alerts: true, alertOptions: { errorRatio: 5 } } }, /monitoring.alertOptions.errorRatio 5 must be a fraction between 0 and 1/],
    ['a bad scraper namespace', { monitoring: { scraperNamespace: 'Monitoring' } }, /monitoring.scraperNamespace "Monitoring" must be a DNS-1123 label/],
    ['a multiprocess dir on /tmp', { server: PythonServer.gunicorn({ app: 'a:b' }), monitoring: { multiprocessDir: '/tmp' } }, /monitoring.multiprocessDir "\/tmp" is already used by another volume/],
  ];
  test.each(cases)('%s', (_title, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

describe('metrics are not public when the app port is', () => {
  const gunicorn = PythonServer.gunicorn({ app: 'shop.wsgi:application' });

  test.each([
    ['an Ingress', Exposure.ingress({ host: 'shop.example.com' })],
    ['a Gateway', Exposure.gateway({ gatewayName: 'public', gatewayNamespace: 'gateway-system', hostnames: ['shop.example.com'] })],
    ['a LoadBalancer', Exposure.loadBalancer()],
  ])('gunicorn behind %s serves them from the arbiter on port 9090, open only to the scraper', (_what, expose) => {
    const manifests = build({ server: gunicorn, expose });
    expect(appContainer(only(manifests, 'Deployment')).ports).toEqual([
      { containerPort: 8080, name: 'http', protocol: 'TCP' },
      { containerPort: 9090, name: 'metrics', protocol: 'TCP' },
    ]);
    expect(only(manifests, 'ServiceMonitor').spec.endpoints[0].port).toBe('metrics');
    expect(only(manifests, 'ConfigMap').data['gunicorn.conf.py']).toContain('METRICS_PORT = 9090');
    const netpol = only(manifests, 'NetworkPolicy', 'api-netpol');
    const metricsRule = netpol.spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === 9090));
    expect(metricsRule.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    for (const ingress of allOf(manifests, 'Ingress')) expect(JSON.stringify(ingress.spec)).not.toContain('metrics');
    expect(serviceMonitorProblems(manifests)).toEqual([]);
    expectStrictlyValid(manifests);
  });

  test('a taken port moves to the next one', () => {
    const manifests = build({ server: gunicorn, port: 9090, expose: Exposure.ingress({ host: 'shop.example.com' }) });
    expect(appContainer(only(manifests, 'Deployment')).ports.map((p: any) => p.containerPort)).toEqual([9090, 9091]);
  });

  test('inside the cluster, or with monitoring.port set, the port is the one asked for', () => {
    expect(only(build({ server: gunicorn }), 'ServiceMonitor').spec.endpoints[0].port).toBe('http');
    const manifests = build({ server: gunicorn, expose: Exposure.ingress({ host: 'shop.example.com' }), monitoring: { port: 9200 } });
    expect(appContainer(only(manifests, 'Deployment')).ports.map((p: any) => p.containerPort)).toEqual([8080, 9200]);
  });
});
