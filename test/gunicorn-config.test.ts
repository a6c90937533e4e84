import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Size, Testing } from 'cdk8s';
import { PythonServer, PythonService, PythonServiceProps } from '../src';
import { appContainer, envOf, expectStrictlyValid, Manifest, only, podTemplateOf, synth } from './support/manifests';
import { renderGunicornConfig } from '../src/python/gunicorn-config';

/**
 * Runs the rendered configuration the way gunicorn does (as a Python file, then its hooks with
 * gunicorn's signatures: on_starting(server), when_ready(server), child_exit(server, worker)),
 * against a stand-in prometheus_client that records its calls, next to an app that has its own
 * gunicorn.conf.py.
 */
function runHooks(config: string, appConfig?: string): any {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gunicorn-conf-'));
  const stubs = path.join(dir, 'stubs', 'prometheus_client');
  fs.mkdirSync(stubs, { recursive: true });
  fs.writeFileSync(path.join(stubs, '__init__.py'), [
    'CALLS = []',
    'class CollectorRegistry:',
    '    pass',
    'def start_http_server(port, registry=None):',
    '    CALLS.append(("start_http_server", port, type(registry).__name__))',
  ].join('\n'));
  fs.writeFileSync(path.join(stubs, 'multiprocess.py'), [
    'from prometheus_client import CALLS',
    'class MultiProcessCollector:',
    '    def __init__(self, registry):',
    '        CALLS.append(("MultiProcessCollector", type(registry).__name__))',
    'def mark_process_dead(pid):',
    '    CALLS.append(("mark_process_dead", pid))',
  ].join('\n'));
  const otel = path.join(dir, 'stubs', 'opentelemetry', 'instrumentation', 'auto_instrumentation');
  fs.mkdirSync(otel, { recursive: true });
  for (const pkg of ['opentelemetry', 'opentelemetry/instrumentation']) fs.writeFileSync(path.join(dir, 'stubs', pkg, '__init__.py'), '');
  fs.writeFileSync(path.join(otel, '__init__.py'), 'from prometheus_client import CALLS\ndef initialize():\n    CALLS.append(("otel.initialize",))\n');
  const app = path.join(dir, 'app');
  const metricsDir = path.join(dir, 'metrics');
  fs.mkdirSync(app);
  fs.mkdirSync(metricsDir);
  fs.writeFileSync(path.join(metricsDir, 'counter_123.db'), 'stale');
  if (appConfig) fs.writeFileSync(path.join(app, 'gunicorn.conf.py'), appConfig);
  fs.writeFileSync(path.join(dir, 'gunicorn.conf.py'), config);
  const driver = `
import json, os, runpy, sys, types
sys.path.insert(0, ${JSON.stringify(path.join(dir, 'stubs'))})
import prometheus_client
config = runpy.run_path(${JSON.stringify(path.join(dir, 'gunicorn.conf.py'))})
server = types.SimpleNamespace(log=None)
config["on_starting"](server)
config["when_ready"](server)
config["child_exit"](server, types.SimpleNamespace(pid=4242))
config["post_fork"](server, types.SimpleNamespace(pid=4243))
print(json.dumps({
    "calls": prometheus_client.CALLS,
    "left": sorted(os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"])),
    "workers": config.get("workers"),
    "app_hooks": config.get("APP_HOOKS"),
}))
`;
  const out = execFileSync('python3', ['-c', driver], { cwd: app, env: { ...process.env, PROMETHEUS_MULTIPROC_DIR: metricsDir }, encoding: 'utf8' });
  return JSON.parse(out);
}

describe('the rendered gunicorn configuration', () => {
  test('is valid Python', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gunicorn-')), 'gunicorn.conf.py');
    fs.writeFileSync(file, renderGunicornConfig({ metricsPort: 9090 }));
    expect(() => execFileSync('python3', ['-m', 'py_compile', file], { stdio: 'pipe' })).not.toThrow();
  });

  test('clears stale files, serves the workers\' metrics from the arbiter on its own port, and marks dead workers', () => {
    const result = runHooks(renderGunicornConfig({ metricsPort: 9090 }));
    expect(result.left).toEqual([]);
    expect(result.calls).toEqual([
      ['MultiProcessCollector', 'CollectorRegistry'],
      ['start_http_server', 9090, 'CollectorRegistry'],
      ['mark_process_dead', 4242],
    ]);
  });

  test('starts OpenTelemetry in each worker after the fork when asked (the batch span processor is not fork-safe)', () => {
    expect(runHooks(renderGunicornConfig({ otelPostFork: true, multiprocess: false })).calls).toEqual([['otel.initialize']]);
  });

  test('with metrics on the app port, starts no server of its own', () => {
    expect(runHooks(renderGunicornConfig({})).calls).toEqual([['mark_process_dead', 4242]]);
  });

  test('keeps the app\'s own gunicorn.conf.py: its settings apply and its hooks run after ours', () => {
    const appConfig = [
      'workers = 7',
      'APP_HOOKS = []',
      'def on_starting(server):',
      '    APP_HOOKS.append("on_starting")',
      'def child_exit(server, worker):',
      '    APP_HOOKS.append(("child_exit", worker.pid))',
    ].join('\n');
    const result = runHooks(renderGunicornConfig({}), appConfig);
    expect(result.workers).toBe(7);
    expect(result.app_hooks).toEqual(['on_starting', ['child_exit', 4242]]);
    expect(result.calls).toEqual([['mark_process_dead', 4242]]);
  });
});

describe('metrics without app changes', () => {
  function build(props: Partial<PythonServiceProps>): Manifest[] {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'api', {
      image: 'ghcr.io/acme/api:1', server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }), resources: { memory: Size.mebibytes(512) }, ...props,
    });
    return synth(chart);
  }

  test('gunicorn with monitoring mounts the configuration read-only and passes it with --config', () => {
    const manifests = build({ monitoring: { port: 9090 } });
    const deployment = only(manifests, 'Deployment');
    const container = appContainer(deployment);
    expect(container.command.slice(-2)).toEqual(['--config', '/etc/gunicorn/gunicorn.conf.py']);
    expect(container.volumeMounts).toContainEqual({ name: 'gunicorn-config', mountPath: '/etc/gunicorn', readOnly: true });
    const configMap = only(manifests, 'ConfigMap');
    // Named by its content and immutable, as the config files: a change of the hooks rolls the pods.
    expect(configMap.metadata.name).toMatch(/^api-gunicorn-[0-9a-f]{8}$/);
    expect(configMap.immutable).toBe(true);
    expect(podTemplateOf(deployment)!.spec.volumes).toContainEqual({ name: 'gunicorn-config', configMap: { name: configMap.metadata.name } });
    expect(envOf(container).PROMETHEUS_MULTIPROC_DIR).toBe('/run/prometheus');
    expect(configMap.data['gunicorn.conf.py']).toContain('METRICS_PORT = 9090');
    expect(container.ports).toContainEqual({ containerPort: 9090, name: 'metrics', protocol: 'TCP' });
    expectStrictlyValid(manifests);
  });

  test('without monitoring, or with another server, nothing is rendered', () => {
    expect(build({}).some((m) => m.kind === 'ConfigMap')).toBe(false);
    expect(appContainer(only(build({}), 'Deployment')).command).not.toContain('--config');
    expect(build({ server: PythonServer.uvicorn({ app: 'shop.main:app' }), monitoring: {} }).some((m) => m.kind === 'ConfigMap')).toBe(false);
  });
});
