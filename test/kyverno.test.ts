import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing, Yaml } from 'cdk8s';
import { AdmissionEngine, PodSecurityLevel, PythonServer, PythonService, WorkerProcess } from '../src';
import { evaluatePolicy } from './support/cel';
import { CLUSTER_APPS } from './support/cluster-apps';
import { Manifest, podTemplateOf, synth } from './support/manifests';
import { deepCopy, TAMPERINGS } from './support/tamperings';
import { provisionedTools } from './support/tools';

// The Kyverno NamespacedValidatingPolicies, judged by Kyverno's own engine (its CLI, built from
// the Go module proxy by the suite's global setup): every workload passes, every tampered copy
// fails with the rule named, and the JavaScript CEL engine of the fast tests says the same.

interface KyvernoResult {
  readonly summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  /** "<policy> -> <namespace>/<Kind>/<name>" → the failure message. */
  readonly failures: Map<string, string>;
  readonly output: string;
}

function kyvernoApply(policies: Manifest[], resources: Manifest[]): KyvernoResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyverno-'));
  try {
    fs.writeFileSync(path.join(dir, 'policies.yaml'), Yaml.stringify(...policies));
    fs.writeFileSync(path.join(dir, 'resources.yaml'), Yaml.stringify(...resources));
    const run = spawnSync(provisionedTools().kyverno, ['apply', path.join(dir, 'policies.yaml'), '--resource', path.join(dir, 'resources.yaml'), '--remove-color'], { encoding: 'utf8' });
    const output = run.stdout;
    // Exit 1 means failures were found; anything else is Kyverno breaking.
    if (run.status !== 0 && run.status !== 1) throw new Error(`kyverno apply exited ${run.status}:\n${run.stderr}${output}`);
    const summary = /pass: (\d+), fail: (\d+), warn: (\d+), error: (\d+), skip: (\d+)/.exec(output);
    if (!summary) throw new Error(`no summary in kyverno's output:\n${output}`);
    const failures = new Map<string, string>();
    const lines = output.split('\n');
    lines.forEach((line, i) => {
      const m = /^policy (\S+) -> resource (\S+) failed:$/.exec(line.trim());
      if (m) failures.set(`${m[1]} -> ${m[2]}`, lines[i + 1].replace(/^\s*\d+ -\s+/, '').trim());
    });
    const [pass, fail, warn, error, skip] = summary.slice(1).map(Number);
    return { summary: { pass, fail, warn, error, skip }, failures, output };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const policiesOf = (manifests: Manifest[]) => manifests.filter((m) => m.kind === 'NamespacedValidatingPolicy');
const workloadsOf = (manifests: Manifest[]) => manifests.filter((m) => ['Deployment', 'StatefulSet', 'Job', 'CronJob'].includes(m.kind));
const podOf = (workload: Manifest): Manifest => {
  const template = podTemplateOf(workload)!;
  return { apiVersion: 'v1', kind: 'Pod', metadata: Object.assign({}, template.metadata, { name: `${workload.metadata.name}-pod`, namespace: workload.metadata.namespace }), spec: template.spec };
};

describe('Kyverno policies, judged by Kyverno\'s CLI', () => {
  test('every workload of the Kyverno app (a service, a standalone worker and cron job, Argo CD hooks) and its pods pass every policy', () => {
    const manifests = CLUSTER_APPS.find((a) => a.name === 'argo')!.release().flat();
    const workloads = workloadsOf(manifests);
    const result = kyvernoApply(policiesOf(manifests), [...workloads, ...workloads.map(podOf)]);
    expect(result.summary).toMatchObject({ fail: 0, error: 0 });
    // Each resource is checked by the namespace's policy and its own component's.
    expect(result.summary.pass).toBe(2 * 2 * workloads.length);
  });

  describe.each([PodSecurityLevel.RESTRICTED, PodSecurityLevel.BASELINE])('at Pod Security level %s', (level) => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const service = new PythonService(chart, 'api', {
      image: 'registry.example.com/shop/api:1.4.2',
      server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
      migrations: { command: ['python', 'manage.py', 'migrate'] },
      security: { allowedImages: ['registry.example.com/shop/'], admissionEngine: AdmissionEngine.KYVERNO, podSecurityLevel: level },
    });
    service.addWorker('worker', { process: WorkerProcess.celery({ app: 'shop' }) });
    const manifests = synth(chart);
    const policies = policiesOf(manifests);
    const own = policies.find((p) => p.metadata.name === 'api-policy')!;
    const deployment = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === 'api')!;

    test('fails each tampered copy with the rule named, as the JavaScript engine does', () => {
      const copies = TAMPERINGS.filter(([, , tamper]) => {
        // The cases this level does not forbid are the JavaScript engine's to admit as well (below).
        const copy = deepCopy(deployment);
        tamper(copy);
        return !evaluatePolicy(own.spec, copy).allowed;
      }).map(([what, rule, tamper], i) => {
        const copy = deepCopy(deployment);
        copy.metadata = Object.assign({}, copy.metadata, { name: `tampered-${i}` });
        tamper(copy);
        return { what, rule, copy };
      });
      expect(copies.length).toBeGreaterThan(level === PodSecurityLevel.RESTRICTED ? 25 : 12);
      const result = kyvernoApply([own], copies.map((c) => c.copy));
      const disagreements = copies.flatMap((c) => {
        const kyverno = result.failures.get(`api-policy -> shop/Deployment/${c.copy.metadata.name}`);
        const js = evaluatePolicy(own.spec, c.copy).message;
        return kyverno === js ? [] : [`${c.what}: Kyverno ${kyverno ?? 'passes'}, JavaScript ${js}`];
      });
      expect(disagreements).toEqual([]);
      expect(result.summary).toMatchObject({ pass: 0, fail: copies.length, error: 0 });
    });

    test('passes the copies the JavaScript engine admits at this level, and the rendered workloads', () => {
      const admitted = TAMPERINGS.map(([, , tamper], i) => {
        const copy = deepCopy(deployment);
        copy.metadata = Object.assign({}, copy.metadata, { name: `kept-${i}` });
        tamper(copy);
        return copy;
      }).filter((copy) => evaluatePolicy(own.spec, copy).allowed);
      const result = kyvernoApply(policies, [...workloadsOf(manifests), ...admitted]);
      expect(result.summary).toMatchObject({ fail: 0, error: 0 });
    });
  });
});
