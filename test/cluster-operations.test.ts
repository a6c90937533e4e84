import { spawn } from 'child_process';
import { Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { PythonServer, PythonService, WorkerProcess } from '../src';
import { Cluster } from './support/cluster';
import { Prometheus, PROMETHEUS_SELECTOR, startMetricsServer, startPrometheus } from './support/cluster-operations';
import { FIXTURE_IMAGES, fixtureImageSource, REGISTRY } from './support/fixture-images';
import { buildImage } from './support/image-build';
import { Manifest, synth } from './support/manifests';

// The article's operations on a real cluster (test/support/cluster.ts with the add-ons of
// test/support/cluster-operations.ts): the autoscaler scales on the CPU metrics-server measures,
// and Prometheus, configured by prometheus-operator from the library's ServiceMonitors and
// PrometheusRules, scrapes the pods and fires the library's alerts.
// The apps are the library's output, applied as a pipeline would; nothing in them is changed.

let cluster: Cluster;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The autoscaled service's bounds and pace, shortened for the test where the props allow it. */
const SCALING = { min: 1, max: 4, stabilizationSeconds: 30 };

/** The alerts' pending period, shortened (a prop) so that the target-down alert fires within a minute. */
const PENDING_SECONDS = 20;

/**
 * `api` (Django on gunicorn) in `ops`, secured, autoscaled from 1 to 4 pods at 50 % of a 100m CPU
 * request (4 pods fit the node's 2 cores), scaling down after 30 s of lower load, 4 pods a minute;
 * and `web`, the same app on 2 fixed replicas. Both are monitored with alerts, selected by the
 * Prometheus as kube-prometheus-stack's. api's `load` worker is where the test's requests come
 * from: a pod the policies admit.
 */
function apps(): Manifest[] {
  const chart = new Chart(Testing.app(), 'ops', { namespace: 'ops' });
  const resources = { cpu: kplus.Cpu.millis(100), memory: Size.mebibytes(384) };
  const django = {
    image: FIXTURE_IMAGES.django,
    server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
    resources,
    env: { DJANGO_SETTINGS_MODULE: 'shop.settings' },
    // The app has no /metrics view: gunicorn's arbiter serves every worker's metrics on a port of their own.
    // Scraped every 10 s rather than 30 (a prop), so that the checks wait less.
    monitoring: { port: 9100, interval: Duration.seconds(10), alerts: true, labels: PROMETHEUS_SELECTOR, alertOptions: { pendingPeriod: Duration.seconds(PENDING_SECONDS) } },
    security: { allowedImages: [`${REGISTRY}/shop/`] },
  };
  const web = new PythonService(chart, 'web', { ...django, replicas: 2 });
  const api = new PythonService(chart, 'api', {
    ...django,
    autoscaling: {
      minReplicas: SCALING.min,
      maxReplicas: SCALING.max,
      targetCpuUtilization: 50,
      scaleDownStabilization: Duration.seconds(SCALING.stabilizationSeconds),
      scaleDownPodsPerMinute: SCALING.max,
    },
  });
  const load = api.addWorker('load', {
    process: WorkerProcess.command(['python', '-c', 'import signal, time; signal.signal(signal.SIGTERM, lambda *_: exit(0)); time.sleep(10**9)']),
    replicas: 1,
    resources: { cpu: kplus.Cpu.millis(50), memory: Size.mebibytes(192) },
  });
  load.connectTo(api);
  load.connectTo(web);
  return synth(chart);
}

let manifests: Manifest[];

beforeAll(async () => {
  cluster = await Cluster.start([REGISTRY]);
  cluster.node.pushImages([buildImage(fixtureImageSource('django')).tag]);
  await startMetricsServer(cluster);
  manifests = apps();
  cluster.plane.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ops', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } }]);
  cluster.plane.kubectlOk(['apply', '--server-side', '--field-manager=pipeline', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests }) });
  await cluster.readyPods('ops', 'app.kubernetes.io/instance=api,app.kubernetes.io/component=server', SCALING.min);
  await cluster.readyPods('ops', 'app.kubernetes.io/instance=web,app.kubernetes.io/component=server', 2);
}, 1_200_000);

afterAll(() => cluster?.stop());

/**
 * Sends GETs from `concurrency` threads, a new connection each and `pause` seconds apart, until
 * stdin closes or `seconds` pass (whichever is first); prints which pod answered each, or the error.
 */
const LOAD = `
import json, sys, threading, time, urllib.request
url, host, concurrency, seconds, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
started = time.monotonic()
deadline = started + seconds
answers, lock = [], threading.Lock()
def send():
    while not done.is_set() and time.monotonic() < deadline:
        sent = time.monotonic()
        try:
            request = urllib.request.Request(url, headers={"Host": host, "Connection": "close"})
            with urllib.request.urlopen(request, timeout=20) as response:
                answer = json.loads(response.read())["pod"]
        except Exception as e:
            answer = "error: %s after %.1f s, at %.1f s" % (repr(e), time.monotonic() - sent, sent - started)
        with lock:
            answers.append(answer)
        done.wait(pause)
threads = [threading.Thread(target=send) for _ in range(concurrency)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(answers))
`;

/** A load from the `load` worker's pod through a Service; `stop` ends it and returns the answers. */
async function startLoad(urlPath: string, load: { concurrency: number; pauseSeconds: number; maxSeconds: number }, service = 'api'): Promise<{ stop: () => Promise<string[]> }> {
  const from = (await cluster.readyPods('ops', 'app.kubernetes.io/instance=api,app.kubernetes.io/component=load', 1))[0];
  const port = manifests.find((m) => m.kind === 'Service' && m.metadata.name === service)!.spec.ports[0].port;
  const [command, args] = cluster.inPodCommand(from, LOAD, [`http://${service}:${port}${urlPath}`, `${service}.ops.svc`, String(load.concurrency), String(load.maxSeconds), String(load.pauseSeconds)]);
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => out += c);
  child.stderr.on('data', (c) => err += c);
  const finished = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    stop: async () => {
      child.stdin.end();
      await finished;
      try {
        return JSON.parse(out);
      } catch {
        throw new Error(`the load generator failed: ${err || out}`);
      }
    },
  };
}

/** The autoscaler's current and desired replicas, and its conditions' reasons. */
async function autoscaler(): Promise<{ current: number; desired: number; reasons: string[] }> {
  const name = manifests.find((m) => m.kind === 'HorizontalPodAutoscaler')!.metadata.name;
  const hpa = (await cluster.plane.api('GET', `/apis/autoscaling/v2/namespaces/ops/horizontalpodautoscalers/${name}`)).body;
  return {
    current: hpa.status?.currentReplicas ?? 0,
    desired: hpa.status?.desiredReplicas ?? 0,
    reasons: (hpa.status?.conditions ?? []).map((c: any) => `${c.type}=${c.status} (${c.reason})`),
  };
}

describe('the autoscaler scales on the CPU metrics-server measures', () => {
  test('under CPU load through the Service it scales from its minimum to its maximum, then back after the stabilization window; no request fails meanwhile', async () => {
    const hpa = manifests.find((m) => m.kind === 'HorizontalPodAutoscaler')!;
    expect(hpa.spec).toMatchObject({ minReplicas: SCALING.min, maxReplicas: SCALING.max });
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(SCALING.stabilizationSeconds);
    await cluster.plane.waitFor('the autoscaler to read the pods\' CPU', async () => (await autoscaler()).reasons.includes('ScalingActive=True (ValidMetricFound)'), 120_000)
      .catch(async (e) => {
        throw new Error(`${e.message}\nautoscaler: ${JSON.stringify(await autoscaler())}`);
      });

    // Up: CPU work (40 ms of CPU a request) from 4 threads, at most 4 minutes, until the maximum runs.
    const heavy = await startLoad('/burn?ms=40', { concurrency: 4, pauseSeconds: 0, maxSeconds: 240 });
    let upAnswers: string[];
    try {
      await cluster.readyPods('ops', 'app.kubernetes.io/instance=api,app.kubernetes.io/component=server', SCALING.max, 230_000);
      // The autoscaler's status catches up at its next sync (every 15 s).
      await cluster.plane.waitFor(`the autoscaler to report ${SCALING.max} replicas`, async () => (await autoscaler()).current === SCALING.max, 60_000);
      await sleep(5_000);
    } finally {
      upAnswers = await heavy.stop();
    }
    const scaledUp = await autoscaler();
    expect(scaledUp.current).toBe(SCALING.max);
    expect(upAnswers.filter((a) => a.startsWith('error'))).toEqual([]);
    // The added pods served: the Service spread the load to more than the first pod.
    expect(new Set(upAnswers).size).toBeGreaterThan(1);

    // Down: a light load (5 cheap requests a second: about a tenth of one pod's target) while the autoscaler removes pods.
    const light = await startLoad('/pid', { concurrency: 1, pauseSeconds: 0.2, maxSeconds: 240 });
    let downAnswers: string[];
    const loadDropped = Date.now();
    let firstScaleDown = 0;
    try {
      await cluster.plane.waitFor(`the autoscaler to scale back to ${SCALING.min}`, async () => {
        const { current } = await autoscaler();
        if (current < SCALING.max && !firstScaleDown) firstScaleDown = Date.now();
        return current === SCALING.min && (await cluster.pods('ops', 'app.kubernetes.io/instance=api,app.kubernetes.io/component=server')).length === SCALING.min;
      }, 230_000);
      await sleep(5_000);
    } finally {
      downAnswers = await light.stop();
    }
    expect(downAnswers.filter((a) => a.startsWith('error'))).toEqual([]);
    expect(downAnswers.length).toBeGreaterThan(50);
    // Not before the window: every recommendation in it was the maximum until the load dropped.
    expect((firstScaleDown - loadDropped) / 1000).toBeGreaterThanOrEqual(SCALING.stabilizationSeconds - 20);
  }, 900_000);
});

describe('Prometheus, configured by prometheus-operator from the library\'s objects, scrapes and alerts', () => {
  let prometheus: Prometheus;
  const webPods = 'app.kubernetes.io/instance=web,app.kubernetes.io/component=server';
  const rules = () => manifests.filter((m) => m.kind === 'PrometheusRule').flatMap((m) => m.spec.groups.flatMap((g: any) => g.rules));

  beforeAll(async () => {
    prometheus = await startPrometheus(cluster, { evaluationInterval: '5s' });
    // Requests, so that the request metrics the rules read have series.
    const some = await startLoad('/pid', { concurrency: 1, pauseSeconds: 0.1, maxSeconds: 10 }, 'web');
    await sleep(5_000);
    expect((await some.stop()).filter((a) => a.startsWith('error'))).toEqual([]);
  }, 600_000);

  /** Waits until Prometheus has scraped every ready pod of web. */
  async function scrapedPods(count: number): Promise<Array<{ metric: { [label: string]: string }; value: [number, string] }>> {
    let up: Array<{ metric: { [label: string]: string }; value: [number, string] }> = [];
    await cluster.plane.waitFor(`Prometheus to scrape ${count} pods of web`, () => {
      up = prometheus.query('up{namespace="ops",service="web"}');
      return up.length === count && up.every((s) => s.value[1] === '1');
    }, 180_000).catch((e) => {
      throw new Error(`${e.message}\ntargets: ${JSON.stringify(prometheus.api('/api/v1/targets').activeTargets.map((t: any) => [t.scrapeUrl, t.health, t.lastError]))}`);
    });
    return up;
  }

  test('every pod is a target that is up, with the namespace, service and pod labels the rules assume', async () => {
    const up = await scrapedPods(2);
    const pods = (await cluster.pods('ops', webPods)).map((p) => p.metadata.name).sort();
    expect(up.map((s) => s.metric.pod).sort()).toEqual(pods);
    for (const series of up) expect(series.metric).toMatchObject({ namespace: 'ops', service: 'web', job: 'web' });
  }, 300_000);

  test('every rule loads, and every series a rule reads is exposed by some target, except kube-state-metrics\' (not on this cluster)', async () => {
    await scrapedPods(2);
    const expected = rules().map((r) => r.alert).sort();
    let loaded: any[] = [];
    await cluster.plane.waitFor('the rules to load and be evaluated', () => {
      loaded = prometheus.api('/api/v1/rules').groups.flatMap((g: any) => g.rules);
      return loaded.length === expected.length && loaded.every((r) => r.lastEvaluation && !r.lastEvaluation.startsWith('0001'));
    }, 120_000);
    expect(loaded.map((r) => r.name).sort()).toEqual(expected);
    expect(loaded.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    const read = new Set(rules().flatMap((r) => [...String(r.expr).matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1])));
    const missing = [...read].filter((name) => prometheus.query(`count(${name}{namespace="ops"})`).length === 0).sort();
    // kube-state-metrics's series (restarts, the autoscaler's replicas): promtool's rule tests cover them.
    expect(missing).toEqual(['kube_horizontalpodautoscaler_spec_max_replicas', 'kube_horizontalpodautoscaler_status_current_replicas', 'kube_pod_container_status_restarts_total']);
    const requests = prometheus.query('http_requests_total{namespace="ops",service="web"}');
    expect(requests.length).toBeGreaterThan(0);
    for (const series of requests) expect(Object.keys(series.metric)).toEqual(expect.arrayContaining(['namespace', 'service', 'pod', 'status']));
  }, 300_000);

  test('the target-down alert fires when the pods are gone and resolves when they are back', async () => {
    await scrapedPods(2);
    const alert = rules().find((r) => r.alert === 'WebTargetDown')!;
    expect(alert.for).toBe(`${PENDING_SECONDS}s`);
    const state = () => prometheus.api('/api/v1/alerts').alerts.filter((a: any) => a.labels.alertname === 'WebTargetDown').map((a: any) => a.state);
    expect(state()).toEqual([]);
    const scale = (replicas: number) => cluster.plane.api('PATCH', '/apis/apps/v1/namespaces/ops/deployments/web/scale', { spec: { replicas } }, { contentType: 'application/merge-patch+json' });
    await scale(0);
    await cluster.plane.waitFor('WebTargetDown to fire', () => state().includes('firing'), 240_000);
    await scale(2);
    await cluster.readyPods('ops', webPods, 2);
    await cluster.plane.waitFor('WebTargetDown to resolve', () => state().length === 0, 240_000);
    await scrapedPods(2);
  }, 600_000);
});
