import { Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import {
  CeleryPool, HealthProbe, PythonCronJob, PythonServer, PythonService, PythonServiceProps, PythonWorker, QueueScaling, WorkerProcess,
} from '../src';
import { evaluatePolicy } from './support/cel';
import { allOf, appContainer, crossObjectProblems, envOf, expectStrictlyValid, namespacePolicy, only, podTemplateOf, selects, synth, servicePolicy } from './support/manifests';

const IMAGE = 'ghcr.io/acme/shop:1.4.2';

/** The README's Django + Celery app: web, workers on two queues with KEDA, beat, a cron job, migrations. */
function shop(extra: (service: PythonService) => void = () => undefined, props: Partial<PythonServiceProps> = {}) {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  const broker = new kplus.Secret(chart, 'Broker', { metadata: { name: 'broker' }, stringData: { url: 'redis://redis:6379/0' } });
  const web = new PythonService(chart, 'shop', {
    image: IMAGE,
    server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
    resources: { cpu: kplus.Cpu.millis(500), memory: Size.mebibytes(512) },
    env: { DJANGO_SETTINGS_MODULE: 'shop.settings' },
    envValues: { CELERY_BROKER_URL: kplus.EnvValue.fromSecretValue({ secret: broker, key: 'url' }) },
    monitoring: { labels: { release: 'kube-prometheus-stack' } },
    backup: { schedule: '0 0 * * *' },
    security: { allowedImages: ['ghcr.io/acme/'], egressTo: [{ peers: [{ namespaceName: 'redis' }], ports: [{ port: 6379 }] }] },
    migrations: { command: ['python', 'manage.py', 'migrate', '--noinput'] },
    ...props,
  });
  const worker = web.addWorker('worker', {
    process: WorkerProcess.celery({ app: 'shop', queues: ['default', 'emails'] }),
    resources: { cpu: kplus.Cpu.units(2), memory: Size.mebibytes(1024) },
    queueScaling: QueueScaling.redisList({ address: 'redis-master.redis:6379', listName: 'default', targetLength: 20, minReplicas: 0, maxReplicas: 10, password: { secretName: 'redis', key: 'password' } }),
    shutdown: { taskTimeLimit: Duration.minutes(5) },
    metricsPort: 9808,
  });
  const beat = web.addWorker('beat', { process: WorkerProcess.celeryBeat({ app: 'shop' }) });
  const cron = web.addCronJob('clear-sessions', { schedule: '0 3 * * *', command: ['python', 'manage.py', 'clearsessions'], timeZone: 'Europe/Berlin' });
  extra(web);
  return { web, worker, beat, cron, manifests: synth(chart) };
}

describe('a Django + Celery + beat + cron + KEDA application', () => {
  const { worker, manifests } = shop();

  test('is strictly valid (Kubernetes 1.35 and every CRD, KEDA included), restricted, and its selectors are sound', () => {
    expectStrictlyValid(manifests);
    expect(crossObjectProblems(manifests)).toEqual([]);
  });

  test('every pod of every component is admitted by the service\'s own policy (CEL evaluated)', () => {
    const policy = servicePolicy(manifests);
    for (const m of manifests.filter((x) => ['Deployment', 'Job', 'CronJob'].includes(x.kind))) {
      expect([m.kind, m.metadata.name, evaluatePolicy(policy.spec, m)]).toEqual([m.kind, m.metadata.name, { allowed: true }]);
      const template = podTemplateOf(m)!;
      expect(evaluatePolicy(policy.spec, { apiVersion: 'v1', kind: 'Pod', metadata: template.metadata, spec: template.spec })).toEqual({ allowed: true });
    }
  });

  test.each([
    ['a worker with a foreign image', 'Deployment', 'shop-worker', (spec: any) => { spec.containers[0].image = 'docker.io/evil/miner:1'; }, 'allowed-images'],
    ['a worker running privileged', 'Deployment', 'shop-worker', (spec: any) => { spec.containers[0].securityContext.privileged = true; }, 'not-privileged'],
    ['a cron job with a hostPath', 'CronJob', 'shop-clear-sessions', (spec: any) => { spec.volumes = [{ name: 'tmp', hostPath: { path: '/' } }]; }, 'no-host-path'],
    ['a cron job as root', 'CronJob', 'shop-clear-sessions', (spec: any) => { spec.containers[0].securityContext.runAsUser = 0; }, 'run-as-non-root'],
  ])('denies %s, naming the rule', (_what, kind, name, tamper, rule) => {
    const policy = servicePolicy(manifests);
    const copy = JSON.parse(JSON.stringify(only(manifests, kind, name)));
    tamper(podTemplateOf(copy)!.spec);
    const decision = evaluatePolicy(policy.spec, copy);
    expect(decision.allowed).toBe(false);
    expect(decision.error).toBeUndefined();
    expect(decision.message).toContain(rule);
  });

  test('the worker: a Deployment <service>-<id> with component <id>, no Service, no HTTP probe, Celery from the CPU request', () => {
    const deployment = only(manifests, 'Deployment', 'shop-worker');
    expect(deployment.metadata.labels['app.kubernetes.io/component']).toBe('worker');
    expect(deployment.spec.replicas).toBeUndefined(); // KEDA owns the count
    const c = appContainer(deployment);
    expect(c.command).toEqual(['celery', '-A', 'shop', 'worker', '--loglevel', 'INFO', '--concurrency', '2', '--pool', 'prefork', '--queues', 'default,emails']);
    expect(c.readinessProbe).toBeUndefined();
    expect(c.livenessProbe).toBeUndefined();
    expect(c.ports).toEqual([{ containerPort: 9808, name: 'metrics', protocol: 'TCP' }]);
    expect(allOf(manifests, 'Service').every((s) => !selects(s.spec.selector, deployment.spec.template.metadata.labels))).toBe(true);
    expect(podTemplateOf(deployment)!.spec.terminationGracePeriodSeconds).toBe(315);
    expect(worker.processConfig.processes).toBe(2);
  });

  test('shares the service\'s environment (and Secrets), but not its web-server settings', () => {
    const env = envOf(appContainer(only(manifests, 'Deployment', 'shop-worker')));
    expect(env).toMatchObject({ DJANGO_SETTINGS_MODULE: 'shop.settings', PYTHON_CPU_COUNT: '2' });
    expect(env.CELERY_BROKER_URL).toEqual({ secretKeyRef: { key: 'url', name: 'broker' } });
    expect(env.WEB_CONCURRENCY).toBeUndefined();
    expect(env.PROMETHEUS_MULTIPROC_DIR).toBeUndefined();
  });

  test('KEDA: a ScaledObject on the list, its password through a TriggerAuthentication, scale-down one pod a minute', () => {
    const so = only(manifests, 'ScaledObject');
    expect(so.spec).toMatchObject({
      scaleTargetRef: { name: 'shop-worker' },
      minReplicaCount: 0,
      maxReplicaCount: 10,
      cooldownPeriod: 300,
      triggers: [{ type: 'redis', metadata: { address: 'redis-master.redis:6379', listName: 'default', listLength: '20' }, authenticationRef: { name: 'shop-worker-keda' } }],
    });
    expect(so.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown).toEqual({ stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] });
    expect(only(manifests, 'TriggerAuthentication').spec).toEqual({ secretTargetRef: [{ parameter: 'password', name: 'redis', key: 'password' }] });
  });

  test('beat is a singleton: one replica, Recreate, no PDB, no autoscaler, its schedule file on the writable /tmp', () => {
    const beat = only(manifests, 'Deployment', 'shop-beat');
    expect(beat.spec.replicas).toBe(1);
    expect(beat.spec.strategy).toEqual({ type: 'Recreate' });
    expect(appContainer(beat).command).toEqual(['celery', '-A', 'shop', 'beat', '--loglevel', 'INFO', '--schedule', '/tmp/celerybeat-schedule']);
    expect(allOf(manifests, 'PodDisruptionBudget').map((p) => p.metadata.name)).not.toContain('shop-beat-pdb');
  });
  test('any worker can be a singleton: one replica, Recreate, no PDB, so a directory consumer never runs twice in a rollout', () => {
    let consumer: PythonWorker | undefined;
    const app = shop((web) => { consumer = web.addWorker('consumer', { process: WorkerProcess.command(['python', 'manage.py', 'document_consumer']), singleton: true }); });
    const deployment = only(app.manifests, 'Deployment', 'shop-consumer');
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    expect(allOf(app.manifests, 'PodDisruptionBudget').map((p) => p.metadata.name)).not.toContain('shop-consumer-pdb');
    expect(consumer!.disruptionBudget).toBeUndefined();
    const plain = only(shop((web) => { web.addWorker('consumer', { process: WorkerProcess.command(['python', 'manage.py', 'document_consumer']) }); }).manifests, 'Deployment', 'shop-consumer');
    expect(plain.spec.strategy.type).toBe('RollingUpdate');
  });


  test('beat is sized and stopped as what it is: one small process that runs no task', () => {
    const beat = only(manifests, 'Deployment', 'shop-beat');
    // Not the web's 500m/512Mi: one scheduler process (memoryPerProcess 128Mi + 32Mi for the interpreter's parent overhead).
    expect(appContainer(beat).resources).toEqual({ limits: { 'memory': '160Mi', 'ephemeral-storage': expect.any(String) }, requests: { 'cpu': '100m', 'memory': '160Mi', 'ephemeral-storage': expect.any(String) } });
    // Beat saves its schedule and exits on SIGTERM: no 5-minute task limit to wait out.
    expect(beat.spec.template.spec.terminationGracePeriodSeconds).toBe(30);
    expect(only(manifests, 'Deployment', 'shop-worker').spec.template.spec.terminationGracePeriodSeconds).toBe(315);
  });

  test('the cron job: batch/v1 CronJob <service>-<id>, Forbid, the time zone, the same pod template', () => {
    const cron = only(manifests, 'CronJob', 'shop-clear-sessions');
    expect(cron.spec).toMatchObject({ schedule: '0 3 * * *', timeZone: 'Europe/Berlin', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 300 });
    const pod = podTemplateOf(cron)!;
    expect(pod.spec.serviceAccountName).toBe('shop');
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(appContainer(cron).command).toEqual(['python', 'manage.py', 'clearsessions']);
    expect(cron.spec.jobTemplate.spec.podFailurePolicy.rules[0].action).toBe('Ignore');
  });

  test('every component has a NetworkPolicy: no ingress but metrics from the scraper; egress DNS + the service\'s egressTo', () => {
    for (const component of ['worker', 'beat', 'clear-sessions']) {
      const np = only(manifests, 'NetworkPolicy', `shop-${component}-netpol`);
      expect(np.spec.podSelector.matchLabels['app.kubernetes.io/component']).toBe(component);
      expect(np.spec.egress.some((r: any) => r.to?.some((p: any) => p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'redis'))).toBe(true);
      expect(np.spec.egress[0].ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
    }
    expect(only(manifests, 'NetworkPolicy', 'shop-worker-netpol').spec.ingress).toEqual([
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 9808, protocol: 'TCP' }] },
    ]);
    expect(only(manifests, 'NetworkPolicy', 'shop-beat-netpol').spec.ingress).toBeUndefined(); // isolated for ingress by policyTypes alone
  });

  test('the worker\'s metrics are scraped by a PodMonitor with the service\'s monitoring labels', () => {
    const pm = only(manifests, 'PodMonitor');
    expect(pm.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(pm.spec.podMetricsEndpoints[0].port).toBe('metrics');
    expect(pm.spec.selector.matchLabels['app.kubernetes.io/component']).toBe('worker');
  });

  test('the recommended labels, and the service\'s backup takes every component', () => {
    for (const m of manifests.filter((x) => x.metadata.namespace === 'shop')) {
      expect(m.metadata.labels?.['app.kubernetes.io/instance'] ?? 'made elsewhere').toMatch(/^(shop|made elsewhere)$/);
    }
    expect(only(manifests, 'Schedule').spec.template.includedNamespaces).toEqual(['shop']);
  });

  test('the admission policy comes before every component in the file', () => {
    const index = (kind: string, name?: string) => manifests.findIndex((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
    for (const [kind, name] of [['Deployment', 'shop-worker'], ['Deployment', 'shop-beat'], ['CronJob', 'shop-clear-sessions']]) {
      expect(index('ValidatingAdmissionPolicy')).toBeLessThan(index(kind, name));
    }
  });
});

describe('worker processes', () => {
  const commandOf = (process: WorkerProcess, resources = { cpu: kplus.Cpu.millis(1500), memory: Size.mebibytes(1024) }) => {
    let worker: PythonWorker | undefined;
    shop((web) => { worker = web.addWorker('w', { process, resources }); });
    return worker!.processConfig.command;
  };

  test('Celery prefork from the CPU request, bounded by memory; threads and gevent are not CPU-bound', () => {
    expect(commandOf(WorkerProcess.celery({ app: 'shop.celery:app' }))).toContain('2');
    expect(commandOf(WorkerProcess.celery({ app: 'shop' }), { cpu: kplus.Cpu.units(4), memory: Size.mebibytes(300) })).toEqual(expect.arrayContaining(['--concurrency', '2']));
    expect(commandOf(WorkerProcess.celery({ app: 'shop', pool: CeleryPool.THREADS }))).toEqual(expect.arrayContaining(['--concurrency', '8', '--pool', 'threads']));
    expect(commandOf(WorkerProcess.celery({ app: 'shop', pool: CeleryPool.GEVENT }))).not.toContain('--time-limit');
  });

  test('RQ: one process per pod; Dramatiq: processes from CPU with a shutdown timeout; commands as given', () => {
    expect(commandOf(WorkerProcess.rq({ queues: ['high', 'default'] }))).toEqual(['rq', 'worker', 'high', 'default']);
    expect(commandOf(WorkerProcess.dramatiq({ module: 'shop.tasks' }))).toEqual(['dramatiq', 'shop.tasks', '--processes', '2', '--threads', '8', '--worker-shutdown-timeout', '300000']);
    expect(commandOf(WorkerProcess.command(['python', '-m', 'shop.consumer']))).toEqual(['python', '-m', 'shop.consumer']);
  });

  test('a heartbeat liveness probe when asked, never by default', () => {
    let worker: PythonWorker | undefined;
    const { manifests } = shop((web) => {
      worker = web.addWorker('rq', {
        process: WorkerProcess.rq({ queues: ['default'] }),
        liveness: HealthProbe.exec(['python', '-c', 'import os,sys,time; sys.exit(time.time() - os.path.getmtime("/tmp/heartbeat") > 120)']),
      });
    });
    expect(worker).toBeDefined();
    expect(appContainer(only(manifests, 'Deployment', 'shop-rq')).livenessProbe).toMatchObject({ exec: { command: expect.arrayContaining(['python']) }, periodSeconds: 60 });
  });

  test('a standalone worker takes its image and identity from its own props', () => {
    const chart = new Chart(Testing.app(), 'jobs', { namespace: 'jobs' });
    new PythonWorker(chart, 'indexer', { image: 'ghcr.io/acme/indexer:2.0', process: WorkerProcess.rq({ queues: ['index'] }), security: { allowedImages: ['ghcr.io/acme/'] } });
    const manifests = synth(chart);
    const deployment = only(manifests, 'Deployment', 'indexer');
    expect(deployment.spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'indexer', 'app.kubernetes.io/component': 'worker', 'app.kubernetes.io/version': '2.0' });
    expect(podTemplateOf(deployment)!.spec.serviceAccountName).toBe('indexer');
    expectStrictlyValid(manifests);
    expect(evaluatePolicy(servicePolicy(manifests).spec, deployment)).toEqual({ allowed: true });
  });
});

describe('standalone workers and cron jobs in a secured namespace join its policy', () => {
  // The namespace's policy holds every pod of the namespace: a component the app declares must
  // be admitted by it, or the cluster refuses it at deploy time while the app synthesized fine.
  function namespaceWith(order: 'service first' | 'component first', component: (chart: Chart) => void) {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const service = () => new PythonService(chart, 'shop', { image: IMAGE, security: { allowedImages: ['ghcr.io/acme/'] } });
    if (order === 'service first') service();
    component(chart);
    if (order === 'component first') service();
    return chart;
  }

  describe.each(['service first', 'component first'] as const)('declared %s', (order) => {
    test('a standalone worker with its own security adds its images, and the namespace policy admits it', () => {
      const chart = namespaceWith(order, (c) => new PythonWorker(c, 'indexer', { image: 'ghcr.io/other/worker:1', process: WorkerProcess.rq({ queues: ['index'] }), security: { allowedImages: ['ghcr.io/other/'] } }));
      const manifests = synth(chart);
      const policy = namespacePolicy(manifests);
      expect(allOf(manifests, 'ValidatingAdmissionPolicy').filter((m) => m.metadata.name === 'shop-namespace-policy')).toHaveLength(1);
      for (const name of ['indexer', 'shop']) expect([name, evaluatePolicy(policy.spec, only(manifests, 'Deployment', name))]).toEqual([name, { allowed: true }]);
      expectStrictlyValid(manifests);
    });

    test('a standalone cron job with its own security adds its images', () => {
      const chart = namespaceWith(order, (c) => new PythonCronJob(c, 'report', { image: 'ghcr.io/other/report:1', schedule: '0 6 * * *', command: ['python', '-m', 'report'], security: { allowedImages: ['ghcr.io/other/report'] } }));
      const manifests = synth(chart);
      expect(evaluatePolicy(namespacePolicy(manifests).spec, only(manifests, 'CronJob', 'report'))).toEqual({ allowed: true });
    });

    test('a standalone worker without security whose image the namespace policy does not allow fails at synth, naming the image and the policy', () => {
      const chart = namespaceWith(order, (c) => new PythonWorker(c, 'indexer', { image: 'ghcr.io/other/worker:1', process: WorkerProcess.rq({ queues: ['index'] }) }));
      expect(() => synth(chart)).toThrow(/shop\/shop\/NamespacePolicy: the workload does not pass the policy of namespace "shop", which the cluster applies to every pod there:\n {2}Deployment "indexer" breaks its security policy \(allowed-images\): container "worker" image "ghcr.io\/other\/worker:1" is not allowed \(ghcr.io\/acme\/\)/);
    });
  });

  test('a standalone worker without security whose image the namespace policy allows synthesizes', () => {
    const chart = namespaceWith('service first', (c) => new PythonWorker(c, 'indexer', { image: 'ghcr.io/acme/worker:1', process: WorkerProcess.rq({ queues: ['index'] }) }));
    expect(evaluatePolicy(namespacePolicy(synth(chart)).spec, only(synth(chart), 'Deployment', 'indexer'))).toEqual({ allowed: true });
  });
});

describe('bad worker and cron job props', () => {
  const add = (fn: (web: PythonService) => void) => () => shop(fn);
  test.each([
    ['beat with 2 replicas', add((w) => w.addWorker('beat2', { process: WorkerProcess.celeryBeat({ app: 'shop' }), replicas: 2 })), "PythonService 'shop' PythonWorker 'beat2': replicas 2 must stay at 1 for celery beat"],
    ['beat with scaling', add((w) => w.addWorker('beat2', { process: WorkerProcess.celeryBeat({ app: 'shop' }), autoscaling: { minReplicas: 1, maxReplicas: 2 } })), 'must stay at 1 for celery beat'],
    ['a singleton with 2 replicas', add((w) => w.addWorker('c', { process: WorkerProcess.command(['consume']), singleton: true, replicas: 2 })), "PythonWorker 'c': replicas 2 must stay at 1 for a singleton worker (singleton: true)"],
    ['a singleton with queue scaling', add((w) => w.addWorker('c', { process: WorkerProcess.rq({ queues: ['q'] }), singleton: true, queueScaling: QueueScaling.redisList({ address: 'redis:6379', listName: 'q', targetLength: 5, maxReplicas: 2 }) })), 'must stay at 1 for a singleton worker'],
    ['beat that is told not to be a singleton', add((w) => w.addWorker('beat2', { process: WorkerProcess.celeryBeat({ app: 'shop' }), singleton: false })), 'singleton false cannot be false for celery beat'],
    ['beat with a task time limit', add((w) => w.addWorker('beat2', { process: WorkerProcess.celeryBeat({ app: 'shop' }), shutdown: { taskTimeLimit: Duration.minutes(10) } })), 'shutdown.taskTimeLimit (10 minutes) does not apply to celery beat, which runs no task'],
    ['autoscaling and queue scaling', add((w) => w.addWorker('w', { process: WorkerProcess.rq({ queues: ['q'] }), autoscaling: { minReplicas: 1, maxReplicas: 2 }, queueScaling: QueueScaling.custom({ type: 'kafka', metadata: {}, maxReplicas: 3 }) })), 'autoscaling {"minReplicas":1,"maxReplicas":2} cannot be combined with queueScaling'],
    ['a reserved id', add((w) => w.addWorker('migrate', { process: WorkerProcess.rq({ queues: ['q'] }) })), 'id "migrate" must be a DNS-1035 label other than server, migration, migrate'],
    ['an id that is no DNS label', add((w) => w.addWorker('Celery_Worker', { process: WorkerProcess.rq({ queues: ['q'] }) })), 'id "Celery_Worker" must be a DNS-1035 label'],
    ['a worker named like another service', () => {
      const chart = new Chart(Testing.app(), 'c', { namespace: 'shop' });
      new PythonService(chart, 'shop-worker', { image: IMAGE });
      new PythonService(chart, 'shop', { image: IMAGE }).addWorker('worker', { process: WorkerProcess.rq({ queues: ['q'] }) });
    }, 'name "shop-worker" is already used by the object at'],
    ['a Celery app in gunicorn form with a call', add((w) => w.addWorker('w', { process: WorkerProcess.celery({ app: 'shop.wsgi:application()' }) })), 'process.app "shop.wsgi:application()" must be a Celery app'],
    ['an empty RQ queue list', add((w) => w.addWorker('w', { process: WorkerProcess.rq({ queues: [] }) })), 'process.queues [] must list at least one queue'],
    ['a grace period under the task limit', add((w) => w.addWorker('w', { process: WorkerProcess.rq({ queues: ['q'] }), shutdown: { taskTimeLimit: Duration.minutes(5), terminationGracePeriod: Duration.minutes(1) } })), 'shutdown.terminationGracePeriod (1 minute) must cover shutdown.taskTimeLimit (300s)'],
    ['an HTTP liveness probe on a worker without ports', add((w) => w.addWorker('w', { process: WorkerProcess.rq({ queues: ['q'] }), liveness: HealthProbe.http({ path: '/' }) })), 'liveness "http" must be an exec probe or none'],
    ['too little memory for one process', add((w) => w.addWorker('w', { process: WorkerProcess.celery({ app: 'shop' }), resources: { memory: Size.mebibytes(128) } })), 'resources.memory "128Mi" leaves no room for one worker process'],
    ['a worker whose ephemeral storage (its own, 1Gi by default) cannot hold the service\'s /tmp', () => shop(() => undefined,
      { tmpSize: Size.gibibytes(1), resources: { cpu: kplus.Cpu.millis(500), memory: Size.mebibytes(512), ephemeralStorage: Size.gibibytes(2) } }),
    "PythonWorker 'worker': tmpSize \"1Gi\" does not fit in resources.ephemeralStorage (1Gi) with the container logs"],
    ['an image on a service component', add((w) => w.addWorker('w', { process: WorkerProcess.rq({ queues: ['q'] }), image: 'x' } as any)), 'image "x" comes from the service'],
    ['KEDA min above max', add((w) => w.addWorker('w', { process: WorkerProcess.rq({ queues: ['q'] }), queueScaling: QueueScaling.redisList({ address: 'redis:6379', listName: 'q', targetLength: 5, minReplicas: 5, maxReplicas: 2 }) })), 'queueScaling.minReplicas 5 must not exceed queueScaling.maxReplicas (2)'],
    ['a Redis address without port', add((w) => w.addWorker('w', { process: WorkerProcess.rq({ queues: ['q'] }), queueScaling: QueueScaling.redisList({ address: 'redis://redis', listName: 'q', targetLength: 5, maxReplicas: 2 }) })), 'queueScaling.address "redis://redis" must be "host:port"'],
    ['a cron schedule with TZ=', add((w) => w.addCronJob('c', { schedule: 'TZ=Europe/Berlin 0 3 * * *', command: ['x'] })), 'schedule "TZ=Europe/Berlin 0 3 * * *" must not set the time zone inside the schedule'],
    ['a 6-field cron schedule', add((w) => w.addCronJob('c', { schedule: '0 0 3 * * *', command: ['x'] })), 'schedule "0 0 3 * * *" is not a 5-field cron expression'],
    ['an unknown time zone', add((w) => w.addCronJob('c', { schedule: '@daily', command: ['x'], timeZone: 'Mars/Olympus' })), 'timeZone "Mars/Olympus" must be an IANA time zone name'],
    ['a starting deadline under 10 s', add((w) => w.addCronJob('c', { schedule: '@hourly', command: ['x'], startingDeadline: Duration.seconds(5) })), 'startingDeadline (5 seconds) must be at least 10 seconds'],
    ['a cron job name over 52 characters', add((w) => w.addCronJob('c'.repeat(48), { schedule: '@hourly', command: ['x'] })),
      `PythonService 'shop' PythonCronJob '${'c'.repeat(48)}': id "${'c'.repeat(48)}" is too long: the object name "shop-${'c'.repeat(48)}" (<service name>-<id>) has 53 characters; the limit is 52 (a CronJob's Jobs add 11 characters); shorten the id to at most 47 characters, or the service's name`],
    ['a worker id too long for its service', add((w) => w.addWorker('w'.repeat(59), { process: WorkerProcess.rq({ queues: ['q'] }) })), `PythonWorker '${'w'.repeat(59)}': id "${'w'.repeat(59)}" is too long: the object name "shop-${'w'.repeat(59)}" (<service name>-<id>) has 64 characters; the limit is 63; shorten the id to at most 58`],
    ['a standalone worker without an image', () => new PythonWorker(Testing.chart(), 'w', { process: WorkerProcess.rq({ queues: ['q'] }) }), "PythonWorker 'w': image (undefined) must be a non-empty container image reference"],
  ])('%s', (_title, fn, message) => {
    expect(fn).toThrow(message);
  });

  test('macros are accepted as Kubernetes accepts them', () => {
    const { manifests } = shop((w) => { w.addCronJob('hourly', { schedule: '@hourly', command: ['python', '-m', 'x'] }); });
    expect(only(manifests, 'CronJob', 'shop-hourly').spec.schedule).toBe('@hourly');
  });
});

describe('native sidecars', () => {
  function withSidecars() {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const web = new PythonService(chart, 'shop', { image: IMAGE, security: { allowedImages: ['ghcr.io/acme/', 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1'] } });
    web.addSidecar('cloud-sql-proxy', { image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1', args: ['--port=5432', 'acme:europe-west1:shop'], port: 5432 });
    const worker = web.addWorker('worker', { process: WorkerProcess.celery({ app: 'shop' }) });
    worker.addSidecar('cloud-sql-proxy', { image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1', args: ['--port=5432', 'acme:europe-west1:shop'], resources: { cpu: kplus.Cpu.millis(100), memory: Size.mebibytes(128) } });
    return { chart, manifests: synth(chart) };
  }

  test('an init container with restartPolicy Always, restricted like the app, with small resources of its own', () => {
    const { manifests } = withSidecars();
    const sidecar = podTemplateOf(only(manifests, 'Deployment', 'shop'))!.spec.initContainers[0];
    expect(sidecar).toMatchObject({
      name: 'cloud-sql-proxy',
      image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1',
      restartPolicy: 'Always',
      args: ['--port=5432', 'acme:europe-west1:shop'],
      ports: [{ containerPort: 5432, name: 'cloud-sql-proxy', protocol: 'TCP' }],
      resources: { requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '1Gi' }, limits: { 'memory': '64Mi', 'ephemeral-storage': '1Gi' } },
      securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
    });
    expect(podTemplateOf(only(manifests, 'Deployment', 'shop-worker'))!.spec.initContainers[0].resources.requests).toMatchObject({ cpu: '100m', memory: '128Mi' });
    expectStrictlyValid(manifests);
    for (const m of manifests.filter((x) => x.kind === 'Deployment')) expect(evaluatePolicy(servicePolicy(manifests).spec, m)).toEqual({ allowed: true });
  });

  test('a sidecar image the policy does not allow fails at synth, naming it', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const web = new PythonService(chart, 'shop', { image: IMAGE, security: { allowedImages: ['ghcr.io/acme/'] } });
    web.addSidecar('proxy', { image: 'docker.io/library/haproxy:3.1' });
    expect(() => synth(chart)).toThrow(/\(allowed-images\): container "proxy" image "docker.io\/library\/haproxy:3.1" is not allowed/);
  });

  test.each([
    ['a name that is no DNS label', 'Proxy', { image: 'ghcr.io/acme/proxy:1' }, "PythonService 'shop': sidecars.Proxy name \"Proxy\" must be a DNS-1123 label"],
    ['an invalid image', 'proxy', { image: 'Not An Image' }, 'sidecars.proxy.image "Not An Image" is not a valid image reference'],
    ['a port out of range', 'proxy', { image: 'ghcr.io/acme/proxy:1', port: 70000 }, 'sidecars.proxy.port 70000'],
  ])('%s is an error naming the sidecar', (_what, id, options, message) => {
    const web = new PythonService(new Chart(Testing.app(), 'shop', { namespace: 'shop' }), 'shop', { image: IMAGE });
    expect(() => web.addSidecar(id, options)).toThrow(message);
  });
});
