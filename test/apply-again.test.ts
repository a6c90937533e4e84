import { Chart, Size, Testing, Yaml } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { BackupVolumeMode, Exposure, PythonServer, PythonService, PythonServiceProps } from '../src';
import { CLUSTER_APPS } from './support/cluster-apps';
import { Manifest, synth } from './support/manifests';

/**
 * A release applies over the last one only if no object kept under the same name changes a
 * field the API server treats as immutable. These are the immutable fields of the kinds the
 * library emits (https://kubernetes.io/docs/reference/kubernetes-api/).
 */
function immutableProblems(before: Manifest[], after: Manifest[]): string[] {
  const key = (m: Manifest) => `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;
  const previous = new Map(before.map((m) => [key(m), m]));
  const problems: string[] = [];
  const same = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) problems.push(what);
  };
  for (const next of after) {
    const last = previous.get(key(next));
    if (!last) continue;
    const where = key(next);
    switch (next.kind) {
      case 'Job':
        same(`${where}: spec.template is immutable`, last.spec.template, next.spec.template);
        same(`${where}: spec.selector is immutable`, last.spec.selector, next.spec.selector);
        break;
      case 'Deployment':
      case 'StatefulSet':
      case 'DaemonSet':
        same(`${where}: spec.selector is immutable`, last.spec.selector, next.spec.selector);
        break;
      case 'PersistentVolumeClaim': {
        const { resources: lastResources, ...lastRest } = last.spec;
        const { resources: nextResources, ...nextRest } = next.spec;
        same(`${where}: spec is immutable except storage requests`, lastRest, nextRest);
        const size = (r: any) => Number(/^(\d+)Gi$/.exec(r?.requests?.storage ?? '0Gi')?.[1] ?? 0);
        if (size(nextResources) < size(lastResources)) problems.push(`${where}: storage can grow, never shrink`);
        break;
      }
      case 'Service':
        same(`${where}: spec.clusterIP is immutable`, last.spec.clusterIP, next.spec.clusterIP);
        break;
      default:
        break;
    }
  }
  return problems;
}

const BASE: PythonServiceProps = {
  image: 'ghcr.io/acme/shop:1.4.2',
  server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
  replicas: 1,
  env: { DJANGO_SETTINGS_MODULE: 'shop.settings' },
  expose: Exposure.ingress({ host: 'shop.example.com' }),
  persistence: { size: Size.gibibytes(5) },
  migrations: { command: ['python', 'manage.py', 'migrate', '--noinput'] },
  monitoring: { alerts: true },
  backup: { schedule: '0 0 * * *', volumes: BackupVolumeMode.SNAPSHOT },
  security: { allowedImages: ['ghcr.io/acme/'], podSecurityAdmission: true },
};

function release(props: Partial<PythonServiceProps>): Manifest[] {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new PythonService(chart, 'shop', { ...BASE, ...props });
  return synth(chart);
}

describe('a release applies over the previous one', () => {
  const first = release({});

  test('an unchanged release renders byte for byte the same (and so re-applies as a no-op)', () => {
    expect(Yaml.stringify(...release({}))).toBe(Yaml.stringify(...first));
  });

  const changes: Array<[string, Partial<PythonServiceProps>]> = [
    ['a config-only change (env)', { env: { DJANGO_SETTINGS_MODULE: 'shop.settings.prod' } }],
    ['a secret reference added', { envValues: { DATABASE_URL: kplus.EnvValue.fromValue('postgres://db/shop') } }],
    ['more memory', { resources: { memory: Size.mebibytes(512) } }],
    ['a new label', { labels: { team: 'payments' } }],
    ['a new image tag', { image: 'ghcr.io/acme/shop:1.4.3' }],
    ['a new migration command', { migrations: { command: ['python', 'manage.py', 'migrate', '--noinput', '--skip-checks'] } }],
    ['a larger volume', { persistence: { size: Size.gibibytes(10) } }],
  ];
  test.each(changes)('%s changes no immutable field under a kept name', (_title, props) => {
    const next = release(props);
    expect(immutableProblems(first, next)).toEqual([]);
  });

  test.each(changes.filter(([title]) => title !== 'a larger volume'))('%s runs the migrations again (a new Job)', (_title, props) => {
    const jobName = (ms: Manifest[]) => ms.find((m) => m.kind === 'Job')!.metadata.name;
    expect(jobName(release(props))).not.toBe(jobName(first));
  });

  test('the check itself catches what the API server rejects', () => {
    const job = first.find((m) => m.kind === 'Job')!;
    const tampered = { ...job, spec: { ...job.spec, template: { ...job.spec.template, metadata: { labels: { changed: 'yes' } } } } };
    expect(immutableProblems([job], [tampered])).toEqual([`Job/shop/${job.metadata.name}: spec.template is immutable`]);
    const pvc = first.find((m) => m.kind === 'PersistentVolumeClaim')!;
    const shrunk = { ...pvc, spec: { ...pvc.spec, resources: { requests: { storage: '1Gi' } } } };
    expect(immutableProblems([pvc], [shrunk])).toEqual(['PersistentVolumeClaim/shop/shop-data: storage can grow, never shrink']);
  });
});

/**
 * Empty values the API server keeps: structs it always serializes (`podSelector: {}` selects
 * every pod) and volume sources whose presence is the meaning (`emptyDir: {}`). Any other empty
 * list or map is dropped when stored, so the applied file and the live object differ on every
 * apply (GitOps tools show the app out of sync forever). The real API server is the judge (the
 * control-plane tier diffs a second apply); this is the fast layer that names the field.
 */
const KEPT_EMPTY = new Set(['podSelector', 'namespaceSelector', 'emptyDir', 'selector']);

function droppedEmpties(value: unknown, at: string, out: string[]): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) out.push(at);
    value.forEach((v, i) => {
      // A list of one empty rule (`egress: [{}]`, allow all) is an element, kept as it is.
      if (!(v && typeof v === 'object' && Object.keys(v).length === 0)) droppedEmpties(v, `${at}[${i}]`, out);
    });
  } else if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0 && !KEPT_EMPTY.has(at.split('.').pop()!)) out.push(at);
    for (const [k, v] of entries) droppedEmpties(v, `${at}.${k}`, out);
  }
  return out;
}

describe('nothing the API server would drop (no apply ever differs from the live object)', () => {
  const apps = CLUSTER_APPS.filter((a) => a.name !== 'example');
  test.each(apps.map((a) => [a.name, a] as const))('app %s renders no empty list and no empty map outside the kept fields', (_name, app) => {
    const problems = app.release().flat().flatMap((m) => droppedEmpties(m, `${m.kind}/${m.metadata.name}`, []));
    expect(problems).toEqual([]);
  });

  test('the check itself catches an empty ingress list', () => {
    expect(droppedEmpties({ spec: { podSelector: {}, ingress: [], egress: [{}] } }, 'NetworkPolicy/x', [])).toEqual(['NetworkPolicy/x.spec.ingress']);
  });
});
