import { Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { BackingService, PythonServer, PythonService, PythonServiceProps } from '../src';
import { allOf, appContainer, crossObjectProblems, envOf, expectStrictlyValid, Manifest, only, podTemplateOf, synth } from './support/manifests';

const MIGRATE = ['python', 'manage.py', 'migrate', '--noinput'];

function build(props: Partial<PythonServiceProps> = {}): { service: PythonService; manifests: Manifest[] } {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  const service = new PythonService(chart, 'api', {
    image: 'ghcr.io/acme/api:1.4.2',
    server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
    env: { DJANGO_SETTINGS_MODULE: 'shop.settings' },
    migrations: { command: MIGRATE },
    ...props,
  });
  return { service, manifests: synth(chart) };
}

describe('migrations', () => {
  const { service, manifests } = build();
  const job = only(manifests, 'Job');
  const pod = podTemplateOf(job)!;
  const container = appContainer(job);
  const app = appContainer(only(manifests, 'Deployment'));

  test('exactly one batch/v1 Job, never per-pod init containers', () => {
    expect(job.apiVersion).toBe('batch/v1');
    expect(podTemplateOf(only(manifests, 'Deployment'))!.spec.initContainers).toBeUndefined();
    expect(service.migrationJob!.jobName).toBe(job.metadata.name);
  });

  test('runs the command once per release, retrying failures that pass but never evictions', () => {
    expect(container.command).toEqual(MIGRATE);
    expect(job.spec).toMatchObject({ backoffLimit: 3, activeDeadlineSeconds: 1800 });
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(job.spec.podFailurePolicy).toEqual({ rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] });
  });

  test('is kept after it finishes: a GitOps tool would re-create a deleted Job and run the migrations again', () => {
    expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
    const hook = only(build({ migrations: { command: MIGRATE, argoCdPreSyncHook: true } }).manifests, 'Job');
    expect(hook.spec.ttlSecondsAfterFinished).toBe(86400);
  });

  test('declared fatal exit codes fail the Job at once instead of retrying', () => {
    const fatal = only(build({ migrations: { command: MIGRATE, fatalExitCodes: [3, 2], backoffLimit: 1 } }).manifests, 'Job');
    expect(fatal.spec.backoffLimit).toBe(1);
    expect(fatal.spec.podFailurePolicy.rules[1]).toEqual({ action: 'FailJob', onExitCodes: { containerName: 'migrate', operator: 'In', values: [2, 3] }, onPodConditions: [] });
    expectStrictlyValid(build({ migrations: { command: MIGRATE, fatalExitCodes: [3] } }).manifests);
  });

  test('uses the same image, env and restricted security context as the app, its own ServiceAccount, and one process\'s CPU', () => {
    expect(container.image).toBe(app.image);
    const { WEB_CONCURRENCY: _workers, XDG_RUNTIME_DIR: _runtime, ...appEnv } = envOf(app);
    expect(envOf(container)).toEqual(appEnv);
    expect(container.securityContext).toEqual(app.securityContext);
    expect(container.resources).toEqual({ ...app.resources, requests: { ...app.resources.requests, cpu: '250m' } });
    expect(pod.spec.serviceAccountName).toBe('api-migrate');
    expect(only(manifests, 'ServiceAccount', 'api-migrate').automountServiceAccountToken).toBe(false);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(pod.spec.securityContext).toEqual(podTemplateOf(only(manifests, 'Deployment'))!.spec.securityContext);
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
  });

  test('sizing: at most 500m CPU by default, or its own resources', () => {
    const big = build({ resources: { cpu: kplus.Cpu.units(2), memory: Size.mebibytes(1024) } }).manifests;
    expect(appContainer(only(big, 'Job')).resources.requests).toMatchObject({ cpu: '500m', memory: '1024Mi' });
    const own = build({ migrations: { command: MIGRATE, resources: { cpu: kplus.Cpu.millis(100), memory: Size.mebibytes(128) } } }).manifests;
    expect(appContainer(only(own, 'Job')).resources).toMatchObject({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '128Mi' } });
  });

  test('is labelled as the migration component, so the Service, PDB and app NetworkPolicy never select it', () => {
    expect(job.metadata.labels['app.kubernetes.io/component']).toBe('migration');
    expect(crossObjectProblems(manifests)).toEqual([]);
    expect(only(manifests, 'NetworkPolicy', 'api-migrate-netpol').spec.ingress).toBeUndefined();
  });

  test('is strictly valid and restricted', () => {
    expectStrictlyValid(manifests);
  });

  test('the name is <name>-migrate-<hash of the rendered Job>: unchanged release, same Job; any change, a new Job', () => {
    expect(job.metadata.name).toMatch(/^api-migrate-[0-9a-f]{8}$/);
    expect(service.migrationJob!.jobName).toBe(job.metadata.name);
    const nameWith = (props: Partial<PythonServiceProps>) => only(build(props).manifests, 'Job').metadata.name;
    expect(nameWith({})).toBe(job.metadata.name);
    // Each of these changes the Job's (immutable) pod template, so each needs a new Job.
    const changes: Array<Partial<PythonServiceProps>> = [
      { image: 'ghcr.io/acme/api:1.4.3' },
      { migrations: { command: ['alembic', 'upgrade', 'head'] } },
      { env: { DJANGO_SETTINGS_MODULE: 'shop.settings.prod' } },
      { resources: { memory: Size.mebibytes(512) } },
      { labels: { team: 'payments' } },
      { securityContext: { runAsUser: 20001 } },
    ];
    const names = changes.map(nameWith);
    expect(new Set([job.metadata.name, ...names]).size).toBe(changes.length + 1);
  });

  test('the name follows changes made through the public handles after construction', () => {
    const changed = build();
    changed.service.migrationJob!.job.containers[0].env.addVariable('FEATURE', kplus.EnvValue.fromValue('on'));
    const rendered = only(synth(Chart.of(changed.service) as Chart), 'Job');
    expect(rendered.metadata.name).not.toBe(job.metadata.name);
    expect(changed.service.migrationJob!.jobName).toBe(rendered.metadata.name);
  });

  test('Argo CD: the PreSync hook\'s ServiceAccount is a hook of an earlier wave, so it exists before the hook pod on a first install', () => {
    expect(job.metadata.annotations).toBeUndefined();
    expect(only(manifests, 'ServiceAccount', 'api-migrate').metadata.annotations).toBeUndefined();
    const argo = build({ migrations: { command: MIGRATE, argoCdPreSyncHook: true } }).manifests;
    expect(only(argo, 'Job').metadata.annotations).toEqual({
      'argocd.argoproj.io/hook': 'PreSync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
    });
    expect(only(argo, 'ServiceAccount', 'api-migrate').metadata.annotations).toEqual({
      'argocd.argoproj.io/hook': 'PreSync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
      'argocd.argoproj.io/sync-wave': '-1',
    });
    // The hook pod references nothing else the library creates: not the service's ServiceAccount.
    expect(podTemplateOf(only(argo, 'Job'))!.spec.serviceAccountName).toBe('api-migrate');
  });

  test('Argo CD sync waves: Namespace, then policies, then the migration ServiceAccount, then the Job, then the rest (wave 0)', () => {
    const argo = build({
      migrations: { command: MIGRATE, argoCdSyncWave: -1 },
      security: { allowedImages: ['ghcr.io/acme/'], podSecurityAdmission: true },
    }).manifests;
    const wave = (m: Manifest) => Number(m.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
    expect(wave(only(argo, 'Namespace'))).toBe(-4);
    for (const policyObject of allOf(argo, 'ValidatingAdmissionPolicy').concat(allOf(argo, 'ValidatingAdmissionPolicyBinding'))) {
      // The service's policy and the namespace's, both before anything they govern.
      expect({ name: policyObject.metadata.name, wave: wave(policyObject) }).toEqual({ name: policyObject.metadata.name, wave: -3 });
    }
    expect(allOf(argo, 'ValidatingAdmissionPolicy').map((m) => m.metadata.name)).toEqual(['shop-namespace-policy', 'shop-api-policy']);
    expect(wave(only(argo, 'ServiceAccount', 'api-migrate'))).toBe(-2);
    expect(wave(only(argo, 'Job'))).toBe(-1);
    for (const m of argo.filter((x) => !['Namespace', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'Job'].includes(x.kind) && x.metadata.name !== 'api-migrate')) {
      expect([m.kind, wave(m)]).toEqual([m.kind, 0]);
    }
  });

  test('ttl and deadline are configurable', () => {
    const custom = only(build({ migrations: { command: MIGRATE, ttlAfterFinished: Duration.hours(1), activeDeadline: Duration.minutes(5) } }).manifests, 'Job');
    expect(custom.spec).toMatchObject({ ttlSecondsAfterFinished: 3600, activeDeadlineSeconds: 300 });
  });

  test('no migrations, no Job', () => {
    expect(allOf(build({ migrations: undefined }).manifests, 'Job')).toEqual([]);
  });

  const bad: Array<[string, Partial<PythonServiceProps>, RegExp]> = [
    ['an empty command', { migrations: { command: [] } }, /PythonService 'api': migrations.command \[\] must be a non-empty list of strings/],
    ['an empty program', { migrations: { command: [''] } }, /migrations.command\[0\] "" must be a non-empty string/],
    ['a zero deadline', { migrations: { command: MIGRATE, activeDeadline: Duration.seconds(0) } }, /migrations.activeDeadline \(0 seconds\) must be longer than zero/],
    ['a name too long for the Job', { name: 'a'.repeat(50), replicas: 1 }, /derived object name "a{50}-migrate-0{8}" has 67 characters/],
  ];
  test.each(bad)('rejects %s', (_title, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

describe('a setup step after the migrations (setupCommand)', () => {
  const SETUP = ['python', 'manage.py', 'shell', '-c', 'from shop.setup import ensure_admin; ensure_admin()'];
  const withSetup = (setupCommand: string[] = SETUP, more: object = {}) => build({ migrations: Object.assign({ command: MIGRATE, setupCommand }, more) });

  test('the migration becomes the init container and setup the container, so setup starts only once the migrations have succeeded', () => {
    const { manifests } = withSetup();
    const pod = podTemplateOf(only(manifests, 'Job'))!.spec;
    expect(pod.initContainers.map((c: any) => [c.name, c.command])).toEqual([['migrate', MIGRATE]]);
    expect(pod.containers.map((c: any) => [c.name, c.command])).toEqual([['setup', SETUP]]);
    // Both restricted, both with the app's environment and /tmp.
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(c.volumeMounts).toEqual(expect.arrayContaining([expect.objectContaining({ mountPath: '/tmp', name: 'tmp' })]));
    }
    expect(only(manifests, 'Job').spec.podFailurePolicy.rules).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'Ignore' })]));
    expectStrictlyValid(manifests);
  });

  test('the Job is named by its content: changing the setup step renames it (so it runs again), the same release keeps the name', () => {
    const name = (setup?: string[]) => only(withSetup(setup).manifests, 'Job').metadata.name;
    expect(name(SETUP)).toBe(name(SETUP));
    expect(name(SETUP)).not.toBe(name(['python', 'manage.py', 'loaddata', 'initial']));
    expect(name(SETUP)).not.toBe(only(build({ migrations: { command: MIGRATE } }).manifests, 'Job').metadata.name);
  });

  test('use() reaches the migration (init) container too: both read the database settings', () => {
    const { service } = withSetup();
    service.use(BackingService.endpoint({ cidr: '10.20.0.0/16', port: 5432, env: { DATABASE_URL: { secretName: 'db', key: 'url' } } }));
    const pod = podTemplateOf(only(synth(Chart.of(service)), 'Job'))!.spec;
    for (const c of [pod.initContainers[0], pod.containers[0]]) {
      expect(c.env).toEqual(expect.arrayContaining([{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db', key: 'url' } } }]));
    }
  });

  test.each([[[]], [['']], [[1 as unknown as string]]])('setupCommand %j is refused, naming the prop and the rule', (setupCommand) => {
    expect(() => withSetup(setupCommand)).toThrow("PythonService 'api': migrations.setupCommand");
  });
});
