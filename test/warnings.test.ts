import { Chart, Testing } from 'cdk8s';
import { Exposure, PythonServer, PythonService, PythonWorker, WorkerProcess } from '../src';
import { stderrOf } from './support/stderr';


describe('warnings (cdk8s has no warnings API: one line on stderr per process)', () => {
  test('monitoring without labels says that kube-prometheus-stack will not see it, once', () => {
    const written = stderrOf(() => {
      const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
      new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', monitoring: {} });
      new PythonService(chart, 'web', { image: 'ghcr.io/acme/web:1', monitoring: {} });
      new PythonService(chart, 'labelled', { image: 'ghcr.io/acme/web:1', monitoring: { labels: { release: 'kube-prometheus-stack' } } });
    });
    const warnings = written.filter((line) => line.includes('monitoring.labels is empty'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\[cdk8s-python-service\] warning: PythonService 'api': monitoring.labels is empty\. kube-prometheus-stack's Prometheus selects ServiceMonitors/);
  });
});

describe('metrics on a publicly exposed app port', () => {
  test('a server the library cannot move metrics for gets one warning with the fix', () => {
    const written = stderrOf(() => {
      const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
      const labels = { release: 'kube-prometheus-stack' };
      new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', server: PythonServer.uvicorn({ app: 'a:app' }), expose: Exposure.ingress({ host: 'a.example.com' }), monitoring: { labels } });
      new PythonService(chart, 'own-port', { image: 'ghcr.io/acme/api:1', server: PythonServer.uvicorn({ app: 'a:app' }), expose: Exposure.ingress({ host: 'b.example.com' }), monitoring: { labels, port: 9100 } });
      new PythonService(chart, 'internal', { image: 'ghcr.io/acme/api:1', server: PythonServer.uvicorn({ app: 'a:app' }), monitoring: { labels } });
    });
    const warnings = written.filter((line) => line.includes('/metrics is public'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\[cdk8s-python-service\] warning: PythonService 'api': metrics are scraped from the app port, which is exposed outside the cluster, so \/metrics is public too\. Serve them on a port of their own and set monitoring.port/);
  });
});

describe('mutable image tags', () => {
  test('an image without a tag, or tagged latest, gets one warning each with the fix; versions and digests none', () => {
    const written = stderrOf(() => {
      const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
      new PythonService(chart, 'bare', { image: 'ghcr.io/acme/bare' });
      new PythonService(chart, 'latest', { image: 'ghcr.io/acme/latest:latest', migrations: { command: ['migrate'] } });
      new PythonService(chart, 'again', { image: 'ghcr.io/acme/latest:latest' });
      new PythonService(chart, 'pinned', { image: 'ghcr.io/acme/pinned:1.4.2' });
      new PythonService(chart, 'digest', { image: `ghcr.io/acme/digest@sha256:${'a'.repeat(64)}` });
      new PythonWorker(chart, 'indexer', { image: 'ghcr.io/acme/indexer', process: WorkerProcess.rq({ queues: ['q'] }) });
    });
    const warnings = written.filter((line) => line.includes('a new build pushed under the same tag'));
    expect(warnings).toEqual([
      expect.stringMatching(/^\[cdk8s-python-service\] warning: PythonService 'bare': image "ghcr.io\/acme\/bare" has no tag \(it means "latest"\): .* neither rolls the pods nor runs the migrations again; use a version tag \(ghcr.io\/acme\/bare:1.4.2\) or a digest \(ghcr.io\/acme\/bare@sha256:...\)\n$/),
      expect.stringMatching(/^\[cdk8s-python-service\] warning: PythonService 'latest': image "ghcr.io\/acme\/latest:latest" is tagged "latest"/),
      expect.stringMatching(/^\[cdk8s-python-service\] warning: PythonWorker 'indexer': image "ghcr.io\/acme\/indexer" has no tag/),
    ]);
  });
});
