import { Chart, Duration, Testing } from 'cdk8s';
import { PythonService, PythonServiceProps, ServiceDisruptionBudget } from '../src';
import { allOf, crossObjectProblems, expectStrictlyValid, Manifest, only, podTemplateOf, synth } from './support/manifests';

const IMAGE = 'ghcr.io/acme/shop-api:1.4.2';

function build(props: Partial<PythonServiceProps> = {}): Manifest[] {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new PythonService(chart, 'api', { image: IMAGE, ...props });
  return synth(chart);
}

describe('autoscaling', () => {
  const manifests = build({ autoscaling: { minReplicas: 3, maxReplicas: 10 } });
  const hpa = only(manifests, 'HorizontalPodAutoscaler');

  test('an autoscaling/v2 HPA named <name>-hpa targets the Deployment, which omits replicas', () => {
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.metadata.name).toBe('api-hpa');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' });
    expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 10 });
    expect(only(manifests, 'Deployment').spec.replicas).toBeUndefined();
  });

  test('scales on 70% CPU by default', () => {
    expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
  });

  test('scales down slowly: a 5-minute window and one pod a minute', () => {
    expect(hpa.spec.behavior.scaleDown).toEqual({
      stabilizationWindowSeconds: 300, selectPolicy: 'Min', policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
    });
  });

  test('memory and explicit targets', () => {
    const custom = only(build({ autoscaling: { minReplicas: 1, maxReplicas: 4, targetCpuUtilization: 50, targetMemoryUtilization: 80, scaleDownStabilization: Duration.minutes(10) } }), 'HorizontalPodAutoscaler');
    expect(custom.spec.metrics.map((m: any) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([['cpu', 50], ['memory', 80]]);
    expect(custom.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(600);
  });

  test('only memory: no CPU metric is added', () => {
    const custom = only(build({ autoscaling: { minReplicas: 1, maxReplicas: 4, targetMemoryUtilization: 80 } }), 'HorizontalPodAutoscaler');
    expect(custom.spec.metrics.map((m: any) => m.resource.name)).toEqual(['memory']);
  });

  test('is strictly valid and consistent', () => {
    expectStrictlyValid(manifests);
    expect(crossObjectProblems(manifests)).toEqual([]);
  });
});

describe('PodDisruptionBudget', () => {
  test('with more than one replica: policy/v1, maxUnavailable 1, selecting the service pods', () => {
    const pdb = only(build(), 'PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.metadata.name).toBe('api-pdb');
    expect(pdb.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'api', 'app.kubernetes.io/instance': 'api', 'app.kubernetes.io/component': 'server' } },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
  });

  test('maxUnavailable is configurable', () => {
    expect(only(build({ replicas: 6, disruptionBudget: { maxUnavailable: 2 } }), 'PodDisruptionBudget').spec.maxUnavailable).toBe(2);
  });

  test('a single replica gets none (it would block drains or protect nothing)', () => {
    expect(allOf(build({ replicas: 1 }), 'PodDisruptionBudget')).toEqual([]);
  });

  test('an autoscaler that can reach more than one replica gets one, even from minReplicas 1', () => {
    expect(allOf(build({ autoscaling: { minReplicas: 1, maxReplicas: 3 } }), 'PodDisruptionBudget')).toHaveLength(1);
    expect(allOf(build({ autoscaling: { minReplicas: 1, maxReplicas: 1 } }), 'PodDisruptionBudget')).toHaveLength(0);
  });

  test('ServiceDisruptionBudget works alone', () => {
    const chart = Testing.chart();
    new ServiceDisruptionBudget(chart, 'pdb', { metadata: { name: 'web-pdb' }, podSelector: { app: 'web' }, maxUnavailable: 2 });
    const pdb = only(synth(chart), 'PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual({ app: 'web' });
    expectStrictlyValid([pdb]);
  });

  test('ServiceDisruptionBudget rejects an empty selector and a zero budget', () => {
    expect(() => new ServiceDisruptionBudget(Testing.chart(), 'pdb', { metadata: {}, podSelector: {} })).toThrow(/podSelector \{\} must not be empty/);
    expect(() => new ServiceDisruptionBudget(Testing.chart(), 'pdb', { metadata: {}, podSelector: { a: 'b' }, maxUnavailable: 0 })).toThrow(/ServiceDisruptionBudget 'pdb': maxUnavailable 0 must be a whole number from 1/);
  });
});

describe('topology spread', () => {
  test('spreads over zones and nodes with ScheduleAnyway and maxSkew 1 when more than one replica', () => {
    const spec = podTemplateOf(only(build(), 'Deployment'))!.spec;
    const selector = { matchLabels: { 'app.kubernetes.io/name': 'api', 'app.kubernetes.io/instance': 'api', 'app.kubernetes.io/component': 'server' } };
    expect(spec.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: selector },
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: selector },
    ]);
  });

  test('adds a soft anti-affinity per node selecting exactly the service pods (kube-score, kube-linter)', () => {
    expect(podTemplateOf(only(build(), 'Deployment'))!.spec.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'api', 'app.kubernetes.io/instance': 'api', 'app.kubernetes.io/component': 'server' } },
          },
        }],
      },
    });
  });

  test('a single replica has no spread constraints nor anti-affinity', () => {
    const spec = podTemplateOf(only(build({ replicas: 1 }), 'Deployment'))!.spec;
    expect(spec.topologySpreadConstraints).toBeUndefined();
    expect(spec.affinity).toBeUndefined();
  });
});

describe('rollout strategy', () => {
  test('never drops below capacity with many replicas or an autoscaler', () => {
    expect(only(build(), 'Deployment').spec.strategy.rollingUpdate).toEqual({ maxSurge: '25%', maxUnavailable: 0 });
    expect(only(build({ autoscaling: { minReplicas: 2, maxReplicas: 4 } }), 'Deployment').spec.strategy.rollingUpdate).toEqual({ maxSurge: '25%', maxUnavailable: 0 });
  });
});

describe('selectors when several services share a chart', () => {
  test('HPA, PDB, spread constraints and Services each pick exactly their own pods', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'api', { image: IMAGE, autoscaling: { minReplicas: 2, maxReplicas: 6 }, migrations: { command: ['migrate'] } });
    new PythonService(chart, 'web', { image: IMAGE, replicas: 4 });
    new PythonService(chart, 'admin', { image: IMAGE, replicas: 2, name: 'api-admin' });
    const manifests = synth(chart);
    expect(allOf(manifests, 'PodDisruptionBudget')).toHaveLength(3);
    expect(crossObjectProblems(manifests)).toEqual([]);
    expectStrictlyValid(manifests);
  });
});

describe('graceful shutdown adds up', () => {
  test('an explicit grace period that covers pause + graceful timeout is kept', () => {
    const spec = podTemplateOf(only(build({ shutdown: { terminationGracePeriod: Duration.seconds(60) } }), 'Deployment'))!.spec;
    expect(spec.terminationGracePeriodSeconds).toBe(60);
  });

  test('a grace period shorter than pause + graceful timeout is an error', () => {
    expect(() => build({ shutdown: { terminationGracePeriod: Duration.seconds(30) } }))
      .toThrow("PythonService 'api': shutdown.terminationGracePeriod (30 seconds) must be at least the preStop pause (5s) plus the server's graceful timeout (30s) = 35s");
  });
});

describe('bad scaling props', () => {
  const cases: Array<[string, Partial<PythonServiceProps>, RegExp]> = [
    ['minReplicas > maxReplicas', { autoscaling: { minReplicas: 5, maxReplicas: 3 } }, /autoscaling.minReplicas 5 must not exceed autoscaling.maxReplicas \(3\)/],
    ['minReplicas < 1', { autoscaling: { minReplicas: 0, maxReplicas: 3 } }, /autoscaling.minReplicas 0 must be a whole number from 1/],
    ['CPU utilization over 100', { autoscaling: { minReplicas: 1, maxReplicas: 3, targetCpuUtilization: 150 } }, /autoscaling.targetCpuUtilization 150 must be a whole number from 1 to 100/],
    ['memory utilization 0', { autoscaling: { minReplicas: 1, maxReplicas: 3, targetMemoryUtilization: 0 } }, /autoscaling.targetMemoryUtilization 0 must be a whole number from 1 to 100/],
    ['replicas with autoscaling', { replicas: 3, autoscaling: { minReplicas: 1, maxReplicas: 3 } }, /replicas 3 cannot be combined with autoscaling/],
    ['a budget for one replica', { replicas: 1, disruptionBudget: { maxUnavailable: 1 } }, /disruptionBudget .* needs more than one replica/],
    ['maxUnavailable 0', { disruptionBudget: { maxUnavailable: 0 } }, /PythonService 'api': disruptionBudget.maxUnavailable 0 must be a whole number from 1/],
    ['a stabilization window over an hour', { autoscaling: { minReplicas: 1, maxReplicas: 2, scaleDownStabilization: Duration.hours(2) } }, /scaleDownStabilization .* must be at most one hour/],
  ];
  test.each(cases)('%s', (_title, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
