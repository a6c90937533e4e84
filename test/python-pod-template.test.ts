import { Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { PythonPodTemplate, PythonService, PythonWorker, WorkerProcess } from '../src';
import { appContainer, envOf, expectStrictlyValid, only, podTemplateOf, synth } from './support/manifests';
import { restrictedViolations } from '../src/features/security/pod-security-standards';

function jobWith(template: (chart: Chart) => PythonPodTemplate) {
  const chart = new Chart(Testing.app(), 'jobs', { namespace: 'jobs' });
  const pod = template(chart);
  const job = new kplus.Job(chart, 'Job', { ...pod.podProps(), restartPolicy: kplus.RestartPolicy.NEVER });
  pod.addContainer(job, { name: 'task', command: ['python', '-m', 'reports'], derivedEnv: { WEB_CONCURRENCY: '1' } });
  return synth(chart);
}

describe('PythonPodTemplate', () => {
  const manifests = jobWith((chart) => new PythonPodTemplate({
    image: 'ghcr.io/acme/api:1.0.0',
    serviceAccount: new kplus.ServiceAccount(chart, 'Sa', { automountToken: false }),
    env: { WEB_CONCURRENCY: '4', DJANGO_SETTINGS_MODULE: 'shop.settings' },
    resources: { cpu: kplus.Cpu.millis(1500), memory: Size.mebibytes(384) },
  }));
  const job = only(manifests, 'Job');
  const pod = podTemplateOf(job)!;
  const container = appContainer(job);

  test('adds a Python container to any cdk8s-plus workload that passes Pod Security "restricted"', () => {
    expectStrictlyValid(manifests);
    expect(restrictedViolations(pod.spec, pod.metadata.annotations ?? {})).toEqual([]);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(pod.spec.serviceAccountName).toBeDefined();
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsUser: 10001 });
  });

  test('mounts a size-limited /tmp, since the root filesystem is read-only', () => {
    expect(container.volumeMounts).toEqual([{ mountPath: '/tmp', name: 'tmp' }]);
    expect(pod.spec.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }]);
  });

  test('the Python environment: defaults, then derived values, then the user\'s, which win', () => {
    expect(envOf(container)).toMatchObject({
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      TMPDIR: '/tmp',
      PYTHON_CPU_COUNT: '2', // ceil(1.5 CPU)
      WEB_CONCURRENCY: '4',
      DJANGO_SETTINGS_MODULE: 'shop.settings',
    });
    expect(container.resources).toMatchObject({ requests: { cpu: '1500m', memory: '384Mi' }, limits: { memory: '384Mi' } });
  });

  test.each([
    [{ image: '' }, 'PythonPodTemplate: image "" must be a non-empty container image reference'],
    [{ image: 'a:1', securityContext: { runAsUser: 0 } }, 'securityContext.runAsUser 0 must be a whole number from 1 to 2147483647'],
    [{ image: 'a:1', env: { '1X': 'y' } }, 'env name "1X" must be a valid variable name'],
    [{ image: 'a:1', resources: { memory: Size.kibibytes(100) } }, 'resources.memory "100Ki" must be a whole number of mebibytes'],
  ])('rejects %j clearly', (props, message) => {
    expect(() => new PythonPodTemplate({ ...props, errorLabel: undefined })).toThrow(message);
  });
});

describe('private registries', () => {
  test('every pod of the app pulls with the registry Secrets: web, workers, beat, scheduled jobs, migrations, and standalone components', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const web = new PythonService(chart, 'shop', {
      image: 'registry.internal/acme/shop:1.0',
      imagePullSecrets: ['registry-credentials', 'mirror-credentials'],
      migrations: { command: ['python', 'manage.py', 'migrate'] },
    });
    web.addWorker('worker', { process: WorkerProcess.celery({ app: 'shop' }) });
    web.addWorker('beat', { process: WorkerProcess.celeryBeat({ app: 'shop' }) });
    web.addCronJob('report', { schedule: '0 6 * * *', command: ['python', '-m', 'report'] });
    new PythonWorker(chart, 'indexer', { image: 'registry.internal/acme/indexer:1.0', imagePullSecrets: ['indexer-pull'], process: WorkerProcess.rq({ queues: ['index'] }) });
    const manifests = synth(chart);
    const pulls = manifests.filter((m) => podTemplateOf(m)).map((m) => [m.metadata.name.replace(/-[0-9a-f]{8}$/, ''), podTemplateOf(m)!.spec.imagePullSecrets]);
    expect(pulls).toEqual([
      ['shop', [{ name: 'registry-credentials' }, { name: 'mirror-credentials' }]],
      ['shop-migrate', [{ name: 'registry-credentials' }, { name: 'mirror-credentials' }]],
      ['shop-worker', [{ name: 'registry-credentials' }, { name: 'mirror-credentials' }]],
      ['shop-beat', [{ name: 'registry-credentials' }, { name: 'mirror-credentials' }]],
      ['shop-report', [{ name: 'registry-credentials' }, { name: 'mirror-credentials' }]],
      ['indexer', [{ name: 'indexer-pull' }]],
    ]);
    expectStrictlyValid(manifests);
  });

  test('without imagePullSecrets the pods have none (nodes with registry credentials, or a public registry)', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'shop', { image: 'ghcr.io/acme/shop:1.0' });
    expect(podTemplateOf(only(synth(chart), 'Deployment'))!.spec.imagePullSecrets).toBeUndefined();
  });

  test.each([
    ['an empty list', () => ({ imagePullSecrets: [] }), "PythonService 'shop': imagePullSecrets [] must list at least one Secret name (leave it unset for none)"],
    ['a name that is no Secret name', () => ({ imagePullSecrets: ['Registry_Creds'] }), "PythonService 'shop': imagePullSecrets[0] \"Registry_Creds\" must be"],
    ['a name twice', () => ({ imagePullSecrets: ['a', 'a'] }), 'imagePullSecrets ["a","a"] names "a" twice'],
  ])('%s is an error', (_what, props, message) => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    expect(() => new PythonService(chart, 'shop', Object.assign({ image: 'ghcr.io/acme/shop:1.0' }, props()))).toThrow(message);
  });

  test('a component of a service takes the service\'s, and says so', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const web = new PythonService(chart, 'shop', { image: 'ghcr.io/acme/shop:1.0' });
    expect(() => web.addWorker('w', { process: WorkerProcess.rq({ queues: ['q'] }), imagePullSecrets: ['x'] } as any))
      .toThrow("PythonService 'shop' PythonWorker 'w': imagePullSecrets [\"x\"] comes from the service; set it there");
  });
});
