// The source article's Python app, as one PythonService. `npm run synth:example` writes
// dist/shop.k8s.yaml and dist/Dockerfile with the real cdk8s CLI.
import * as fs from 'fs';
import * as path from 'path';
import { App, Chart, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { BackingService, Exposure, PythonDockerfile, PythonServer, PythonService, QueueScaling, WorkerProcess } from '../src';

const app = new App();
const chart = new Chart(app, 'shop', { namespace: 'shop' });

// What the app talks to, declared once: every pod of the service (web, workers, cron job,
// migrations) gets the variables and the NetworkPolicy egress from these.
const database = BackingService.endpoint({ cidr: '10.20.0.0/16', port: 5432, env: { DATABASE_URL: { secretName: 'shop-db', key: 'url' } } });
const broker = BackingService.redis({
  host: 'redis-master.redis.svc',
  namespace: 'redis',
  podLabels: { 'app.kubernetes.io/name': 'redis' },
  envName: 'CELERY_BROKER_URL',
});

const service = new PythonService(chart, 'python-app', {
  image: 'registry.example.com/shop/python-app:1.4.2',
  // A private registry: the kubelet pulls with this docker-registry Secret (every pod of the app).
  imagePullSecrets: ['registry-credentials'],
  server: PythonServer.gunicorn({ app: 'app.wsgi:application' }),
  port: 8080,
  // The article scales from 3 to 5 replicas by hand; an autoscaler does it on CPU.
  autoscaling: { minReplicas: 3, maxReplicas: 5, targetCpuUtilization: 70 },
  resources: { cpu: kplus.Cpu.millis(500), memory: Size.mebibytes(512) },
  env: { DJANGO_SETTINGS_MODULE: 'app.settings' },
  healthCheck: { path: '/healthz' },
  expose: Exposure.ingress({ host: 'shop.example.com', tlsSecretName: 'shop-tls' }),
  migrations: { command: ['python', 'manage.py', 'migrate', '--noinput'] },
  // The article's ServiceMonitor (port http, /metrics, every 30s), plus alerts.
  monitoring: { path: '/metrics', interval: Duration.seconds(30), alerts: true, labels: { release: 'kube-prometheus-stack' } },
  // The article's made-up Backup kind, as the real thing: a Velero Schedule, daily at midnight.
  backup: { schedule: '0 0 * * *', retention: Duration.days(30) },
  // The article's made-up SecurityPolicy kind, as what clusters enforce: default-deny
  // NetworkPolicies with explicit allows and CEL admission rules (allowed images and volumes,
  // Pod Security "restricted"), checked against this very chart at synth time.
  security: { allowedImages: ['registry.example.com/shop/'] },
  partOf: 'shop',
});
service.use(database);
service.use(broker);

// Beyond the article: real Python apps also run background workers and scheduled jobs, from the
// same image and pod template. A Celery worker scaled on its Redis queue by KEDA, beat (always one
// replica), and a nightly Django management command.
service.addWorker('worker', {
  process: WorkerProcess.celery({ app: 'app', queues: ['default'] }),
  queueScaling: QueueScaling.redisListOf(broker, { listName: 'default', targetLength: 20, minReplicas: 1, maxReplicas: 10 }),
  shutdown: { taskTimeLimit: Duration.minutes(5) },
});
service.addWorker('beat', { process: WorkerProcess.celeryBeat({ app: 'app' }) });
service.addCronJob('clear-sessions', {
  schedule: '0 3 * * *',
  timeZone: 'Europe/Berlin',
  command: ['python', 'manage.py', 'clearsessions'],
});

app.synth();

// The article's first step: the image, built by a Dockerfile that agrees with the Deployment
// (numeric user, ports, server command, read-only root), written next to the YAML. Django's static
// files are collected at build time: the pod's root filesystem is read-only.
const dockerfile = PythonDockerfile.forService(service, {
  buildCommands: [['python', 'manage.py', 'collectstatic', '--noinput']],
  buildEnv: { DJANGO_SETTINGS_MODULE: 'app.settings' },
});
fs.writeFileSync(path.join(app.outdir, 'Dockerfile'), dockerfile.render());
fs.writeFileSync(path.join(app.outdir, '.dockerignore'), dockerfile.renderIgnore());
