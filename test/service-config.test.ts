import { Chart, Duration, Size, Testing, Yaml } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { ExternalSecretStoreKind, OtlpProtocol, PythonCronJob, PythonServer, PythonService, PythonServiceProps, WorkerProcess } from '../src';
import { appContainer, envOf, expectStrictlyValid, Manifest, only, podTemplateOf, synth } from './support/manifests';

function build(props: Partial<PythonServiceProps>, extra?: (service: PythonService) => void): Manifest[] {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  const service = new PythonService(chart, 'shop', { image: 'ghcr.io/acme/shop:1.4.2', ...props });
  extra?.(service);
  return synth(chart);
}

describe('secrets from a secret manager', () => {
  const externalSecret = {
    storeName: 'vault',
    storeKind: ExternalSecretStoreKind.CLUSTER_SECRET_STORE,
    env: { DATABASE_URL: { key: 'shop/prod/db', property: 'url' }, SECRET_KEY: { key: 'shop/prod/django', version: '3' } },
    refreshInterval: Duration.minutes(15),
  };
  const manifests = build({ externalSecret, migrations: { command: ['python', 'manage.py', 'migrate'] } }, (s) => {
    s.addWorker('worker', { process: WorkerProcess.rq({ queues: ['default'] }) });
  });

  test('an external-secrets.io/v1 ExternalSecret, strictly valid against the CRD', () => {
    const es = only(manifests, 'ExternalSecret');
    expect(es.apiVersion).toBe('external-secrets.io/v1');
    expect(es.spec).toEqual({
      secretStoreRef: { name: 'vault', kind: 'ClusterSecretStore' },
      refreshInterval: '0h15m0s', // Go duration, as ESO parses it
      target: { name: 'shop-external', creationPolicy: 'Owner' },
      data: [
        { secretKey: 'DATABASE_URL', remoteRef: { key: 'shop/prod/db', property: 'url' } },
        { secretKey: 'SECRET_KEY', remoteRef: { key: 'shop/prod/django', version: '3' } },
      ],
    });
    expectStrictlyValid(manifests);
  });

  test('every container of the service reads the target Secret by key: web, migration, workers', () => {
    for (const [kind, name] of [['Deployment', 'shop'], ['Deployment', 'shop-worker']]) {
      expect(envOf(appContainer(only(manifests, kind, name))).DATABASE_URL).toEqual({ secretKeyRef: { name: 'shop-external', key: 'DATABASE_URL' } });
    }
    expect(envOf(appContainer(only(manifests, 'Job'))).SECRET_KEY).toEqual({ secretKeyRef: { name: 'shop-external', key: 'SECRET_KEY' } });
  });

  test('Argo CD hook mode: the ExternalSecret is a PreSync hook of an earlier wave, orphaning its Secret when re-created', () => {
    const argo = build({ externalSecret, migrations: { command: ['migrate'], argoCdPreSyncHook: true } });
    const es = only(argo, 'ExternalSecret');
    expect(es.metadata.annotations).toEqual({ 'argocd.argoproj.io/hook': 'PreSync', 'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation', 'argocd.argoproj.io/sync-wave': '-1' });
    expect(es.spec.target.creationPolicy).toBe('Orphan');
  });

  test('workers and scheduled jobs can have their own, on top of the service\'s; standalone ones too', () => {
    const own = build({ externalSecret }, (svc) => {
      svc.addWorker('payments', { process: WorkerProcess.rq({ queues: ['payments'] }), externalSecret: { storeName: 'vault', env: { STRIPE_KEY: { key: 'shop/prod/stripe' } } } });
    });
    const env = envOf(appContainer(only(own, 'Deployment', 'shop-payments')));
    expect(env.STRIPE_KEY).toEqual({ secretKeyRef: { name: 'shop-payments-external', key: 'STRIPE_KEY' } });
    expect(env.DATABASE_URL).toEqual({ secretKeyRef: { name: 'shop-external', key: 'DATABASE_URL' } });
    expect(only(own, 'ExternalSecret', 'shop-payments-external').metadata.labels['app.kubernetes.io/component']).toBe('payments');
    expectStrictlyValid(own);

    const chart = new Chart(Testing.app(), 'reports', { namespace: 'reports' });
    new PythonCronJob(chart, 'report', { image: 'ghcr.io/acme/reports:1', schedule: '@daily', command: ['python', '-m', 'report'], externalSecret: { storeName: 'vault', env: { SMTP_PASSWORD: { key: 'mail' } } } });
    const alone = synth(chart);
    expect(envOf(appContainer(only(alone, 'CronJob'))).SMTP_PASSWORD).toEqual({ secretKeyRef: { name: 'report-external', key: 'SMTP_PASSWORD' } });
    expectStrictlyValid(alone);
  });

  test.each([
    [{ storeName: 'Vault', env: { A: { key: 'a' } } }, 'externalSecret.storeName "Vault" must be a DNS-1123 subdomain'],
    [{ storeName: 'vault', env: {} }, 'externalSecret.env {} must map at least one variable name'],
    [{ storeName: 'vault', env: { 'A-B': { key: 'a' } } }, 'externalSecret.env name "A-B" must be a valid variable name'],
    [{ storeName: 'vault', env: { A: { key: '' } } }, 'externalSecret.env.A.key "" must be the secret\'s key'],
    [{ storeName: 'vault', env: { DJANGO_SETTINGS_MODULE: { key: 'a' } } }, 'externalSecret.env name "DJANGO_SETTINGS_MODULE" is also set in env or envValues'],
  ])('rejects %j', (settings, message) => {
    expect(() => build({ env: { DJANGO_SETTINGS_MODULE: 'shop.settings' }, externalSecret: settings as any })).toThrow(`PythonService 'shop': ${message}`);
  });
});

describe('configuration that rolls the pods', () => {
  const files = (debug: string) => ({ config: { files: { 'settings.toml': `debug = ${debug}\n`, 'logging.json': '{"version": 1}' } } });

  test('an immutable ConfigMap named after its content, mounted read-only at /etc/<name>', () => {
    const manifests = build(files('false'));
    const cm = only(manifests, 'ConfigMap');
    expect(cm.metadata.name).toMatch(/^shop-config-[0-9a-f]{8}$/);
    expect(cm.immutable).toBe(true);
    const deployment = only(manifests, 'Deployment');
    expect(appContainer(deployment).volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/shop', readOnly: true });
    expect(podTemplateOf(deployment)!.spec.volumes).toContainEqual({ name: 'config', configMap: { name: cm.metadata.name } });
    expectStrictlyValid(manifests);
  });

  test('a change of content changes the pod template (the pods roll); the same content gives the same YAML', () => {
    const template = (ms: Manifest[]) => JSON.stringify(podTemplateOf(only(ms, 'Deployment')));
    expect(template(build(files('true')))).not.toBe(template(build(files('false'))));
    expect(Yaml.stringify(...build(files('false')))).toBe(Yaml.stringify(...build(files('false'))));
  });

  test('a security policy admits the config volume', () => {
    expectStrictlyValid(build({ ...files('false'), security: { allowedImages: ['ghcr.io/acme/'] } }));
  });

  test.each([
    [{ files: { 'conf/app.toml': 'x' } }, 'config.files key "conf/app.toml" must be a ConfigMap key'],
    [{ files: {} }, 'config.files {} must hold at least one file'],
    [{ files: { 'big.txt': 'x'.repeat(1024 * 1024) } }, 'config.files "1048583 bytes" exceed what a ConfigMap holds'],
    [{ files: { a: 'b' }, mountPath: 'etc/shop' }, 'config.mountPath "etc/shop" must be an HTTP path'],
  ])('rejects %#', (config, message) => {
    expect(() => build({ config: config as any })).toThrow(`PythonService 'shop': ${message}`);
  });
});

describe('OpenTelemetry', () => {
  const tracing = { otlpEndpoint: 'http://otel-collector.observability:4317', collector: { namespaceName: 'observability', podLabels: { 'app.kubernetes.io/name': 'opentelemetry-collector' } } };

  test('the environment a Python SDK reads, with the pod and namespace from the downward API, in an order that resolves', () => {
    const manifests = build({ tracing, version: '1.4.2', partOf: 'webshop' });
    const env = appContainer(only(manifests, 'Deployment')).env as Array<{ name: string; value?: string }>;
    const byName = Object.fromEntries(env.map((e) => [e.name, e]));
    expect(byName.OTEL_SERVICE_NAME.value).toBe('shop');
    expect(byName.OTEL_EXPORTER_OTLP_ENDPOINT.value).toBe('http://otel-collector.observability:4317');
    expect(byName.OTEL_EXPORTER_OTLP_PROTOCOL.value).toBe('grpc');
    expect(byName.OTEL_RESOURCE_ATTRIBUTES.value).toBe('service.namespace=webshop,service.version=1.4.2,k8s.namespace.name=$(K8S_NAMESPACE_NAME),k8s.pod.name=$(K8S_POD_NAME)');
    const names = env.map((e) => e.name);
    expect(names.indexOf('K8S_POD_NAME')).toBeLessThan(names.indexOf('OTEL_RESOURCE_ATTRIBUTES'));
    expect(names.indexOf('K8S_NAMESPACE_NAME')).toBeLessThan(names.indexOf('OTEL_RESOURCE_ATTRIBUTES'));
    expectStrictlyValid(manifests);
  });

  test('workers report under their own service name', () => {
    const manifests = build({ tracing }, (s) => s.addWorker('worker', { process: WorkerProcess.rq({ queues: ['q'] }) }));
    expect(envOf(appContainer(only(manifests, 'Deployment', 'shop-worker'))).OTEL_SERVICE_NAME).toBe('shop-worker');
  });

  test('restricted egress is opened to the collector on the endpoint\'s port', () => {
    const manifests = build({ tracing: { ...tracing, protocol: OtlpProtocol.HTTP_PROTOBUF, otlpEndpoint: 'http://otel-collector.observability:4318' }, security: { allowedImages: ['ghcr.io/acme/'] } });
    expect(only(manifests, 'NetworkPolicy', 'shop-netpol').spec.egress).toContainEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'opentelemetry-collector' } } }],
      ports: [{ port: 4318, protocol: 'TCP' }],
    });
  });

  test('autoInstrument wraps uvicorn in opentelemetry-instrument; gunicorn starts it after the fork from the rendered config', () => {
    const uvicorn = appContainer(only(build({ tracing: { ...tracing, autoInstrument: true }, server: PythonServer.uvicorn({ app: 'shop.main:app' }) }), 'Deployment'));
    expect(uvicorn.command.slice(0, 2)).toEqual(['opentelemetry-instrument', 'uvicorn']);
    const manifests = build({ tracing: { ...tracing, autoInstrument: true }, server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }), resources: { memory: Size.mebibytes(512) } });
    const gunicorn = appContainer(only(manifests, 'Deployment'));
    expect(gunicorn.command[0]).toBe('gunicorn');
    expect(gunicorn.command.slice(-2)).toEqual(['--config', '/etc/gunicorn/gunicorn.conf.py']);
    expect(manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('shop-gunicorn-'))!.data['gunicorn.conf.py']).toContain('OTEL_POST_FORK = True');
  });

  test.each([
    [{ tracing: { otlpEndpoint: 'otel-collector:4317' } }, 'tracing.otlpEndpoint "otel-collector:4317" must be an http:// or https:// URL'],
    [{ tracing: { otlpEndpoint: 'http://otel:4317' }, security: { allowedImages: ['ghcr.io/acme/'] } }, 'tracing.collector (undefined) is needed: security restricts egress'],
    [{ tracing: { otlpEndpoint: 'http://otel:4317', autoInstrument: true } }, 'tracing.autoInstrument true needs a server command to wrap'],
  ])('rejects %#', (props, message) => {
    expect(() => build(props as Partial<PythonServiceProps>)).toThrow(`PythonService 'shop': ${message}`);
  });

  void kplus;
});
