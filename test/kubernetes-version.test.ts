import { App, Chart, Testing } from 'cdk8s';
import {
  AdmissionEngine, KubernetesVersion, PreStopMethod, PythonServer, PythonService, PythonServiceProps, PythonWorker, ResizeRestartPolicy,
  TrafficDistribution, WorkerProcess,
} from '../src';
import { allOf, appContainer, expectStrictlyValid, only, podTemplateOf, strictProblems, synth } from './support/manifests';

const IMAGE = 'ghcr.io/acme/shop:1.4.2';
const CONTEXT = 'cdk8s-python-service:oldestKubernetesVersion';

/** An app whose clusters run `oldest` or newer (undefined: the default). */
function appOn(oldest?: KubernetesVersion): App {
  const app = Testing.app();
  if (oldest) KubernetesVersion.setOldest(app, oldest);
  return app;
}

function service(oldest: KubernetesVersion | undefined, props: Partial<PythonServiceProps> = {}) {
  const chart = new Chart(appOn(oldest), 'shop', { namespace: 'shop' });
  const web = new PythonService(chart, 'shop', { image: IMAGE, server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }), ...props });
  return { chart, web };
}

describe('KubernetesVersion', () => {
  test.each([
    ['1.33', 33], ['v1.33', 33], ['1.33.2', 33], ['v1.37.0', 37], [' 1.28 ', 28],
  ])('reads %j as 1.%d', (text, minor) => {
    expect(KubernetesVersion.of(text).minor).toBe(minor);
    expect(KubernetesVersion.of(text).version).toBe(`1.${minor}`);
  });

  test.each(['1.27', '2.0', '1', '', '1.x', 'latest'])('refuses %j, naming the value and the rule', (text) => {
    expect(() => KubernetesVersion.of(text)).toThrow(`KubernetesVersion: version ${JSON.stringify(text)} must be a Kubernetes minor version such as "1.33", 1.28 or later`);
  });

  test('the oldest version defaults to 1.30, and is read from the nearest scope that sets it', () => {
    const app = Testing.app();
    expect(KubernetesVersion.oldestOf(app).version).toBe('1.30');
    const chart = new Chart(app, 'c');
    KubernetesVersion.setOldest(chart, KubernetesVersion.V1_35);
    expect(KubernetesVersion.oldestOf(new Chart(chart, 'inner')).version).toBe('1.35');
    expect(KubernetesVersion.oldestOf(new Chart(app, 'other')).version).toBe('1.30');
  });

  test('setOldest writes the context a cdk8s app can also set itself', () => {
    const app = Testing.app();
    KubernetesVersion.setOldest(app, KubernetesVersion.V1_33);
    expect(app.node.tryGetContext(CONTEXT)).toBe('1.33');
    const byHand = Testing.app();
    byHand.node.setContext(CONTEXT, '1.34');
    expect(KubernetesVersion.oldestOf(new Chart(byHand, 'c')).version).toBe('1.34');
  });

  test('setOldest must come before the scope has constructs (cdk8s context cannot change later)', () => {
    const app = Testing.app();
    new Chart(app, 'c');
    expect(() => KubernetesVersion.setOldest(app, KubernetesVersion.V1_33)).toThrow(
      'KubernetesVersion.setOldest: "the app" already has constructs; state the oldest Kubernetes version before adding charts or services');
  });

  test('a context value that is not a version text is an error naming the key', () => {
    const app = Testing.app();
    app.node.setContext(CONTEXT, 1.33);
    expect(() => KubernetesVersion.oldestOf(app)).toThrow(`KubernetesVersion: context "${CONTEXT}" 1.33 must be a string such as "1.33"`);
  });
});

/** Each opt-in field: the version it needs, how to set it, and where it lands in the output. */
const GATED: Array<{ prop: string; needs: KubernetesVersion; props: Partial<PythonServiceProps>; rendered: (m: ReturnType<typeof synth>) => unknown; expected: unknown }> = [
  {
    prop: 'hostUsers',
    needs: KubernetesVersion.V1_33,
    props: { hostUsers: false },
    rendered: (m) => podTemplateOf(only(m, 'Deployment'))!.spec.hostUsers,
    expected: false,
  },
  {
    prop: 'resizePolicy',
    needs: KubernetesVersion.V1_33,
    props: { resizePolicy: {} },
    rendered: (m) => appContainer(only(m, 'Deployment')).resizePolicy,
    expected: [{ resourceName: 'cpu', restartPolicy: 'NotRequired' }, { resourceName: 'memory', restartPolicy: 'RestartContainer' }],
  },
  {
    prop: 'trafficDistribution',
    needs: KubernetesVersion.V1_31,
    props: { trafficDistribution: TrafficDistribution.PREFER_CLOSE },
    rendered: (m) => only(m, 'Service').spec.trafficDistribution,
    expected: 'PreferClose',
  },
  {
    prop: 'trafficDistribution',
    needs: KubernetesVersion.V1_34,
    props: { trafficDistribution: TrafficDistribution.PREFER_SAME_ZONE },
    rendered: (m) => only(m, 'Service').spec.trafficDistribution,
    expected: 'PreferSameZone',
  },
  {
    prop: 'trafficDistribution',
    needs: KubernetesVersion.V1_34,
    props: { trafficDistribution: TrafficDistribution.PREFER_SAME_NODE },
    rendered: (m) => only(m, 'Service').spec.trafficDistribution,
    expected: 'PreferSameNode',
  },
  {
    prop: 'autoscaling.scaleUpTolerance',
    needs: KubernetesVersion.V1_35,
    props: { autoscaling: { minReplicas: 2, maxReplicas: 20, scaleUpTolerance: 0.05 } },
    rendered: (m) => only(m, 'HorizontalPodAutoscaler').spec.behavior.scaleUp.tolerance,
    expected: '50m',
  },
  {
    prop: 'autoscaling.scaleDownTolerance',
    needs: KubernetesVersion.V1_35,
    props: { autoscaling: { minReplicas: 2, maxReplicas: 20, scaleDownTolerance: 0.2 } },
    rendered: (m) => only(m, 'HorizontalPodAutoscaler').spec.behavior.scaleDown.tolerance,
    expected: '200m',
  },
];

const previous = (version: KubernetesVersion) => KubernetesVersion.of(`1.${version.minor - 1}`);

describe.each(GATED.map((g) => [`${g.prop} ${JSON.stringify(g.expected)}`, g] as const))('the opt-in %s', (_name, g) => {
  test(`renders on an app whose oldest Kubernetes is ${g.needs}, valid against the 1.35 schema`, () => {
    const manifests = synth(service(g.needs, g.props).chart);
    expect(g.rendered(manifests)).toEqual(g.expected);
    expectStrictlyValid(manifests, ['1.35']);
  });

  test(`is an error on an app that may run ${previous(g.needs)}, naming the prop, both versions and the fix`, () => {
    const before = previous(g.needs);
    expect(() => service(before, g.props)).toThrow(new RegExp(
      `^PythonService 'shop': ${g.prop.replace('.', '\\.')} .* needs Kubernetes ${g.needs.version.replace('.', '\\.')} \\(.*\\), but this app's oldest Kubernetes version is `
      + `${before.version.replace('.', '\\.')}, .*KubernetesVersion\\.setOldest\\(app, KubernetesVersion\\.V1_${g.needs.minor}\\).*or leave ${g.prop.replace('.', '\\.')} unset$`));
  });

  test('is an error on the default oldest version, 1.30', () => {
    expect(() => service(undefined, g.props)).toThrow(/needs Kubernetes 1\.3[1-5] .*oldest Kubernetes version is 1\.30/);
  });
});

// hostUsers and resizePolicy are in the 1.28 schema behind feature gates that are off there: the
// API server drops them (the 1.30 control-plane tier shows it), which no schema can tell.
test('the strict 1.28 schema refuses the opt-in fields it does not have at all', () => {
  const manifests = synth(service(KubernetesVersion.V1_35, {
    hostUsers: false,
    resizePolicy: {},
    trafficDistribution: TrafficDistribution.PREFER_SAME_ZONE,
    autoscaling: { minReplicas: 2, maxReplicas: 4, scaleUpTolerance: 0.05 },
  }).chart);
  const problems = strictProblems(manifests, ['1.28']).join('\n');
  for (const field of ['(trafficDistribution)', '(tolerance)']) expect(problems).toContain(field);
});

describe('resizePolicy', () => {
  test('each resource can be set; the default restarts on memory only', () => {
    const m = synth(service(KubernetesVersion.V1_33, { resizePolicy: { memory: ResizeRestartPolicy.NOT_REQUIRED } }).chart);
    expect(appContainer(only(m, 'Deployment')).resizePolicy).toEqual([
      { resourceName: 'cpu', restartPolicy: 'NotRequired' }, { resourceName: 'memory', restartPolicy: 'NotRequired' },
    ]);
  });

  test('reaches the workers\' containers, not the Jobs\' (restartPolicy Never refuses RestartContainer) nor the sidecars\'', () => {
    const { chart, web } = service(KubernetesVersion.V1_33, { resizePolicy: { cpu: ResizeRestartPolicy.RESTART_CONTAINER }, migrations: { command: ['python', 'manage.py', 'migrate'] } });
    web.addWorker('worker', { process: WorkerProcess.celery({ app: 'shop' }) });
    web.addCronJob('report', { schedule: '0 3 * * *', command: ['python', '-m', 'shop.report'] });
    web.addSidecar('proxy', { image: 'ghcr.io/acme/proxy:1.0' });
    const m = synth(chart);
    const expected = [{ resourceName: 'cpu', restartPolicy: 'RestartContainer' }, { resourceName: 'memory', restartPolicy: 'RestartContainer' }];
    for (const d of allOf(m, 'Deployment')) expect({ d: d.metadata.name, policy: appContainer(d).resizePolicy }).toEqual({ d: d.metadata.name, policy: expected });
    expect(podTemplateOf(only(m, 'Deployment', 'shop'))!.spec.initContainers[0].resizePolicy).toBeUndefined();
    for (const kind of ['Job', 'CronJob']) expect(appContainer(only(m, kind)).resizePolicy).toBeUndefined();
    expectStrictlyValid(m, ['1.35']);
  });

  test.each([
    [{ cpu: 'Never' }, 'resizePolicy.cpu "Never" must be one of NotRequired, RestartContainer'],
    [{ memory: 'restart' }, 'resizePolicy.memory "restart" must be one of NotRequired, RestartContainer'],
    ['always', 'resizePolicy "always" must be an object such as { cpu: ResizeRestartPolicy.NOT_REQUIRED }'],
  ])('refuses %j', (policy, message) => {
    expect(() => service(KubernetesVersion.V1_33, { resizePolicy: policy as any })).toThrow(`PythonService 'shop': ${message}`);
  });

  test('a component of a service takes it from the service', () => {
    const { web } = service(KubernetesVersion.V1_33);
    expect(() => web.addWorker('worker', { process: WorkerProcess.celery({ app: 'shop' }), resizePolicy: {} } as any)).toThrow(
      "PythonService 'shop' PythonWorker 'worker': resizePolicy {} comes from the service; set it there");
  });
});

describe('hostUsers', () => {
  test('false reaches every pod of the service and a standalone worker\'s; true renders nothing', () => {
    const { chart, web } = service(KubernetesVersion.V1_33, { hostUsers: false, migrations: { command: ['python', 'manage.py', 'migrate'] } });
    web.addWorker('worker', { process: WorkerProcess.celery({ app: 'shop' }) });
    web.addCronJob('report', { schedule: '0 3 * * *', command: ['python', '-m', 'shop.report'] });
    new PythonWorker(chart, 'indexer', { image: IMAGE, hostUsers: false, process: WorkerProcess.dramatiq({ module: 'shop.tasks' }) });
    const m = synth(chart);
    const pods = m.filter((x) => podTemplateOf(x) !== undefined);
    expect(pods.length).toBe(5);
    for (const p of pods) expect({ what: `${p.kind}/${p.metadata.name}`, hostUsers: podTemplateOf(p)!.spec.hostUsers }).toEqual({ what: `${p.kind}/${p.metadata.name}`, hostUsers: false });
    expect(podTemplateOf(only(synth(service(undefined, { hostUsers: true }).chart), 'Deployment'))!.spec.hostUsers).toBeUndefined();
  });

  test('refuses a value that is not a boolean', () => {
    expect(() => service(KubernetesVersion.V1_33, { hostUsers: 'false' as any })).toThrow("PythonService 'shop': hostUsers \"false\" must be true or false");
  });

  test('a standalone worker on an app that may run 1.32 is refused', () => {
    const chart = new Chart(appOn(KubernetesVersion.V1_32), 'c', { namespace: 'jobs' });
    expect(() => new PythonWorker(chart, 'indexer', { image: IMAGE, hostUsers: false, process: WorkerProcess.dramatiq({ module: 'shop.tasks' }) })).toThrow(
      /^PythonWorker 'indexer': hostUsers false needs Kubernetes 1\.33 .*oldest Kubernetes version is 1\.32/);
  });
});

describe('autoscaler tolerances', () => {
  test.each([[0, '0'], [0.001, '1m'], [0.05, '50m'], [0.5, '500m'], [0.999, '999m']])('%d is the quantity %j', (fraction, quantity) => {
    const m = synth(service(KubernetesVersion.V1_35, { autoscaling: { minReplicas: 1, maxReplicas: 3, scaleUpTolerance: fraction, scaleDownTolerance: fraction } }).chart);
    const behavior = only(m, 'HorizontalPodAutoscaler').spec.behavior;
    expect([behavior.scaleUp.tolerance, behavior.scaleDown.tolerance]).toEqual([quantity, quantity]);
  });

  test('sit beside the scale-up and scale-down policies the service renders', () => {
    const m = synth(service(KubernetesVersion.V1_35, { autoscaling: { minReplicas: 1, maxReplicas: 3, scaleUpPodsPerMinute: 4, scaleUpTolerance: 0.02 } }).chart);
    const scaleUp = only(m, 'HorizontalPodAutoscaler').spec.behavior.scaleUp;
    expect(scaleUp).toEqual({ policies: [{ periodSeconds: 60, type: 'Pods', value: 4 }], selectPolicy: 'Max', stabilizationWindowSeconds: 0, tolerance: '20m' });
  });

  test.each([1, -0.1, 0.0005, Number.NaN, '0.1'])('refuses %j', (fraction) => {
    expect(() => service(KubernetesVersion.V1_35, { autoscaling: { minReplicas: 1, maxReplicas: 3, scaleUpTolerance: fraction as any } })).toThrow(
      /^PythonService 'shop': autoscaling\.scaleUpTolerance .* must be a fraction of the target from 0 to below 1 in thousandths, such as 0\.05 for 5 %$/);
  });

  test('a worker\'s autoscaler takes them too', () => {
    const chart = new Chart(appOn(KubernetesVersion.V1_35), 'c', { namespace: 'jobs' });
    new PythonWorker(chart, 'indexer', {
      image: IMAGE, process: WorkerProcess.dramatiq({ module: 'shop.tasks' }), autoscaling: { minReplicas: 1, maxReplicas: 4, scaleDownTolerance: 0.15 },
    });
    expect(only(synth(chart), 'HorizontalPodAutoscaler').spec.behavior.scaleDown.tolerance).toBe('150m');
  });
});

describe('defaults that move with the oldest version', () => {
  test('before 1.30 the preStop pause runs Python (no sleep action), and an explicit sleep action is an error', () => {
    const pre = (m: ReturnType<typeof synth>) => appContainer(only(m, 'Deployment')).lifecycle.preStop;
    expect(pre(synth(service(KubernetesVersion.V1_29).chart))).toEqual({ exec: { command: ['python', '-c', 'import time; time.sleep(5)'] } });
    expect(pre(synth(service(KubernetesVersion.V1_30).chart))).toEqual({ sleep: { seconds: 5 } });
    expect(() => service(KubernetesVersion.V1_29, { shutdown: { preStopMethod: PreStopMethod.SLEEP_ACTION } })).toThrow(
      /^PythonService 'shop': shutdown\.preStopMethod "sleep-action" needs Kubernetes 1\.30 .*oldest Kubernetes version is 1\.29/);
  });

  test('before 1.30 the ValidatingAdmissionPolicy objects are v1beta1, and an explicit v1 is an error', () => {
    const security = { allowedImages: ['ghcr.io/acme/'] };
    const versions = (oldest: KubernetesVersion) => [...new Set(synth(service(oldest, { security }).chart)
      .filter((m) => m.kind.startsWith('ValidatingAdmissionPolicy')).map((m) => m.apiVersion))];
    expect(versions(KubernetesVersion.V1_29)).toEqual(['admissionregistration.k8s.io/v1beta1']);
    expect(versions(KubernetesVersion.V1_30)).toEqual(['admissionregistration.k8s.io/v1']);
    expect(() => service(KubernetesVersion.V1_28, { security: { ...security, admissionApiVersion: 'v1' as any } })).toThrow(
      /admissionApiVersion "v1" needs Kubernetes 1\.30 .*oldest Kubernetes version is 1\.28/);
    // Kyverno's policies do not depend on the API server's version.
    expect(() => service(KubernetesVersion.V1_28, { security: { ...security, admissionEngine: AdmissionEngine.KYVERNO } })).not.toThrow();
  });

  test('native sidecars need 1.29', () => {
    expect(() => service(KubernetesVersion.V1_28).web.addSidecar('proxy', { image: 'ghcr.io/acme/proxy:1.0' })).toThrow(
      /^PythonService 'shop': sidecars\.proxy "ghcr\.io\/acme\/proxy:1\.0" needs Kubernetes 1\.29 .*oldest Kubernetes version is 1\.28/);
    expect(() => service(KubernetesVersion.V1_29).web.addSidecar('proxy', { image: 'ghcr.io/acme/proxy:1.0' })).not.toThrow();
  });

  test('the default output is the same whether the oldest version is unset or 1.30', () => {
    expect(synth(service(KubernetesVersion.V1_30).chart)).toEqual(synth(service(undefined).chart));
  });
});
