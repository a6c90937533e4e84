import { Chart, Testing } from 'cdk8s';
import { PythonService } from '../src';

describe('warnings (cdk8s has no warnings API: one line on stderr per process)', () => {
  test('monitoring without labels says that kube-prometheus-stack will not see it, once', () => {
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => { written.push(String(chunk)); return true; });
    try {
      const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
      new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', monitoring: {} });
      new PythonService(chart, 'web', { image: 'ghcr.io/acme/web:1', monitoring: {} });
      new PythonService(chart, 'labelled', { image: 'ghcr.io/acme/web:1', monitoring: { labels: { release: 'kube-prometheus-stack' } } });
    } finally {
      spy.mockRestore();
    }
    const warnings = written.filter((line) => line.includes('monitoring.labels is empty'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\[cdk8s-python-service\] warning: PythonService 'api': monitoring.labels is empty\. kube-prometheus-stack's Prometheus selects ServiceMonitors/);
  });
});
