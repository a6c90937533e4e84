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

describe('scaling on more than CPU, at a pace that suits Python servers', () => {
  test('per-pod metrics (requests per second from a Prometheus adapter) and external metrics, without the default CPU target', () => {
    const hpa = only(build({
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 20,
        podMetrics: [{ name: 'http_requests_per_second', averageValue: 20 }],
        externalMetrics: [{ name: 'sqs_messages_visible', averageValue: 30, selector: { queue: 'orders' } }, { name: 'lb_requests', value: 1000 }],
      },
    }), 'HorizontalPodAutoscaler');
    expect(hpa.spec.metrics).toEqual([
      { type: 'Pods', pods: { metric: { name: 'http_requests_per_second' }, target: { type: 'AverageValue', averageValue: 20 } } },
      { type: 'External', external: { metric: { name: 'sqs_messages_visible', selector: { matchLabels: { queue: 'orders' } } }, target: { type: 'AverageValue', averageValue: 30 } } },
      { type: 'External', external: { metric: { name: 'lb_requests' }, target: { type: 'Value', value: 1000 } } },
    ]);
  });

  test('CPU stays beside other metrics when asked for', () => {
    const hpa = only(build({ autoscaling: { minReplicas: 2, maxReplicas: 4, targetCpuUtilization: 60, podMetrics: [{ name: 'inflight', averageValue: 8 }] } }), 'HorizontalPodAutoscaler');
    expect(hpa.spec.metrics.map((m: any) => m.type)).toEqual(['Resource', 'Pods']);
  });

  test('scale-down and scale-up pace', () => {
    const hpa = only(build({ autoscaling: { minReplicas: 2, maxReplicas: 30, scaleDownPodsPerMinute: 3, scaleUpPodsPerMinute: 10 } }), 'HorizontalPodAutoscaler');
    expect(hpa.spec.behavior.scaleDown.policies).toEqual([{ type: 'Pods', value: 3, periodSeconds: 60 }]);
    expect(hpa.spec.behavior.scaleUp).toMatchObject({ selectPolicy: 'Max', policies: [{ type: 'Pods', value: 10, periodSeconds: 60 }] });
    // By default scale-up is fast (a Python server is slow to start): 4 pods or 200 % a minute, whichever is more, at once.
    expect(only(build({ autoscaling: { minReplicas: 2, maxReplicas: 4 } }), 'HorizontalPodAutoscaler').spec.behavior.scaleUp).toEqual({
      selectPolicy: 'Max', stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }, { type: 'Percent', value: 200, periodSeconds: 60 }],
    });
  });

  test('is strictly valid against the Kubernetes schema', () => {
    expectStrictlyValid(build({ autoscaling: { minReplicas: 2, maxReplicas: 20, podMetrics: [{ name: 'rps', averageValue: 20, selector: { route: 'api' } }], externalMetrics: [{ name: 'q', value: 5 }], scaleUpPodsPerMinute: 4 } }));
  });

  test.each([
    ['an empty metric list', { podMetrics: [] }, 'autoscaling.podMetrics [] must list at least one metric'],
    ['a metric name with spaces', { podMetrics: [{ name: 'requests per second', averageValue: 1 }] }, 'autoscaling.podMetrics[0].name "requests per second" must be a metric name'],
    ['a zero target', { podMetrics: [{ name: 'rps', averageValue: 0 }] }, 'autoscaling.podMetrics[0].averageValue 0 must be a positive number'],
    ['an external metric with both targets', { externalMetrics: [{ name: 'q', value: 5, averageValue: 1 }] }, 'autoscaling.externalMetrics[0] "q" needs exactly one of averageValue (per pod) and value'],
    ['a fractional pace', { scaleDownPodsPerMinute: 1.5 }, 'autoscaling.scaleDownPodsPerMinute 1.5'],
  ])('%s is an error naming the prop', (_what, extra, message) => {
    expect(() => build({ autoscaling: Object.assign({ minReplicas: 1, maxReplicas: 3 }, extra) as any })).toThrow(message);
  });
});
