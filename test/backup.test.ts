import { App, Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { BackupHookErrorMode, BackupObjects, BackupSchedule, BackupVolumeMode, PythonService, PythonServiceProps } from '../src';
import { evaluatePolicy } from './support/cel';
import { allOf, expectStrictlyValid, Manifest, only, podTemplateOf, selects, servicePolicy, synth } from './support/manifests';

/** What a Velero backup made from a Schedule's template takes of the app namespace's objects. */
function veleroTakes(template: any, m: Manifest): boolean {
  if (!template.includedNamespaces.includes(m.metadata.namespace)) return false;
  const group = (m.apiVersion as string).includes('/') ? (m.apiVersion as string).split('/')[0] : '';
  const resource = `${m.kind.toLowerCase()}s${group ? `.${group}` : ''}`;
  if ((template.excludedResources ?? []).includes(resource)) return false;
  return template.labelSelector === undefined || selects(template.labelSelector.matchLabels, m.metadata.labels);
}

function build(props: Partial<PythonServiceProps> = {}, extra?: (chart: Chart) => void): Manifest[] {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1.4.2', backup: { schedule: '0 0 * * *' }, ...props });
  extra?.(chart);
  return synth(chart);
}

describe('backup through PythonService', () => {
  const manifests = build({ replicas: 1, persistence: { size: Size.gibibytes(5) }, migrations: { command: ['migrate'] } }, (chart) => {
    new PythonService(chart, 'api-admin', { image: 'ghcr.io/acme/admin:1', replicas: 1 });
    // Made elsewhere, referenced by name, carrying none of the service's labels.
    new kplus.Secret(chart, 'DatabaseUrl', { metadata: { name: 'database-url' }, stringData: { url: 'postgres://db/shop' } });
    new kplus.ConfigMap(chart, 'Settings', { metadata: { name: 'settings' }, data: { 'settings.toml': 'debug = false' } });
  });
  const schedule = only(manifests, 'Schedule');

  test('a velero.io/v1 Schedule in Velero\'s namespace, daily at 0 0 * * * (the article\'s)', () => {
    expect(schedule.apiVersion).toBe('velero.io/v1');
    expect(schedule.metadata).toMatchObject({ name: 'shop-api-backup', namespace: 'velero' });
    expect(schedule.spec.schedule).toBe('0 0 * * *');
  });

  test('backs up only the app namespace, kept 30 days', () => {
    expect(schedule.spec.template).toMatchObject({ includedNamespaces: ['shop'], ttl: '720h0m0s' });
  });

  test('a restore brings the app back: the whole namespace, Secrets and ConfigMaps made elsewhere included, but no Job and no Pod', () => {
    const template = schedule.spec.template;
    expect(template.labelSelector).toBeUndefined();
    expect(template.excludedResources).toEqual(['jobs.batch', 'pods']);
    const restored = manifests.filter((m) => veleroTakes(template, m)).map((m) => `${m.kind}/${m.metadata.name}`).sort();
    expect(restored).toEqual([
      'ConfigMap/settings', 'Deployment/api', 'Deployment/api-admin', 'NetworkPolicy/api-admin-netpol', 'NetworkPolicy/api-migrate-netpol', 'NetworkPolicy/api-netpol',
      'PersistentVolumeClaim/api-data', 'Secret/database-url', 'Service/api', 'Service/api-admin', 'ServiceAccount/api', 'ServiceAccount/api-admin', 'ServiceAccount/api-migrate',
    ]);
    // The migration Job is in the chart but never in the backup: a restore must not run it again.
    expect(manifests.some((m) => m.kind === 'Job' && !veleroTakes(template, m))).toBe(true);
  });

  test('BackupObjects.SERVICE_LABELS picks every object of this service and nothing else in the chart', () => {
    const scoped = build({ replicas: 1, persistence: { size: Size.gibibytes(5) }, migrations: { command: ['migrate'] }, backup: { schedule: '0 0 * * *', objects: BackupObjects.SERVICE_LABELS } }, (chart) => {
      new PythonService(chart, 'api-admin', { image: 'ghcr.io/acme/admin:1', replicas: 1 });
    });
    const template = only(scoped, 'Schedule').spec.template;
    const picked = scoped.filter((m) => veleroTakes(template, m)).map((m) => `${m.kind}/${m.metadata.name}`).sort();
    expect(picked).toEqual([
      'Deployment/api', 'NetworkPolicy/api-migrate-netpol', 'NetworkPolicy/api-netpol', 'PersistentVolumeClaim/api-data', 'Service/api', 'ServiceAccount/api', 'ServiceAccount/api-migrate',
    ]);
    for (const m of scoped.filter((x) => podTemplateOf(x))) {
      const mine = m.metadata.name.startsWith('api-migrate') || m.metadata.name === 'api';
      expect(selects(template.labelSelector.matchLabels, podTemplateOf(m)!.metadata.labels)).toBe(mine);
    }
    expectStrictlyValid(scoped);
  });

  test('snapshots the persistent volume by default', () => {
    expect(schedule.spec.template).toMatchObject({ snapshotVolumes: true, defaultVolumesToFsBackup: false });
    expect(podTemplateOf(only(manifests, 'Deployment', 'api'))!.metadata.annotations).toBeUndefined();
  });

  test('validates strictly against the Velero CRD', () => {
    expectStrictlyValid(manifests);
  });
});

describe('backup volumes and hooks', () => {
  test('file-system backup opts in exactly the data volume, never the scratch emptyDirs, and keeps the Pods Velero backs it up through', () => {
    const manifests = build({ replicas: 1, persistence: { size: Size.gibibytes(1) }, backup: { schedule: '30 2 * * 1-5', volumes: BackupVolumeMode.FILE_SYSTEM } });
    expect(only(manifests, 'Schedule').spec.template).toMatchObject({ snapshotVolumes: false, defaultVolumesToFsBackup: false, excludedResources: ['jobs.batch'] });
    expect(podTemplateOf(only(manifests, 'Deployment'))!.metadata.annotations).toEqual({ 'backup.velero.io/backup-volumes': 'data' });
  });

  test('no persistence: objects only', () => {
    expect(only(build(), 'Schedule').spec.template.snapshotVolumes).toBe(false);
  });

  test('hooks become Velero pod annotations on the app container', () => {
    const manifests = build({ backup: { schedule: '0 0 * * *', hooks: { pre: ['python', 'manage.py', 'freeze'], post: ['python', 'manage.py', 'thaw'], timeout: Duration.minutes(2), onError: BackupHookErrorMode.CONTINUE } } });
    expect(podTemplateOf(only(manifests, 'Deployment'))!.metadata.annotations).toEqual({
      'pre.hook.backup.velero.io/container': 'app',
      'pre.hook.backup.velero.io/command': '["python","manage.py","freeze"]',
      'pre.hook.backup.velero.io/on-error': 'Continue',
      'pre.hook.backup.velero.io/timeout': '120s',
      'post.hook.backup.velero.io/container': 'app',
      'post.hook.backup.velero.io/command': '["python","manage.py","thaw"]',
      'post.hook.backup.velero.io/on-error': 'Continue',
      'post.hook.backup.velero.io/timeout': '120s',
    });
    // Velero runs pod hooks only in pods it backs up.
    expect(only(manifests, 'Schedule').spec.template.excludedResources).toEqual(['jobs.batch']);
    expectStrictlyValid(manifests);
  });

  test('hooks run in every replica; hooksOnce demands a singleton', () => {
    const hooks = { pre: ['python', 'manage.py', 'freeze'] };
    expect(() => build({ backup: { schedule: '0 0 * * *', hooks, hooksOnce: true } }))
      .toThrow("PythonService 'api': backup.hooksOnce true needs the pods that carry the hooks to be a singleton, but this service runs up to 3 replicas and Velero runs pod hooks in each (use replicas: 1 without autoscaling)");
    expect(() => build({ autoscaling: { minReplicas: 1, maxReplicas: 2 }, backup: { schedule: '0 0 * * *', hooks, hooksOnce: true } })).toThrow(/runs up to 2 replicas/);
    expect(podTemplateOf(only(build({ replicas: 1, backup: { schedule: '0 0 * * *', hooks, hooksOnce: true } }), 'Deployment'))!.metadata.annotations)
      .toMatchObject({ 'pre.hook.backup.velero.io/command': '["python","manage.py","freeze"]' });
  });

  test('retention, Velero namespace and storage location', () => {
    const schedule = only(build({ backup: { schedule: '0 */6 * * *', retention: Duration.days(7), veleroNamespace: 'backup', storageLocation: 'offsite' } }), 'Schedule');
    expect(schedule.metadata.namespace).toBe('backup');
    expect(schedule.spec.template).toMatchObject({ ttl: '168h0m0s', storageLocation: 'offsite' });
  });

  test('two apps named alike in two namespaces get distinct Schedules in Velero\'s namespace', () => {
    const app = new App();
    const a = new Chart(app, 'a', { namespace: 'shop' });
    const b = new Chart(app, 'b', { namespace: 'blog' });
    new PythonService(a, 'api', { image: 'x/api:1', backup: { schedule: '0 0 * * *' } });
    new PythonService(b, 'api', { image: 'x/api:1', backup: { schedule: '0 0 * * *' } });
    expect([only(synth(a), 'Schedule').metadata.name, only(synth(b), 'Schedule').metadata.name]).toEqual(['shop-api-backup', 'blog-api-backup']);
  });
});

describe('BackupSchedule alone', () => {
  test('backs up any labelled objects and hands out the pod annotations', () => {
    const chart = Testing.chart();
    const backup = new BackupSchedule(chart, 'b', {
      name: 'legacy',
      namespace: 'old',
      selector: { app: 'legacy' },
      objects: BackupObjects.SERVICE_LABELS,
      schedule: '15 3 * * SUN',
      volumes: BackupVolumeMode.FILE_SYSTEM,
      fileSystemVolumes: ['state', 'uploads'],
    });
    const schedule = only(synth(chart), 'Schedule');
    expect(schedule.metadata.name).toBe('old-legacy-backup');
    expect(schedule.spec.template.labelSelector).toEqual({ matchLabels: { app: 'legacy' } });
    expect(backup.podAnnotations).toEqual({ 'backup.velero.io/backup-volumes': 'state,uploads' });
    expectStrictlyValid(allOf(synth(chart), 'Schedule'));
  });
});

describe('bad backup props', () => {
  const cases: Array<[string, Partial<PythonServiceProps>, RegExp]> = [
    ['a 4-field cron', { backup: { schedule: '0 0 * *' } }, /PythonService 'api': backup.schedule "0 0 \* \*" is not a 5-field cron expression .* it has 4 fields/],
    ['a 6-field cron', { backup: { schedule: '0 0 0 * * *' } }, /backup.schedule "0 0 0 \* \* \*" is not a 5-field cron expression/],
    ['a descriptor', { backup: { schedule: '@daily' } }, /backup.schedule "@daily" is not a 5-field cron expression .* it has 1 field$/],
    ['minute 60', { backup: { schedule: '60 0 * * *' } }, /backup.schedule "60 0 \* \* \*" is not a valid cron expression: value 60 is outside 0-59/],
    ['hour 24', { backup: { schedule: '0 24 * * *' } }, /value 24 is outside 0-23/],
    ['month 13', { backup: { schedule: '0 0 1 13 *' } }, /value 13 is outside 1-12/],
    ['garbage', { backup: { schedule: 'a b c d e' } }, /backup.schedule "a b c d e" is not a valid cron expression/],
    ['a Quartz L', { backup: { schedule: '0 0 L * *' } }, /uses L, W or # in the day of month field/],
    ['zero retention', { backup: { schedule: '0 0 * * *', retention: Duration.seconds(0) } }, /backup.retention \(0 seconds\) must be longer than zero/],
    ['an empty pre hook', { backup: { schedule: '0 0 * * *', hooks: { pre: [] } } }, /backup.hooks.pre \[\] must be a non-empty command/],
    ['a blank post hook', { backup: { schedule: '0 0 * * *', hooks: { post: [' '] } } }, /backup.hooks.post \[" "\] must be a non-empty command/],
    ['a bad Velero namespace', { backup: { schedule: '0 0 * * *', veleroNamespace: 'Velero' } }, /backup.veleroNamespace "Velero" must be a DNS-1123 label/],
    ['file-system backup without a volume', { backup: { schedule: '0 0 * * *', volumes: BackupVolumeMode.FILE_SYSTEM } }, /backup.volumes "file-system" needs persistence/],
  ];
  test.each(cases)('%s', (_title, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('no namespace on the chart', () => {
    const chart = new Chart(Testing.app(), 'c');
    expect(() => new PythonService(chart, 'api', { image: 'x/api:1', backup: { schedule: '0 0 * * *' } }))
      .toThrow(/PythonService 'api': backup "0 0 \* \* \*" needs the app namespace/);
  });
});

describe('restores the admission policy lets through (Velero\'s file-system restore helper)', () => {
  const HELPER = 'velero/velero:v1.17.2';
  const secured = (backup: Partial<PythonServiceProps['backup']> = {}) => build({
    replicas: 1,
    persistence: { size: Size.gibibytes(1) },
    backup: Object.assign({ schedule: '0 0 * * *', volumes: BackupVolumeMode.FILE_SYSTEM }, backup),
    security: { allowedImages: ['ghcr.io/acme/'] },
  });
  /** A restored pod: the app's pod with Velero's restore-wait init container, restricted like the app (Velero copies the first container's securityContext when no restore-helper ConfigMap exists). */
  const restoredPod = (manifests: Manifest[]) => {
    const template = JSON.parse(JSON.stringify(podTemplateOf(only(manifests, 'Deployment'))!));
    template.spec.initContainers = [{ name: 'restore-wait', image: HELPER, command: ['/velero-restore-helper'], securityContext: template.spec.containers[0].securityContext }];
    return { apiVersion: 'v1', kind: 'Pod', metadata: Object.assign({}, template.metadata, { name: 'restored', namespace: 'shop' }), spec: template.spec };
  };

  test('with restoreHelperImage, the service\'s and the namespace\'s policies admit a restored pod', () => {
    const manifests = secured({ restoreHelperImage: HELPER });
    for (const policy of allOf(manifests, 'ValidatingAdmissionPolicy')) {
      expect([policy.metadata.name, evaluatePolicy(policy.spec, restoredPod(manifests))]).toEqual([policy.metadata.name, { allowed: true }]);
    }
    expectStrictlyValid(manifests);
  });

  test('without it, the policies refuse the restored pod, and synthesis warns with the fix', () => {
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => { written.push(String(chunk)); return true; });
    let manifests: Manifest[];
    try {
      manifests = secured();
    } finally {
      spy.mockRestore();
    }
    expect(written.filter((l) => l.includes('backup.restoreHelperImage is not'))).toEqual([expect.stringContaining('set backup.restoreHelperImage to the image your Velero runs (e.g. "velero/velero:v1.17.2")')]);
    expect(evaluatePolicy(servicePolicy(manifests!).spec, restoredPod(manifests!)).message).toMatch(/^allowed-images: images not allowed: velero\/velero:v1.17.2/);
  });

  test.each([
    ['without file-system backups', { volumes: BackupVolumeMode.SNAPSHOT, restoreHelperImage: HELPER }, 'backup.restoreHelperImage "velero/velero:v1.17.2" only applies with backup.volumes BackupVolumeMode.FILE_SYSTEM'],
    ['without a tag', { restoreHelperImage: 'velero/velero' }, 'backup.restoreHelperImage "velero/velero" must be an image reference with a tag or digest'],
  ])('%s is an error', (_what, backup, message) => {
    expect(() => secured(backup as any)).toThrow(message);
  });
});
