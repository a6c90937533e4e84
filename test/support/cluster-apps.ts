import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { parseAllDocuments } from 'yaml';
import type { Manifest } from './manifests';
import {
  AdmissionEngine, BackingService, ExternalSecretStoreKind, Exposure, GatewayPathType, HealthProbe, KubernetesVersion, PythonCronJob, PythonServer, PythonService,
  PythonServiceProps, PythonWorker, QueueScaling, ResizeRestartPolicy, TrafficDistribution, WorkerProcess,
} from '../../src';

const root = path.resolve(__dirname, '..', '..');

/** The synthesized files of one app, in the order a pipeline applies them (cdk8s numbers dependent charts). */
export type Release = Manifest[][];

/** An app the real-control-plane tier applies: its release, and the next one a pipeline would apply over it. */
export interface ClusterApp {
  readonly name: string;
  /** The oldest Kubernetes the app states (`KubernetesVersion.setOldest`): the tier applies it on that minor and newer. */
  readonly oldest: KubernetesVersion;
  readonly release: () => Release;
  /** A config-only change and a new image, applied over `release`. */
  readonly nextReleases: Array<() => Release>;
}

/** Runs the real `cdk8s synth` on the bundled example app, as the README's quick start does. */
export function synthExampleWithCli(): { files: { [name: string]: string }; manifests: Manifest[] } {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'example-synth-'));
  try {
    execFileSync(path.join(root, 'node_modules', '.bin', 'cdk8s'), ['synth', '--no-check-upgrade', '--output', out], {
      cwd: path.join(root, 'examples'),
      stdio: 'pipe',
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    const files = Object.fromEntries(fs.readdirSync(out).sort().map((f) => [f, fs.readFileSync(path.join(out, f), 'utf8')]));
    return { files, manifests: parseAllDocuments(files['shop.k8s.yaml']).map((d) => d.toJS()) };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** Each chart of an app as the CLI writes it: charts in dependency order, objects in file order. */
export function synthApp(app: App): Release {
  const charts = app.node.children.filter((c): c is Chart => c instanceof Chart);
  const ordered: Chart[] = [];
  const visit = (chart: Chart) => {
    if (ordered.includes(chart)) return;
    for (const dep of chart.node.dependencies) if (dep instanceof Chart) visit(dep);
    ordered.push(chart);
  };
  charts.forEach(visit);
  return ordered.map((chart) => Testing.synth(chart)).filter((objects) => objects.length > 0);
}

const REGISTRY = 'registry.example.com';

/** Web servers of every kind, several secured services in one namespace, every allowlist form, every exposure. */
function servers(variant: { image?: string; env?: string } = {}): Release {
  const app = Testing.app();
  const chart = new Chart(app, 'servers', { namespace: 'servers' });
  const digest = `${REGISTRY}/servers/uvicorn@sha256:${'c'.repeat(64)}`;
  // A new image where the allowlist admits one (the exact and digest pins keep theirs).
  const common = (name: string, image: string, allowed: string[]): PythonServiceProps => ({
    image: variant.image && !['sync', 'uvicorn'].includes(name) ? variant.image.replace('IMAGE', name) : image,
    env: { APP_MODE: variant.env ?? 'production' },
    replicas: 2,
    security: { allowedImages: allowed },
  });
  new PythonService(chart, 'sync', {
    ...common('sync', `${REGISTRY}/servers/sync:1.0`, [`${REGISTRY}/servers/sync:1.0`]), // exact
    server: PythonServer.gunicorn({ app: 'shop.wsgi:application', maxRequests: 1000 }),
    expose: Exposure.ingress({ hosts: ['sync.example.com', 'www.sync.example.com'], tlsSecretNames: { 'sync.example.com': 'sync-tls', 'www.sync.example.com': 'www-tls' }, proxyNamespace: 'ingress-nginx' }),
    monitoring: { alerts: true, labels: { release: 'kube-prometheus-stack' } },
  });
  new PythonService(chart, 'gthread', {
    ...common('gthread', `${REGISTRY}/servers/gthread:1.0`, [`${REGISTRY}/servers/gthread`]), // repository
    server: PythonServer.gunicorn({ app: 'shop.wsgi:application', workerClass: 'gthread', threads: 4 }),
    expose: Exposure.gateway({ gatewayName: 'public', gatewayNamespace: 'gateway-system', sectionName: 'https', hostnames: ['gthread.example.com'], pathType: GatewayPathType.PATH_PREFIX }),
    monitoring: { labels: { release: 'kube-prometheus-stack' } },
  });
  new PythonService(chart, 'asgi', {
    ...common('asgi', `${REGISTRY}/servers/asgi:1.0`, [`${REGISTRY}/servers/`]), // prefix
    server: PythonServer.gunicorn({ app: 'api.main:app', workerClass: 'uvicorn_worker.UvicornWorker' }),
    expose: Exposure.loadBalancer(),
    replicas: undefined,
    autoscaling: {
      minReplicas: 2,
      maxReplicas: 4,
      targetCpuUtilization: 70,
      scaleDownPodsPerMinute: 2,
      scaleUpPodsPerMinute: 6,
      podMetrics: [{ name: 'http_requests_per_second', averageValue: 20 }],
      externalMetrics: [{ name: 'queue_depth', value: 100, selector: { queue: 'orders' } }],
    },
  });
  new PythonService(chart, 'uvicorn', {
    ...common('uvicorn', digest, [digest]), // digest
    server: PythonServer.uvicorn({ app: 'api.main:app' }),
    expose: Exposure.nodePort(),
    healthCheck: { path: '/ready', liveness: HealthProbe.tcp() },
  });
  new PythonService(chart, 'command', {
    ...common('command', `${REGISTRY}/servers/command:1.0`, [`${REGISTRY}/servers/command`, `${REGISTRY}/servers/command:1.0`, 'docker.io/library/python:3.13-slim']), // a mix
    server: PythonServer.command(['python', '-m', 'http.server', '8080'], { workers: 1 }),
  });
  // A standalone worker from another registry, secured on its own: it joins the namespace's policy,
  // so the cluster admits its pods beside the services'.
  new PythonWorker(chart, 'indexer', {
    image: 'ghcr.io/other/indexer:3.1',
    process: WorkerProcess.rq({ queues: ['index'] }),
    env: { APP_MODE: variant.env ?? 'production' },
    security: { allowedImages: ['ghcr.io/other/'] },
  });
  new PythonService(chart, 'image-cmd', {
    ...common('image-cmd', `${REGISTRY}/servers/image-cmd:1.0`, [`${REGISTRY}/servers/image-cmd:`]), // the older ':' prefix form
    server: PythonServer.imageDefault(),
  });
  return synthApp(app);
}

/** The README's Django + Celery shop: workers with KEDA, beat, a cron job, migrations, persistence, config, secrets, tracing, backup, platform chart. */
function shop(variant: { image?: string; env?: string } = {}): Release {
  const app = Testing.app();
  const platform = new Chart(app, 'platform');
  const chart = new Chart(app, 'store', { namespace: 'store' });
  const image = variant.image ?? `${REGISTRY}/shop/app:1.4.2`;
  const broker = new kplus.Secret(chart, 'Broker', { metadata: { name: 'broker' }, stringData: { url: 'redis://redis-master.redis:6379/0' } });
  const web = new PythonService(chart, 'shop', {
    image,
    platformChart: platform,
    server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
    replicas: 1,
    resources: { cpu: kplus.Cpu.millis(500), memory: Size.mebibytes(512) },
    env: { DJANGO_SETTINGS_MODULE: 'shop.settings', APP_MODE: variant.env ?? 'production' },
    envValues: { CELERY_BROKER_URL: kplus.EnvValue.fromSecretValue({ secret: broker, key: 'url' }) },
    expose: Exposure.ingress({ host: 'shop.example.com', tlsSecretName: 'shop-tls' }),
    persistence: { size: Size.gibibytes(5) },
    config: { files: { 'settings.toml': `[shop]\nmode = "${variant.env ?? 'production'}"\n` } },
    externalSecret: { storeName: 'vault', storeKind: ExternalSecretStoreKind.CLUSTER_SECRET_STORE, env: { SECRET_KEY: { key: 'shop/django', property: 'secret_key' } }, refreshInterval: Duration.minutes(15) },
    tracing: { otlpEndpoint: 'http://otel-collector.observability:4317', collector: { namespaceName: 'observability' } },
    monitoring: { alerts: true, labels: { release: 'kube-prometheus-stack' } },
    backup: { schedule: '0 0 * * *', retention: Duration.days(30) },
    security: {
      allowedImages: [`${REGISTRY}/shop/`],
      podSecurityAdmission: true,
      egressTo: [{ peers: [{ namespaceName: 'redis' }], ports: [{ port: 6379 }] }],
    },
    migrations: { command: ['python', 'manage.py', 'migrate', '--noinput'] },
  });
  web.addWorker('worker', {
    process: WorkerProcess.celery({ app: 'shop', queues: ['default', 'emails'] }),
    queueScaling: QueueScaling.redisList({ address: 'redis-master.redis:6379', listName: 'default', targetLength: 20, minReplicas: 1, maxReplicas: 10, password: { secretName: 'redis', key: 'password' } }),
    shutdown: { taskTimeLimit: Duration.minutes(5) },
    metricsPort: 9808,
  });
  web.addWorker('beat', { process: WorkerProcess.celeryBeat({ app: 'shop' }) });
  web.addSidecar('db-proxy', { image: `${REGISTRY}/shop/cloud-sql-proxy:2.14.1`, args: ['--port=5432', 'acme:europe-west1:shop'], port: 5432 });
  web.addWorker('rq', { process: WorkerProcess.rq({ queues: ['high', 'default'] }) });
  web.addCronJob('clear-sessions', { schedule: '0 3 * * *', timeZone: 'Europe/Berlin', command: ['python', 'manage.py', 'clearsessions'] });
  return synthApp(app);
}

/** Argo CD hooks for migrations and secrets; Kyverno as the admission engine; standalone workers and cron jobs. */
function argo(variant: { image?: string; env?: string } = {}): Release {
  const app = Testing.app();
  const chart = new Chart(app, 'argo', { namespace: 'argo-app' });
  const image = variant.image ?? `${REGISTRY}/argo/app:2.0.0`;
  // A mix of forms: a prefix and an exact pin.
  const security = { allowedImages: [`${REGISTRY}/argo/`, `${REGISTRY}/argo/app:2.0.0`], admissionEngine: AdmissionEngine.KYVERNO };
  new PythonService(chart, 'api', {
    image,
    server: PythonServer.uvicorn({ app: 'api.main:app' }),
    env: { APP_MODE: variant.env ?? 'production' },
    externalSecret: { storeName: 'vault', env: { DATABASE_URL: { key: 'argo/db', property: 'url' } } },
    migrations: { command: ['alembic', 'upgrade', 'head'], argoCdPreSyncHook: true },
    security,
  });
  new PythonWorker(chart, 'indexer', { image, security, process: WorkerProcess.dramatiq({ module: 'api.tasks' }) });
  new PythonCronJob(chart, 'report', { image, security, schedule: '30 6 * * 1', command: ['python', '-m', 'api.reports'] });
  return synthApp(app);
}

/** Connections: two services in two namespaces, and Django on CloudNativePG with Celery on Redis scaled by KEDA. */
function connections(variant: { env?: string } = {}): Release {
  const app = Testing.app();
  const security = { allowedImages: [`${REGISTRY}/connections/`] };
  const env = { APP_MODE: variant.env ?? 'production' };
  const front = new Chart(app, 'front', { namespace: 'front' });
  const back = new Chart(app, 'back', { namespace: 'back' });
  const storefront = new PythonService(front, 'storefront', { image: `${REGISTRY}/connections/storefront:2.1.0`, env, replicas: 1, security });
  const pricing = new PythonService(back, 'pricing', {
    image: `${REGISTRY}/connections/pricing:1.3.0`, env, replicas: 1, server: PythonServer.uvicorn({ app: 'pricing.main:app' }), security,
  });
  storefront.connectTo(pricing, { envName: 'PRICING_URL' });
  const broker = BackingService.redis({
    host: 'redis-master.redis.svc',
    namespace: 'redis',
    podLabels: { 'app.kubernetes.io/name': 'redis' },
    passwordSecret: { secretName: 'redis', key: 'password' },
    passwordUrlSafe: true, // the chart generates letters and digits; Celery reads the password from the URL
    envName: 'CELERY_BROKER_URL',
  });
  const django = new PythonService(back, 'shop', {
    image: `${REGISTRY}/connections/shop:1.4.2`,
    env,
    replicas: 1,
    security,
    migrations: { command: ['python', 'manage.py', 'migrate', '--noinput'] },
  });
  django.use(BackingService.cloudNativePg({ clusterName: 'shop-db' }));
  django.use(broker);
  django.use(BackingService.endpoint({ cidr: '203.0.113.0/24', port: 443, env: { PARTNER_TOKEN: { secretName: 'partner', key: 'token' } } }));
  django.addWorker('worker', {
    process: WorkerProcess.celery({ app: 'shop' }),
    queueScaling: QueueScaling.redisListOf(broker, { listName: 'celery', targetLength: 20, minReplicas: 1, maxReplicas: 5 }),
  });
  django.addCronJob('clear-sessions', { schedule: '0 3 * * *', command: ['python', 'manage.py', 'clearsessions'] });
  storefront.connectTo(django);
  return synthApp(app);
}

const NEWER_OLDEST = KubernetesVersion.V1_35;

/** Every opt-in field of Kubernetes 1.33-1.35, on an app that states 1.35 as its oldest version. */
function newer(variant: { env?: string } = {}): Release {
  const app = Testing.app();
  KubernetesVersion.setOldest(app, NEWER_OLDEST);
  const chart = new Chart(app, 'newer', { namespace: 'newer' });
  const image = `${REGISTRY}/newer/app:1.0.0`;
  const web = new PythonService(chart, 'api', {
    image,
    env: { APP_MODE: variant.env ?? 'production' },
    server: PythonServer.gunicorn({ app: 'api.wsgi:application' }),
    hostUsers: false,
    resizePolicy: { memory: ResizeRestartPolicy.RESTART_CONTAINER },
    trafficDistribution: TrafficDistribution.PREFER_SAME_ZONE,
    autoscaling: { minReplicas: 2, maxReplicas: 6, scaleUpTolerance: 0.05, scaleDownTolerance: 0.2 },
    security: { allowedImages: [`${REGISTRY}/newer/`] },
    migrations: { command: ['python', 'manage.py', 'migrate', '--noinput'] },
  });
  web.addWorker('worker', { process: WorkerProcess.celery({ app: 'api' }), autoscaling: { minReplicas: 1, maxReplicas: 3, scaleDownTolerance: 0.3 } });
  web.addCronJob('report', { schedule: '0 4 * * *', command: ['python', '-m', 'api.report'] });
  return synthApp(app);
}

function example(): Release {
  return [synthExampleWithCli().manifests];
}

/** Every app the tier applies; together they use every feature the library emits. */
export const CLUSTER_APPS: ClusterApp[] = [
  { name: 'example', oldest: KubernetesVersion.V1_30, release: example, nextReleases: [] },
  {
    name: 'servers',
    oldest: KubernetesVersion.V1_30,
    release: () => servers(),
    nextReleases: [() => servers({ env: 'staging' }), () => servers({ image: `${REGISTRY}/servers/IMAGE:1.1` })],
  },
  {
    name: 'shop',
    oldest: KubernetesVersion.V1_30,
    release: () => shop(),
    nextReleases: [() => shop({ env: 'staging' }), () => shop({ env: 'staging', image: `${REGISTRY}/shop/app:1.4.3` })],
  },
  {
    name: 'argo',
    oldest: KubernetesVersion.V1_30,
    release: () => argo(),
    nextReleases: [() => argo({ env: 'staging' }), () => argo({ env: 'staging', image: `${REGISTRY}/argo/app:2.0.1` })],
  },
  { name: 'connections', oldest: KubernetesVersion.V1_30, release: () => connections(), nextReleases: [() => connections({ env: 'staging' })] },
  { name: 'newer', oldest: NEWER_OLDEST, release: () => newer(), nextReleases: [() => newer({ env: 'staging' })] },
];
