import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Size, Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { PythonServer, PythonService } from '../src';
import { only, synth } from './support/manifests';
import { provisionedTools } from './support/tools';

// The alert rules, run by Prometheus' own rule engine (promtool, from PATH or built into the
// cache by the suite's global setup): they must load, and every alert must reach Alertmanager
// with the labels it routes on (namespace and service).

function promtool(args: string[], cwd: string): string {
  try {
    return execFileSync(provisionedTools().promtool, args, { cwd, encoding: 'utf8', stdio: 'pipe' });
  } catch (error: any) {
    throw new Error(`promtool ${args.join(' ')} failed:\n${error.stdout}${error.stderr}`);
  }
}

const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
new PythonService(chart, 'api', {
  image: 'ghcr.io/acme/api:1',
  server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
  resources: { memory: Size.mebibytes(512) },
  autoscaling: { minReplicas: 2, maxReplicas: 4 },
  monitoring: { alerts: true },
});
const groups = only(synth(chart), 'PrometheusRule').spec.groups;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alerts-'));
fs.writeFileSync(path.join(dir, 'rules.yaml'), stringify({ groups }));
// Annotations hold templates ({{ $value }}) whose text the unit test need not predict: the test
// file checks labels, so it loads the rules without them.
fs.writeFileSync(path.join(dir, 'rules-labels.yaml'), stringify({
  groups: groups.map((g: any) => ({ ...g, rules: g.rules.map(({ annotations: _annotations, ...r }: any) => r) })),
}));

const routed = { severity: 'warning', namespace: 'shop', service: 'api' };
const scraped = (metric: string, labels: string, values: string) => ({ series: `${metric}{namespace="shop",service="api",pod="api-7d9f8b7c6-x2x9z",job="api",${labels}}`, values });

describe('alert rules, evaluated by promtool', () => {
  test('load as Prometheus rules', () => {
    expect(promtool(['check', 'rules', 'rules.yaml'], dir)).toMatch(/SUCCESS: 5 rules found/);
  });

  test('every alert carries namespace and service for Alertmanager to route on', () => {
    const tests = {
      rule_files: ['rules-labels.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            scraped('up', 'instance="10.0.0.1:8080"', '0x30'),
            scraped('http_requests_total', 'status="500"', '0+10x30'),
            scraped('http_requests_total', 'status="200"', '0+10x30'),
            scraped('http_request_duration_seconds_bucket', 'le="0.5"', '0+1x30'),
            scraped('http_request_duration_seconds_bucket', 'le="1"', '0+2x30'),
            scraped('http_request_duration_seconds_bucket', 'le="+Inf"', '0+10x30'),
            { series: 'kube_pod_container_status_restarts_total{namespace="shop",pod="api-7d9f8b7c6-x2x9z",container="app",service="kube-state-metrics",job="kube-state-metrics"}', values: '0+1x30' },
            { series: 'kube_horizontalpodautoscaler_status_current_replicas{namespace="shop",horizontalpodautoscaler="api-hpa",service="kube-state-metrics"}', values: '4x30' },
            { series: 'kube_horizontalpodautoscaler_spec_max_replicas{namespace="shop",horizontalpodautoscaler="api-hpa",service="kube-state-metrics"}', values: '4x30' },
          ],
          alert_rule_test: [
            { eval_time: '20m', alertname: 'ApiTargetDown', exp_alerts: [{ exp_labels: routed }] },
            { eval_time: '20m', alertname: 'ApiCrashLooping', exp_alerts: [{ exp_labels: { ...routed, pod: 'api-7d9f8b7c6-x2x9z' } }] },
            { eval_time: '20m', alertname: 'ApiHighErrorRatio', exp_alerts: [{ exp_labels: routed }] },
            { eval_time: '20m', alertname: 'ApiHighLatency', exp_alerts: [{ exp_labels: routed }] },
            { eval_time: '20m', alertname: 'ApiAtMaxReplicas', exp_alerts: [{ exp_labels: { ...routed, horizontalpodautoscaler: 'api-hpa' } }] },
          ],
        },
        {
          // Nothing scraped at all (the ServiceMonitor selects nothing): still routed.
          interval: '1m',
          input_series: [{ series: 'up{namespace="other",service="web"}', values: '1x10' }],
          alert_rule_test: [{ eval_time: '10m', alertname: 'ApiTargetDown', exp_alerts: [{ exp_labels: routed }] }],
        },
        {
          // Healthy: no alerts.
          interval: '1m',
          input_series: [scraped('up', 'instance="10.0.0.1:8080"', '1x30'), scraped('http_requests_total', 'status="200"', '0+10x30')],
          alert_rule_test: ['ApiTargetDown', 'ApiHighErrorRatio', 'ApiCrashLooping'].map((alertname) => ({ eval_time: '20m', alertname, exp_alerts: [] })),
        },
      ],
    };
    fs.writeFileSync(path.join(dir, 'tests.yaml'), stringify(tests));
    expect(promtool(['test', 'rules', 'tests.yaml'], dir)).toMatch(/SUCCESS/);
  });
});
