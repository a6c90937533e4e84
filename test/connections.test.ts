import { App, Chart, Duration, Testing } from 'cdk8s';
import {
  BackingService, PythonCronJob, PythonServer, PythonService, PythonServiceProps, PythonWorker, QueueScaling, WorkerProcess,
} from '../src';
import { allOf, appContainer, envOf, expectStrictlyValid, only, podTemplateOf, synth } from './support/manifests';
import { PodView, reachable, workloadPods } from './support/network-policy-evaluator';
import { stderrOf } from './support/stderr';

const REGISTRY = 'ghcr.io/acme/';

const warningsOf = (fn: () => void): string => stderrOf(fn).join('');

function secured(chart: Chart, id: string, props: Partial<PythonServiceProps> = {}): PythonService {
  return new PythonService(chart, id, {
    image: `${REGISTRY}${id}:1.0`,
    server: PythonServer.gunicorn({ app: `${id}.wsgi:application` }),
    replicas: 1,
    ...props,
    security: { allowedImages: [REGISTRY], ...props.security },
  });
}

const podOf = (pods: PodView[], what: string) => {
  const pod = pods.find((p) => p.what === what);
  if (!pod) throw new Error(`no pod of ${what} in ${pods.map((p) => p.what).join(', ')}`);
  return pod;
};

describe('the network-policy evaluator the tests use', () => {
  const pod = (namespace: string, labels: { [k: string]: string }): PodView => ({ what: 'p', namespace, labels });
  const policy = (namespace: string, spec: any) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace }, spec });

  test('follows the NetworkPolicy rules: unselected pods are open, a pod selector alone means the policy\'s namespace', () => {
    const a = pod('a', { app: 'a' });
    const b = pod('b', { app: 'b' });
    expect(reachable([], a, b, 80)).toBe(true);
    const denyAll = policy('b', { podSelector: {}, policyTypes: ['Ingress'] });
    expect(reachable([denyAll], a, b, 80)).toBe(false);
    const sameNamespaceOnly = policy('b', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }] }] });
    expect(reachable([sameNamespaceOnly], a, b, 80)).toBe(false);
    const fromA = policy('b', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'a' } }, podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 80 }] }] });
    expect(reachable([fromA], a, b, 80)).toBe(true);
    expect(reachable([fromA], a, b, 81)).toBe(false);
    const egressDenied = policy('a', { podSelector: {}, policyTypes: ['Egress'] });
    expect(reachable([fromA, egressDenied], a, b, 80)).toBe(false);
  });
});

describe('service to service: connectTo', () => {
  function shop(options: { connect: boolean; crossNamespace?: boolean }) {
    const app = Testing.app();
    const front = new Chart(app, 'front', { namespace: 'shop' });
    const back = options.crossNamespace ? new Chart(app, 'back', { namespace: 'pricing' }) : front;
    const storefront = secured(front, 'storefront');
    const worker = storefront.addWorker('worker', { process: WorkerProcess.celery({ app: 'storefront' }) });
    const pricing = secured(back, 'pricing', {
      security: { allowedImages: [REGISTRY], ingressFrom: [{ namespaceName: 'shop', podLabels: { 'app.kubernetes.io/instance': 'storefront' } }] },
    });
    secured(front, 'search');
    if (options.connect) storefront.connectTo(pricing, { envName: 'PRICING_URL' });
    const manifests = [...synth(front), ...(back === front ? [] : synth(back))];
    return { manifests, pods: workloadPods(manifests), storefront, worker, pricing };
  }

  test('without it, storefront cannot reach pricing although pricing admits it, and the library says so once, with the fix', () => {
    let built: ReturnType<typeof shop> | undefined;
    const warnings = warningsOf(() => { built = shop({ connect: false }); });
    const { manifests, pods } = built!;
    expect(reachable(manifests, podOf(pods, 'Deployment/storefront'), podOf(pods, 'Deployment/pricing'), 8080)).toBe(false);
    expect(warnings).toContain('pricing admits storefront (its ingress names storefront\'s pods), but storefront\'s NetworkPolicy has no egress to pricing\'s pods on port 8080, '
      + 'so its calls time out: connect them with connectTo() on storefront (it opens both policies)');
    expect(warnings.split('pricing admits storefront').length).toBe(2);
  });

  test.each([false, true])('with it, every pod of storefront reaches pricing on its container port, and nothing else does (across namespaces: %s)', (crossNamespace) => {
    let built: ReturnType<typeof shop> | undefined;
    const warnings = warningsOf(() => { built = shop({ connect: true, crossNamespace }); });
    const { manifests, pods } = built!;
    const pricing = podOf(pods, 'Deployment/pricing');
    for (const from of ['Deployment/storefront', 'Deployment/storefront-worker']) {
      expect({ from, reaches: reachable(manifests, podOf(pods, from), pricing, 8080) }).toEqual({ from, reaches: true });
      expect({ from, otherPort: reachable(manifests, podOf(pods, from), pricing, 9090) }).toEqual({ from, otherPort: false });
    }
    expect(reachable(manifests, podOf(pods, 'Deployment/search'), pricing, 8080)).toBe(false);
    expect(warnings).not.toContain('admits storefront');
    expectStrictlyValid(manifests);
  });

  test('the variable holds the target Service\'s in-cluster URL on its Service port, in every container of the service', () => {
    const { manifests } = shop({ connect: true, crossNamespace: true });
    for (const name of ['storefront', 'storefront-worker']) {
      expect(envOf(appContainer(only(manifests, 'Deployment', name))).PRICING_URL).toBe('http://pricing.pricing.svc:80');
    }
  });

  test('a component added after connectTo gets it too; a worker can connect on its own', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'shop' });
    const front = secured(chart, 'front');
    const api = secured(chart, 'api');
    front.connectTo(api);
    front.addCronJob('report', { schedule: '0 3 * * *', command: ['python', '-m', 'front.report'] });
    const indexer = new PythonWorker(chart, 'indexer', { image: `${REGISTRY}indexer:1`, process: WorkerProcess.rq({ queues: ['index'] }), security: { allowedImages: [REGISTRY] } });
    indexer.connectTo(api, { envName: 'API_URL' });
    const manifests = synth(chart);
    const pods = workloadPods(manifests);
    for (const from of ['CronJob/front-report', 'Deployment/indexer']) expect({ from, ok: reachable(manifests, podOf(pods, from), podOf(pods, 'Deployment/api'), 8080) }).toEqual({ from, ok: true });
    expect(envOf(appContainer(only(manifests, 'Deployment', 'indexer'))).API_URL).toBe('http://api.shop.svc:80');
  });

  test('the other way round: egress to a service that does not admit the caller is a warning', () => {
    const warnings = warningsOf(() => {
      const chart = new Chart(Testing.app(), 'c', { namespace: 'orders' });
      secured(chart, 'orders', { security: { allowedImages: [REGISTRY], egressTo: [{ peers: [{ podLabels: { 'app.kubernetes.io/instance': 'ledger' } }], ports: [{ port: 8080 }] }] } });
      secured(chart, 'ledger', { security: { allowedImages: [REGISTRY], ingressFrom: [{ podLabels: { 'app.kubernetes.io/instance': 'admin' } }] } });
      synth(chart);
    });
    expect(warnings).toContain('orders\'s egress reaches ledger\'s pods, but ledger\'s NetworkPolicy does not admit orders on port 8080');
  });

  test.each([
    ['not a service', (a: PythonService) => a.connectTo({} as any), /^PythonService 'a': connectTo \{\} takes a PythonService \(for a database or broker, use\(\) a BackingService\)$/],
    ['itself', (a: PythonService) => a.connectTo(a), /^PythonService 'a': connectTo "a" is this service itself/],
    ['an invalid variable name', (a: PythonService, b: PythonService) => a.connectTo(b, { envName: 'b-url' }), /connectTo envName "b-url" must be a valid variable name/],
    ['a variable the container has', (a: PythonService, b: PythonService) => a.connectTo(b, { envName: 'APP_MODE' }), /connectTo envName "APP_MODE" is already set in PythonService 'a' container "app"/],
  ])('refuses %s', (_what, call, message) => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'n' });
    const a = secured(chart, 'a', { env: { APP_MODE: 'x' } });
    const b = secured(chart, 'b');
    expect(() => call(a, b)).toThrow(message);
  });
});

/** The README's "Connections" app: Django on CloudNativePG, Celery on Redis with KEDA, beat, a cron job, migrations. */
function djangoApp() {
  const app = new App();
  const chart = new Chart(app, 'shop', { namespace: 'shop' });
  const database = BackingService.cloudNativePg({ clusterName: 'shop-db' });
  const redis = BackingService.redis({
    host: 'redis-master.redis.svc',
    namespace: 'redis',
    podLabels: { 'app.kubernetes.io/name': 'redis' },
    passwordSecret: { secretName: 'redis', key: 'password' },
    passwordUrlSafe: true, // the chart generates letters and digits; Celery reads the password from the URL
    envName: 'CELERY_BROKER_URL',
  });
  const web = secured(chart, 'shop', { migrations: { command: ['python', 'manage.py', 'migrate', '--noinput'] } });
  web.use(database);
  web.use(redis);
  web.addWorker('worker', {
    process: WorkerProcess.celery({ app: 'shop' }),
    queueScaling: QueueScaling.redisListOf(redis, { listName: 'celery', targetLength: 20, minReplicas: 0, maxReplicas: 10 }),
    shutdown: { taskTimeLimit: Duration.minutes(5) },
  });
  web.addWorker('beat', { process: WorkerProcess.celeryBeat({ app: 'shop' }) });
  web.addCronJob('clear-sessions', { schedule: '0 3 * * *', command: ['python', 'manage.py', 'clearsessions'] });
  return { manifests: synth(chart), web };
}

describe('backing services: one declaration per database and broker', () => {
  const { manifests } = djangoApp();
  const pods = workloadPods(manifests);
  const database: PodView = { what: 'postgres', namespace: 'shop', labels: { 'cnpg.io/cluster': 'shop-db', 'cnpg.io/instanceRole': 'primary' } };
  const redis: PodView = { what: 'redis', namespace: 'redis', labels: { 'app.kubernetes.io/name': 'redis' } };
  const elsewhere: PodView[] = [
    { what: 'another database', namespace: 'shop', labels: { 'cnpg.io/cluster': 'other-db' } },
    { what: 'another pod in redis', namespace: 'redis', labels: { 'app.kubernetes.io/name': 'sentinel' } },
    { what: 'a redis elsewhere', namespace: 'cache', labels: { 'app.kubernetes.io/name': 'redis' } },
  ];

  test('the app has its five workloads', () => {
    expect(pods.map((p) => p.what).sort()).toEqual(['CronJob/shop-clear-sessions', 'Deployment/shop', 'Deployment/shop-beat', 'Deployment/shop-worker', 'Job/shop-migrate-' + only(manifests, 'Job').metadata.name.split('-').pop()]);
  });

  test.each(pods.map((p) => [p.what, p] as const))('%s reaches the database on 5432 and Redis on 6379, and nothing else there', (_what, pod) => {
    expect(reachable(manifests, pod, database, 5432)).toBe(true);
    expect(reachable(manifests, pod, redis, 6379)).toBe(true);
    expect(reachable(manifests, pod, database, 6379)).toBe(false);
    expect(reachable(manifests, pod, redis, 5432)).toBe(false);
    for (const other of elsewhere) expect({ other: other.what, reached: [5432, 6379].some((port) => reachable(manifests, pod, other, port)) }).toEqual({ other: other.what, reached: false });
  });

  test.each(pods.map((p) => [p.what, p] as const))('%s has DATABASE_URL from the cluster\'s app Secret, and the broker URL after its password', (what) => {
    const m = manifests.find((x) => `${x.kind}/${x.metadata.name}` === what)!;
    const env = appContainer(m).env as Array<{ name: string; value?: string; valueFrom?: any }>;
    const byName = Object.fromEntries(env.map((e) => [e.name, e]));
    expect(byName.DATABASE_URL.valueFrom).toEqual({ secretKeyRef: { name: 'shop-db-app', key: 'uri' } });
    expect(byName.CELERY_BROKER_URL_PASSWORD.valueFrom).toEqual({ secretKeyRef: { name: 'redis', key: 'password' } });
    expect(byName.CELERY_BROKER_URL.value).toBe('redis://:$(CELERY_BROKER_URL_PASSWORD)@redis-master.redis.svc:6379/0');
    // The kubelet expands $(VAR) only from a variable defined earlier in the list.
    expect(env.findIndex((e) => e.name === 'CELERY_BROKER_URL_PASSWORD')).toBeLessThan(env.findIndex((e) => e.name === 'CELERY_BROKER_URL'));
  });

  test('a database\'s settings one by one, each from its own key of CloudNativePG\'s Secret, beside the URI or instead of it', () => {
    const dbEnv = (options: Partial<Parameters<typeof BackingService.cloudNativePg>[0]>) => {
      const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
      secured(chart, 'shop').use(BackingService.cloudNativePg({ clusterName: 'shop-db', ...options }));
      const env = appContainer(only(synth(chart), 'Deployment', 'shop')).env as Array<{ name: string; value?: string; valueFrom?: any }>;
      return Object.fromEntries(env.filter((e) => /^(DATABASE_URL|DB_|PG)/.test(e.name)).map((e) => [e.name, e.value ?? e.valueFrom?.secretKeyRef]));
    };
    const variables = { host: 'DB_HOST', port: 'DB_PORT', user: 'DB_USER', password: 'DB_PASSWORD', database: 'DB_NAME' };
    expect(dbEnv({ variables })).toEqual({
      DATABASE_URL: { name: 'shop-db-app', key: 'uri' },
      DB_HOST: { name: 'shop-db-app', key: 'host' },
      DB_PORT: { name: 'shop-db-app', key: 'port' },
      DB_USER: { name: 'shop-db-app', key: 'user' },
      DB_PASSWORD: { name: 'shop-db-app', key: 'password' },
      DB_NAME: { name: 'shop-db-app', key: 'dbname' },
    });
    // libpq's own variables, and no URI.
    expect(dbEnv({ variables: { host: 'PGHOST', password: 'PGPASSWORD' }, uri: false })).toEqual({
      PGHOST: { name: 'shop-db-app', key: 'host' }, PGPASSWORD: { name: 'shop-db-app', key: 'password' },
    });
    expect(Object.keys(dbEnv({ variables: { host: 'DB_HOST' }, uri: false }))).toEqual(['DB_HOST']);
    // A Cluster elsewhere: the Secret (a copy in the app's namespace) names the host by its short name.
    expect(dbEnv({ namespace: 'databases', uriSecret: { secretName: 'shop-db-app-copy', key: 'uri' }, variables: { host: 'DB_HOST', user: 'DB_USER' } })).toEqual({
      DATABASE_URL: { name: 'shop-db-app-copy', key: 'uri' }, DB_HOST: 'shop-db-rw.databases', DB_USER: { name: 'shop-db-app-copy', key: 'user' },
    });
    expect(() => dbEnv({ uri: false })).toThrow('cloudNativePg.uri false leaves the app no connection settings: name some cloudNativePg.variables, or keep the URI');
    expect(() => dbEnv({ variables: { host: 'db-host' } })).toThrow('cloudNativePg.variables.host "db-host" must be a valid variable name');
    expect(() => dbEnv({ variables: { hostname: 'DB_HOST' } as any })).toThrow('cloudNativePg.variables.hostname "DB_HOST" is not a setting: use host, port, user, password, database');
  });

  test('a password goes into the URL only when declared URL-safe, or with the whole URL from a Secret: $(VAR) cannot encode it', () => {
    const redisEnv = (options: Partial<Parameters<typeof BackingService.redis>[0]>) => {
      const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
      secured(chart, 'shop').use(BackingService.redis({ host: 'redis.cache.svc', namespace: 'cache', podLabels: { app: 'redis' }, ...options }));
      const env = appContainer(only(synth(chart), 'Deployment', 'shop')).env as Array<{ name: string; value?: string; valueFrom?: any }>;
      return Object.fromEntries(env.filter((e) => e.name.startsWith('REDIS_URL')).map((e) => [e.name, e.value ?? e.valueFrom]));
    };
    const password = { passwordSecret: { secretName: 'redis', key: 'password' } };
    const warnings = stderrOf(() => {
      expect(redisEnv(password)).toEqual({ REDIS_URL_PASSWORD: { secretKeyRef: { name: 'redis', key: 'password' } }, REDIS_URL: 'redis://redis.cache.svc:6379/0' });
    }).join('');
    expect(warnings).toContain('REDIS_URL carries no password: the kubelet\'s $(VAR) expansion cannot URL-encode one from a Secret');
    expect(redisEnv({ ...password, passwordUrlSafe: true }).REDIS_URL).toBe('redis://:$(REDIS_URL_PASSWORD)@redis.cache.svc:6379/0');
    expect(redisEnv({ ...password, urlSecret: { secretName: 'redis', key: 'url' } })).toEqual({
      REDIS_URL_PASSWORD: { secretKeyRef: { name: 'redis', key: 'password' } }, REDIS_URL: { secretKeyRef: { name: 'redis', key: 'url' } },
    });
    expect(redisEnv({ urlSecret: { secretName: 'redis', key: 'url' } })).toEqual({ REDIS_URL: { secretKeyRef: { name: 'redis', key: 'url' } } });
    expect(() => redisEnv({ passwordUrlSafe: true })).toThrow('redis.passwordUrlSafe true needs redis.passwordSecret: there is no password to put into the URL');
    expect(() => redisEnv({ ...password, passwordUrlSafe: true, urlSecret: { secretName: 'redis', key: 'url' } })).toThrow('redis.passwordUrlSafe true cannot be combined with redis.urlSecret');
  });

  test('KEDA\'s trigger takes the address and the password key from the same declaration', () => {
    const trigger = only(manifests, 'ScaledObject').spec.triggers[0];
    expect(trigger.metadata).toMatchObject({ address: 'redis-master.redis.svc:6379', listName: 'celery', listLength: '20' });
    expect(only(manifests, 'TriggerAuthentication').spec.secretTargetRef).toEqual([{ parameter: 'password', name: 'redis', key: 'password' }]);
  });

  test('the YAML is valid against the strict schemas and the CRDs', () => {
    expectStrictlyValid(manifests);
  });

  test('a component added after use() gets it; a standalone cron job can use one on its own', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'jobs' });
    const job = new PythonCronJob(chart, 'export', { image: `${REGISTRY}export:1`, schedule: '0 1 * * *', command: ['python', '-m', 'export'], security: { allowedImages: [REGISTRY] } });
    job.use(BackingService.endpoint({ cidr: '203.0.113.0/24', port: 443, env: { API_TOKEN: { secretName: 'partner', key: 'token' } } }));
    const m = synth(chart);
    expect(envOf(appContainer(only(m, 'CronJob'))).API_TOKEN).toEqual({ secretKeyRef: { name: 'partner', key: 'token' } });
    expect(only(m, 'NetworkPolicy').spec.egress).toContainEqual({ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 443, protocol: 'TCP' }] });
  });

  test('RabbitMQ outside the cluster, by CIDR', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'n' });
    const web = secured(chart, 'api');
    web.use(BackingService.rabbitMq({ host: 'mq.example.net', cidr: '198.51.100.10/32', urlSecret: { secretName: 'mq', key: 'url' }, envName: 'CELERY_BROKER_URL' }));
    const m = synth(chart);
    expect(envOf(appContainer(only(m, 'Deployment'))).CELERY_BROKER_URL).toEqual({ secretKeyRef: { name: 'mq', key: 'url' } });
    expect(allOf(m, 'NetworkPolicy')[0].spec.egress).toContainEqual({ to: [{ ipBlock: { cidr: '198.51.100.10/32' } }], ports: [{ port: 5672, protocol: 'TCP' }] });
    expect(podTemplateOf(only(m, 'Deployment'))).toBeDefined();
  });
});

describe('backing services refuse what would fail on the cluster, naming the prop and the fix', () => {
  const use = (backing: () => BackingService, props: Partial<PythonServiceProps> = {}) => () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'shop' });
    secured(chart, 'api', props).use(backing());
  };
  test.each([
    ['a CloudNativePG cluster in another namespace without a copy of its Secret',
      () => BackingService.cloudNativePg({ clusterName: 'shop-db', namespace: 'databases' }),
      /cloudNativePg\.namespace "databases" holds the "shop-db-app" Secret, and a pod in "shop" cannot read a Secret of another namespace: copy it into the app's namespace .* and pass uriSecret/],
    ['an in-cluster Redis without pod labels', () => BackingService.redis({ host: 'redis-master.redis.svc', namespace: 'redis' }),
      /redis\.podLabels \(undefined\) must select the server's pods for the NetworkPolicy .*, or set cidr for a server outside the cluster/],
    ['a Redis with both cidr and pod labels', () => BackingService.redis({ host: 'r', cidr: '10.0.0.0/8', podLabels: { app: 'redis' } }), /redis\.cidr "10\.0\.0\.0\/8" is for a server outside the cluster/],
    ['a port out of range', () => BackingService.redis({ host: 'r', podLabels: { app: 'redis' }, port: 70000 }), /redis\.port 70000 must be a whole number from 1 to 65535/],
    ['a Secret key that is not a valid env source', () => BackingService.cloudNativePg({ clusterName: 'db', uriSecret: { secretName: 'db', key: 'a/b' } }),
      /cloudNativePg\.uriSecret\.key "a\/b" must be a Secret key: letters, digits, "-", "_" and "\." only/],
    ['an invalid variable name', () => BackingService.cloudNativePg({ clusterName: 'db', envName: 'database-url' }), /cloudNativePg\.envName "database-url" must be a valid variable name/],
    ['an endpoint without a CIDR', () => BackingService.endpoint({ cidr: 'db.example.com', port: 5432 }), /endpoint\.cidr "db\.example\.com" must be an IPv4 or IPv6 CIDR/],
    ['something that is not a backing service', () => ({ description: 'fake' }) as any, /use\(\) \{"description":"fake"\} takes a BackingService/],
  ])('%s', (_what, backing, message) => {
    expect(use(backing)).toThrow(message);
  });

  test('a variable the container already has', () => {
    expect(use(() => BackingService.cloudNativePg({ clusterName: 'db' }), { env: { DATABASE_URL: 'sqlite://' } })).toThrow(
      /use\(\) "CloudNativePG cluster \\"db\\"" sets DATABASE_URL, which PythonService 'api' container "app" already has; set envName on the backing service/);
  });

  test('KEDA\'s Redis trigger on a backing service that is not Redis', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'shop' });
    const web = secured(chart, 'api');
    expect(() => web.addWorker('worker', {
      process: WorkerProcess.celery({ app: 'shop' }),
      queueScaling: QueueScaling.redisListOf(BackingService.cloudNativePg({ clusterName: 'db' }), { listName: 'celery', targetLength: 5, maxReplicas: 3 }),
    })).toThrow(/queueScaling broker "CloudNativePG cluster \\"db\\"" is a cloudNativePg backing service; KEDA's Redis trigger needs one from BackingService\.redis\(\)/);
  });
});
