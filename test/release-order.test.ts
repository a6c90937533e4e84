import { App, Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { PythonService } from '../src';
import { synth } from './support/manifests';

const SECURITY = { allowedImages: ['ghcr.io/acme/'] };

describe('order of objects in the synthesized file (what a first `kubectl apply -f` needs)', () => {
  test('the Namespace comes first, then the admission policy and binding, then the workloads they govern', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', migrations: { command: ['migrate'] }, security: { ...SECURITY, podSecurityAdmission: true } });
    const kinds = synth(chart).map((m) => m.kind);
    expect(kinds.slice(0, 3)).toEqual(['Namespace', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    expect(kinds.indexOf('Deployment')).toBeGreaterThan(2);
    expect(kinds.indexOf('Job')).toBeGreaterThan(2);
  });

  test('the Namespace precedes the objects of services built before and after the one that emits it, and the user\'s own', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'before', { image: 'ghcr.io/acme/a:1' });
    new kplus.ConfigMap(chart, 'Settings', { data: { a: 'b' } });
    new PythonService(chart, 'owner', { image: 'ghcr.io/acme/b:1', security: { ...SECURITY, podSecurityAdmission: true } });
    new PythonService(chart, 'after', { image: 'ghcr.io/acme/c:1' });
    const kinds = synth(chart).map((m) => m.kind);
    expect(kinds[0]).toBe('Namespace');
    expect(kinds.filter((k) => k === 'Namespace')).toHaveLength(1);
  });

  test('each service\'s policy precedes its own workloads', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'a', { image: 'ghcr.io/acme/a:1', security: SECURITY });
    new PythonService(chart, 'b', { image: 'ghcr.io/acme/b:1', security: SECURITY });
    const names = synth(chart).map((m) => `${m.kind}/${m.metadata.name}`);
    for (const svc of ['a', 'b']) {
      expect(names.indexOf(`ValidatingAdmissionPolicy/shop-${svc}-policy`)).toBeLessThan(names.indexOf(`Deployment/${svc}`));
      expect(names.indexOf(`ValidatingAdmissionPolicyBinding/shop-${svc}-policy`)).toBeLessThan(names.indexOf(`Deployment/${svc}`));
    }
  });

  test('the real cdk8s synth path orders the same way', () => {
    const app = new App({ outdir: '/dev/null' });
    const chart = new Chart(app, 'shop', { namespace: 'shop' });
    new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', security: { ...SECURITY, podSecurityAdmission: true } });
    expect(app.synthYaml()).toMatch(/^apiVersion: v1\nkind: Namespace\n/);
  });
});
