import { Chart, Duration, Testing } from 'cdk8s';
import { PythonServer, PythonService, PythonServiceProps } from '../src';
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

  test('runs the command once: backoffLimit 0, never restarted, cleaned up after a day', () => {
    expect(container.command).toEqual(MIGRATE);
    expect(job.spec).toMatchObject({ backoffLimit: 0, ttlSecondsAfterFinished: 86400, activeDeadlineSeconds: 1800 });
    expect(pod.spec.restartPolicy).toBe('Never');
  });

  test('uses the same image, env, ServiceAccount and restricted security context as the app', () => {
    expect(container.image).toBe(app.image);
    expect(envOf(container)).toEqual(envOf(app));
    expect(container.securityContext).toEqual(app.securityContext);
    expect(container.resources).toEqual(app.resources);
    expect(pod.spec.serviceAccountName).toBe('api');
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(pod.spec.securityContext).toEqual(podTemplateOf(only(manifests, 'Deployment'))!.spec.securityContext);
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
  });

  test('is labelled as the migration component, so the Service, PDB and app NetworkPolicy never select it', () => {
    expect(job.metadata.labels['app.kubernetes.io/component']).toBe('migration');
    expect(crossObjectProblems(manifests)).toEqual([]);
    expect(only(manifests, 'NetworkPolicy', 'api-migrate-netpol').spec.ingress).toEqual([]);
  });

  test('is strictly valid and restricted', () => {
    expectStrictlyValid(manifests);
  });

  test('the name is <name>-migrate-<hash>: stable for a release, new for a new image or command', () => {
    expect(job.metadata.name).toMatch(/^api-migrate-[0-9a-f]{8}$/);
    expect(only(build().manifests, 'Job').metadata.name).toBe(job.metadata.name);
    expect(only(build({ image: 'ghcr.io/acme/api:1.4.3' }).manifests, 'Job').metadata.name).not.toBe(job.metadata.name);
    expect(only(build({ migrations: { command: ['alembic', 'upgrade', 'head'] } }).manifests, 'Job').metadata.name).not.toBe(job.metadata.name);
  });

  test('Argo CD hook and sync wave annotations are opt-in', () => {
    expect(job.metadata.annotations).toBeUndefined();
    const argo = only(build({ migrations: { command: MIGRATE, argoCdPreSyncHook: true, argoCdSyncWave: -1 } }).manifests, 'Job');
    expect(argo.metadata.annotations).toEqual({
      'argocd.argoproj.io/hook': 'PreSync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
      'argocd.argoproj.io/sync-wave': '-1',
    });
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
    ['a name too long for the Job', { name: 'a'.repeat(50), replicas: 1 }, /derived object name "a{50}-migrate-[0-9a-f]{8}" has 67 characters/],
  ];
  test.each(bad)('rejects %s', (_title, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
