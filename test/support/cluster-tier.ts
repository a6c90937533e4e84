import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing, Yaml } from 'cdk8s';
import { evaluatePolicy } from './cel';
import { CLUSTER_APPS, ClusterApp, Release } from './cluster-apps';
import { ControlPlane } from './control-plane';
import { Manifest, podTemplateOf } from './manifests';
import { deepCopy, TAMPERINGS } from './tamperings';
import { ControlPlaneMinor } from './tools';
import { PodSecurityLevel, PythonServer, PythonService, SecurityPolicy } from '../../src';

const FIELD_MANAGER = 'cdk8s-pipeline';
const PSA_ENFORCE = 'pod-security.kubernetes.io/enforce';
const minorNumber = (minor: string) => Number(minor.split('.')[1]);

const key = (m: Manifest) => `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;

/** Writes each file of a release as YAML, named as the CLI names them, and returns the paths. */
function writeRelease(dir: string, app: string, release: Release): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return release.map((objects, i) => {
    const file = path.join(dir, `${String(i).padStart(4, '0')}-${app}.k8s.yaml`);
    fs.writeFileSync(file, Yaml.stringify(...objects));
    return file;
  });
}

/** Lines on stderr a pipeline would see as a problem (kubectl prints server warnings as "Warning: ..."). */
function stderrLines(stderr: string): string[] {
  return stderr.split('\n').map((l) => l.trim()).filter(Boolean);
}

const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'Job', 'CronJob'];

/** The fields newer than Kubernetes 1.30 that an app opts into (see KubernetesVersion). */
const OPT_IN_FIELDS = ['hostUsers', 'resizePolicy', 'trafficDistribution', 'tolerance'];

/** Where `object` sets an opt-in field, e.g. `spec.template.spec.hostUsers`: its value, and the value at that place in `other`. */
function optInFields(object: any, other: any, at = ''): Array<{ where: string; sent: unknown; other: unknown }> {
  if (object === null || typeof object !== 'object') return [];
  return Object.keys(object).flatMap((k) => {
    const where = Array.isArray(object) ? `${at}[${k}]` : at ? `${at}.${k}` : k;
    return OPT_IN_FIELDS.includes(k) && !Array.isArray(object) ? [{ where, sent: object[k], other: other?.[k] }] : optInFields(object[k], other?.[k], where);
  });
}

/**
 * The real-control-plane tier for one minor: every app applied as a pipeline applies it, judged
 * by the API server, its admission plugins and the controllers (see README, "How it is tested").
 */
export function describeControlPlaneTier(minor: ControlPlaneMinor): void {
  const apps = CLUSTER_APPS.filter((a) => a.oldest.minor <= minorNumber(minor));
  const newerApps = CLUSTER_APPS.filter((a) => a.oldest.minor > minorNumber(minor));
  let plane: ControlPlane;

  beforeAll(async () => {
    plane = await ControlPlane.start(minor);
    await plane.installCrds();
  }, 180_000);
  afterAll(() => plane?.stop());

  test(`the API server is Kubernetes ${minor}`, async () => {
    const version = (await plane.api('GET', '/version')).body;
    expect(`${version.major}.${version.minor}`).toBe(minor);
  });

  describe.each(apps.map((a) => [a.name, a] as [string, ClusterApp]))('app %s', (name, app) => {
    const release = app.release();
    const objects = release.flat();
    const declaredNamespaces = new Set(objects.filter((m) => m.kind === 'Namespace').map((m) => m.metadata.name));
    const namespaces = [...new Set(objects.map((m) => m.metadata.namespace).filter((ns): ns is string => !!ns))];
    let files: string[];

    beforeAll(() => {
      // What a cluster has before the app: its namespaces (restricted), unless the app declares them.
      plane.applyObjects(namespaces.filter((ns) => !declaredNamespaces.has(ns)).map((ns) => ({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, labels: { [PSA_ENFORCE]: 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' } },
      })));
      files = writeRelease(path.join(plane.dir, 'apps', name, 'release-1'), name, release);
    });

    test('applies server-side as a pipeline applies it: exit 0, no error and no warning', () => {
      for (const file of files) {
        const result = plane.kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', file]);
        expect({ file: path.basename(file), status: result.status, stderr: stderrLines(result.stderr) }).toEqual({ file: path.basename(file), status: 0, stderr: [] });
      }
    });

    if (objects.some((m) => optInFields(m, undefined).length > 0)) {
      test('the API server stores every opt-in field of a newer Kubernetes as sent', async () => {
        for (const m of objects) {
          const live = (await plane.api('GET', await plane.resourcePath(m))).body;
          const changed = optInFields(m, live).filter((f) => JSON.stringify(f.other) !== JSON.stringify(f.sent));
          expect({ object: key(m), changed }).toEqual({ object: key(m), changed: [] });
        }
      });
    }

    test('every ValidatingAdmissionPolicy type-checks without a warning', async () => {
      for (const policy of objects.filter((m) => m.kind === 'ValidatingAdmissionPolicy')) {
        let status: any;
        await plane.waitFor(`type checking of ${policy.metadata.name}`, async () => {
          const live = (await plane.api('GET', await plane.resourcePath(policy))).body;
          status = live.status;
          return status?.observedGeneration === live.metadata.generation && status?.typeChecking !== undefined;
        });
        expect({ policy: policy.metadata.name, warnings: status.typeChecking.expressionWarnings ?? [] }).toEqual({ policy: policy.metadata.name, warnings: [] });
      }
    });

    test('the controllers create every workload\'s pods, admitted by Pod Security "restricted" and the policies', async () => {
      const hpas = objects.filter((m) => m.kind === 'HorizontalPodAutoscaler');
      for (const cron of objects.filter((m) => m.kind === 'CronJob')) {
        plane.kubectlOk(['create', 'job', `--from=cronjob/${cron.metadata.name}`, `${cron.metadata.name}-now`, '-n', cron.metadata.namespace]);
      }
      const expectations = objects.filter((m) => WORKLOAD_KINDS.includes(m.kind)).map((m) => {
        const ns = m.metadata.namespace;
        if (m.kind === 'Job') return { what: key(m), ns, selector: `batch.kubernetes.io/job-name=${m.metadata.name}`, pods: 1 };
        if (m.kind === 'CronJob') return { what: key(m), ns, selector: `batch.kubernetes.io/job-name=${m.metadata.name}-now`, pods: 1 };
        const hpa = hpas.find((h) => h.spec.scaleTargetRef.kind === m.kind && h.spec.scaleTargetRef.name === m.metadata.name);
        const selector = Object.entries(m.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
        return { what: key(m), ns, selector, pods: m.spec.replicas ?? hpa?.spec.minReplicas ?? 1 };
      });
      for (const e of expectations) {
        let count = -1;
        await plane.waitFor(`${e.pods} pod(s) of ${e.what}`, async () => {
          const pods = (await plane.api('GET', `/api/v1/namespaces/${e.ns}/pods?labelSelector=${encodeURIComponent(e.selector)}`)).body.items;
          count = pods.length;
          return count >= e.pods;
        }, 60_000).catch(() => undefined);
        expect({ workload: e.what, pods: count }).toEqual({ workload: e.what, pods: e.pods });
      }
      for (const ns of namespaces) {
        const events = (await plane.api('GET', `/api/v1/namespaces/${ns}/events`)).body.items ?? [];
        expect(events.filter((ev: any) => ev.reason === 'FailedCreate').map((ev: any) => `${ev.involvedObject.kind}/${ev.involvedObject.name}: ${ev.message}`)).toEqual([]);
      }
    });

    test('applying the same files again changes nothing (kubectl diff --server-side is empty, no generation moves)', async () => {
      const generations = async () => Object.fromEntries(await Promise.all(objects.map(async (m) => [key(m), (await plane.api('GET', await plane.resourcePath(m))).body.metadata?.generation])));
      const before = await generations();
      for (const file of files) {
        // kubectl diff reads the live object, then dry-runs the apply: a controller that updates the
        // object in between (a Deployment's revision annotation, its status) shows up once. A real
        // difference stays, so the diff is taken again a few times before it counts.
        let diff = plane.kubectl(['diff', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', file]);
        for (let attempt = 0; attempt < 10 && diff.stdout !== ''; attempt++) {
          await new Promise((r) => setTimeout(r, 1000));
          diff = plane.kubectl(['diff', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', file]);
        }
        expect({ file: path.basename(file), status: diff.status, diff: diff.stdout, stderr: stderrLines(diff.stderr) }).toEqual({ file: path.basename(file), status: 0, diff: '', stderr: [] });
        plane.kubectlOk(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', file]);
      }
      expect(await generations()).toEqual(before);
    });

    if (app.nextReleases.length > 0) {
      test('the next releases (a config-only change, then a new image) apply over it with no immutable-field error', () => {
        app.nextReleases.forEach((next, i) => {
          for (const file of writeRelease(path.join(plane.dir, 'apps', name, `release-${i + 2}`), name, next())) {
            const result = plane.kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', file]);
            expect({ release: i + 2, status: result.status, stderr: stderrLines(result.stderr) }).toEqual({ release: i + 2, status: 0, stderr: [] });
          }
        });
      });
    }

    const vapNamespaces = namespaces.filter((ns) => objects.some((m) => m.kind === 'ValidatingAdmissionPolicyBinding'
      && JSON.stringify(m.spec.matchResources?.namespaceSelector ?? {}).includes(`"${ns}"`)));
    if (vapNamespaces.length > 0) {
      describe('refuses what a developer (the built-in edit role) sends around it, by the library\'s policy', () => {
        beforeAll(() => {
          // Pod Security admission would refuse some of these first: take its enforce label away,
          // so that what is tested is the library's own policy.
          for (const ns of vapNamespaces) plane.kubectlOk(['label', 'ns', ns, `${PSA_ENFORCE}-`, 'pod-security.kubernetes.io/audit-', 'pod-security.kubernetes.io/warn-', '--overwrite']);
        });

        const denial = async (urlPath: string, body: unknown, method = 'POST', contentType?: string) => {
          const response = await plane.api(method, `${urlPath}${urlPath.includes('?') ? '&' : '?'}dryRun=All`, body, { as: 'developer', contentType });
          return { status: response.status, message: String(response.body?.message ?? '') };
        };
        const restrictedPod = (ns: string, image: string) => {
          const template = podTemplateOf(objects.find((m) => m.kind === 'Deployment' && m.metadata.namespace === ns)!)!;
          return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'intruder', namespace: ns }, spec: Object.assign(deepCopy(template.spec), { containers: template.spec.containers.map((c: any) => Object.assign({}, c, { image })) }) };
        };

        test.each(vapNamespaces)('an unlabelled pod with a foreign image, in %s', async (ns) => {
          const result = await denial(`/api/v1/namespaces/${ns}/pods`, restrictedPod(ns, 'docker.io/evil/miner:1'));
          expect(result.status).toBe(403);
          expect(result.message).toMatch(new RegExp(`ValidatingAdmissionPolicy '${ns}-namespace-policy' .*denied request: allowed-images: images not allowed: docker.io/evil/miner:1`));
        });

        test.each(vapNamespaces)('an unlabelled privileged pod with an allowed image, in %s', async (ns) => {
          const pod: any = restrictedPod(ns, podTemplateOf(objects.find((m) => m.kind === 'Deployment' && m.metadata.namespace === ns)!)!.spec.containers[0].image);
          pod.spec.containers[0].securityContext = { privileged: true };
          const result = await denial(`/api/v1/namespaces/${ns}/pods`, pod);
          expect(result.status).toBe(403);
          expect(result.message).toMatch(new RegExp(`ValidatingAdmissionPolicy '${ns}-namespace-policy' .*denied request: (not-privileged|no-privilege-escalation|run-as-non-root|drop-all-capabilities|seccomp)`));
        });

        test('a copy of each workload with a hostPath volume', async () => {
          for (const m of objects.filter((x) => WORKLOAD_KINDS.includes(x.kind) && vapNamespaces.includes(x.metadata.namespace))) {
            const copy = deepCopy(m);
            copy.metadata = { name: `${m.metadata.name.slice(0, 40)}-bypass`, namespace: m.metadata.namespace, labels: m.metadata.labels };
            const spec = podTemplateOf(copy)!.spec;
            spec.volumes = [...(spec.volumes ?? []), { name: 'host', hostPath: { path: '/' } }];
            const result = await denial(await plane.resourcePath(copy, false), copy);
            expect({ workload: key(m), status: result.status }).toEqual({ workload: key(m), status: 403 });
            expect(result.message).toMatch(/ValidatingAdmissionPolicy '[a-z0-9-]+-policy' .*denied request: (no-host-path|allowed-volumes|volume-types)/);
          }
        });

        test.each(vapNamespaces)('an ephemeral container with a foreign image (what kubectl debug sends), in %s', async (ns) => {
          const pod = (await plane.api('GET', `/api/v1/namespaces/${ns}/pods`)).body.items[0];
          const patch = { spec: { ephemeralContainers: [{ name: 'debugger', image: 'docker.io/library/busybox:1', securityContext: pod.spec.containers[0].securityContext }] } };
          const result = await denial(`/api/v1/namespaces/${ns}/pods/${pod.metadata.name}/ephemeralcontainers`, patch, 'PATCH', 'application/strategic-merge-patch+json');
          expect(result.status).toBe(403);
          expect(result.message).toMatch(/denied request: allowed-images: images not allowed: docker.io\/library\/busybox:1/);
        });
      });
    }
  });

  // An app is applied only on the minors it states it supports. On an older one, the API server
  // shows why the library refuses its fields there: it stores the objects without them, or refuses them.
  for (const app of newerApps) {
    const name = app.name;
    test(`app ${name}, whose oldest Kubernetes is newer than ${minor}, is not applied; a dry run shows what ${minor} would do to its opt-in fields`, async () => {
      const objects = app.release().flat().filter((m) => ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'CronJob', 'Job'].includes(m.kind));
      plane.applyObjects([...new Set(objects.map((m) => m.metadata.namespace))].map((ns) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `${ns}` } })));
      const outcomes: { [what: string]: unknown } = {};
      for (const m of objects) {
        const r = await plane.api('POST', `${await plane.resourcePath(m, false)}?dryRun=All&fieldValidation=Strict`, m);
        const fields = optInFields(m, r.body);
        if (fields.length === 0) continue;
        outcomes[key(m)] = r.status === 201
          ? { stored: fields.filter((f) => f.other !== undefined).map((f) => f.where), dropped: fields.filter((f) => f.other === undefined).map((f) => f.where) }
          : { refused: String(r.body?.message ?? r.status) };
      }
      expect(outcomes).toMatchSnapshot(`${name} on ${minor}`);
    });
  }

  describe('the JavaScript CEL engine the fast tests use agrees with the API server', () => {
    // Every rule the library can emit (each Pod Security level) and every allowlist form, on the
    // same admitted and denied pods: a disagreement fails.
    const LEVELS = [PodSecurityLevel.RESTRICTED, PodSecurityLevel.BASELINE, PodSecurityLevel.PRIVILEGED];
    const ALLOWLISTS: string[][] = [
      ['registry.example.com/parity/'],
      ['registry.example.com/parity/app:1.0'],
      ['registry.example.com/parity/app'],
      [`registry.example.com/parity/app@sha256:${'d'.repeat(64)}`],
      ['registry.example.com/parity/app:'],
      ['registry.example.com/other/', 'registry.example.com/parity/app:1.0', 'docker.io/library/redis'],
    ];
    const IMAGES = [
      'registry.example.com/parity/app:1.0', 'registry.example.com/parity/app:2.0', `registry.example.com/parity/app@sha256:${'d'.repeat(64)}`,
      'registry.example.com/parity/app-evil:1.0', 'registry.example.com/parity', 'docker.io/library/redis:7', 'docker.io/library/redis-evil:7',
    ];

    test('on every tampering at every level, and every image against every allowlist form', async () => {
      const chart = new Chart(Testing.app(), 'parity', { namespace: 'parity' });
      new PythonService(chart, 'app', {
        image: 'registry.example.com/parity/app:1.0',
        server: PythonServer.gunicorn({ app: 'a:b' }),
        replicas: 1,
        security: { allowedImages: ['registry.example.com/parity/'], podSecurityLevel: PodSecurityLevel.BASELINE },
      });
      const volumes = podTemplateOf(Testing.synth(chart).find((m) => m.kind === 'Deployment')!)!.spec.volumes.map((v: any) => v.name);
      const policies: SecurityPolicy[] = [
        ...LEVELS.map((level, i) => new SecurityPolicy(chart, `level-${i}`, {
          name: `level-${level}`, namespace: 'parity', matchLabels: { parity: `level-${level}` }, allowedImages: ['registry.example.com/parity/'], allowedVolumes: volumes, podSecurityLevel: level,
        })),
        ...ALLOWLISTS.map((allowedImages, i) => new SecurityPolicy(chart, `images-${i}`, { name: `images-${i}`, namespace: 'parity', matchLabels: { parity: `images-${i}` }, allowedImages, podSecurityLevel: PodSecurityLevel.PRIVILEGED })),
      ];
      const manifests = Testing.synth(chart);
      const policyObjects = manifests.filter((m) => m.kind === 'ValidatingAdmissionPolicy');
      // Only the parity policies: the namespace policy and the service's (baseline) stay out of the comparison.
      const bindings = manifests.filter((m) => m.kind === 'ValidatingAdmissionPolicyBinding' && /^parity-(level|images)-/.test(m.metadata.name));
      expect(bindings).toHaveLength(policies.length);
      plane.applyObjects(['parity', 'parity-free'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));
      plane.applyObjects(manifests.filter((m) => m.kind === 'ValidatingAdmissionPolicy' || bindings.includes(m)));

      const base = deepCopy(podTemplateOf(manifests.find((m) => m.kind === 'Deployment')!)!);
      // The namespace's `default` ServiceAccount: the service's own is not applied here.
      delete base.spec.serviceAccountName;
      const cases: Array<{ label: string; what: string; pod: Manifest }> = [];
      const podFor = (label: string, spec: any, name: string): Manifest => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'parity', labels: { parity: label } }, spec });
      for (const level of LEVELS) {
        cases.push({ label: `level-${level}`, what: `${level}: the workload as rendered`, pod: podFor(`level-${level}`, deepCopy(base.spec), 'as-rendered') });
        TAMPERINGS.forEach(([what, , tamper], i) => {
          const pod = podFor(`level-${level}`, deepCopy(base.spec), `tampered-${i}`);
          tamper(pod);
          cases.push({ label: `level-${level}`, what: `${level}: ${what}`, pod });
        });
      }
      ALLOWLISTS.forEach((_list, i) => IMAGES.forEach((image, j) => {
        const spec = deepCopy(base.spec);
        spec.containers[0].image = image;
        cases.push({ label: `images-${i}`, what: `${JSON.stringify(ALLOWLISTS[i])} against ${image}`, pod: podFor(`images-${i}`, spec, `image-${j}`) });
      }));

      // Each binding takes a moment to reach the admission plugin, and they arrive one by one:
      // wait until every policy denies a foreign image (which each of them refuses).
      for (const label of [...new Set(cases.map((c) => c.label))]) {
        const spec = deepCopy(base.spec);
        spec.containers[0].image = 'docker.io/evil/miner:1';
        const probe = podFor(label, spec, 'probe');
        let last: unknown;
        await plane.waitFor(`the parity policy ${label} to be enforced`, async () => {
          const r = await plane.api('POST', '/api/v1/namespaces/parity/pods?dryRun=All', probe, { as: 'developer' });
          last = r;
          return r.status === 403;
        }, 30_000).catch((e) => { throw new Error(`${e}\nlast response: ${JSON.stringify(last)}`); });
      }

      const policyFor = (label: string) => policyObjects.find((p) => p.metadata.name === `parity-${label}-policy`)!;
      // The engines must judge the same object: the one admission sees, after the API server's
      // defaulting and its dropping of fields that are off on this release. A namespace without
      // policies gives it (and refuses a case that is not a valid pod at all).
      const seenByAdmission = async (pod: Manifest): Promise<{ object?: Manifest; invalid?: string }> => {
        const r = await plane.api('POST', '/api/v1/namespaces/parity-free/pods?dryRun=All', Object.assign({}, pod, { metadata: Object.assign({}, pod.metadata, { namespace: 'parity-free' }) }));
        if (r.status !== 201) return { invalid: `HTTP ${r.status}: ${r.body?.message}` };
        return { object: Object.assign({}, r.body, { metadata: Object.assign({}, r.body.metadata, { namespace: 'parity' }) }) };
      };
      // Ephemeral containers cannot be set on create: they reach a running pod through its
      // pods/ephemeralcontainers subresource, as `kubectl debug` sends them.
      const running = new Map<string, Manifest>();
      const runningPod = async (label: string): Promise<Manifest> => {
        if (!running.has(label)) {
          const pod = podFor(label, deepCopy(base.spec), `running-${label}`);
          const r = await plane.api('POST', '/api/v1/namespaces/parity/pods', pod);
          if (r.status !== 201) throw new Error(`the rendered pod was not admitted for ${label}: ${r.body?.message}`);
          running.set(label, r.body);
        }
        return running.get(label)!;
      };
      const judge = async (c: { label: string; pod: Manifest }) => {
        const ephemeral = c.pod.spec.ephemeralContainers;
        if (ephemeral) {
          const pod = await runningPod(c.label);
          const response = await plane.api('PATCH', `/api/v1/namespaces/parity/pods/${pod.metadata.name}/ephemeralcontainers?dryRun=All`, { spec: { ephemeralContainers: ephemeral } },
            { as: 'developer', contentType: 'application/strategic-merge-patch+json' });
          return { response, seen: Object.assign({}, pod, { spec: Object.assign({}, pod.spec, { ephemeralContainers: ephemeral }) }) };
        }
        const seen = await seenByAdmission(c.pod);
        if (seen.invalid) return { invalid: seen.invalid };
        return { response: await plane.api('POST', '/api/v1/namespaces/parity/pods?dryRun=All', c.pod, { as: 'developer' }), seen: seen.object! };
      };

      const disagreements: string[] = [];
      const outcomes = new Set<boolean>();
      for (const c of cases) {
        const verdict = await judge(c);
        if (verdict.invalid) {
          disagreements.push(`${c.what}: not a valid pod (${verdict.invalid})`);
          continue;
        }
        const js = evaluatePolicy(policyFor(c.label).spec, deepCopy(verdict.seen));
        outcomes.add(js.allowed);
        const response = verdict.response!;
        const serverAllowed = response.status === 201 || response.status === 200;
        const serverMessage = serverAllowed ? undefined : /denied request: (.*)$/s.exec(String(response.body?.message))?.[1] ?? `HTTP ${response.status}: ${response.body?.message}`;
        if (js.error || serverAllowed !== js.allowed || (!serverAllowed && serverMessage !== js.message)) {
          disagreements.push(`${c.what}: JavaScript ${js.allowed ? 'admits' : `denies (${js.error ?? js.message})`}, API server ${serverAllowed ? 'admits' : `denies (${serverMessage})`}`);
        }
      }
      expect(disagreements).toEqual([]);
      // Both outcomes occur, so the comparison is not vacuous.
      expect([...outcomes].sort()).toEqual([false, true]);
    });
  });
}
