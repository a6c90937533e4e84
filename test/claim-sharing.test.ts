import { Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { PythonService, WorkerProcess } from '../src';

// A claim that attaches to one node (ReadWriteOnce) or one pod (ReadWriteOncePod), mounted by more
// pods than it can serve: the pods scheduled elsewhere wait for the volume forever, so the app
// fails to synthesize and the message names the claim, who mounts it and the fix.

const RWO = kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE;

function appWith(mode: kplus.PersistentVolumeAccessMode, options: { replicas?: number; worker?: 'service' | 'own' | 'none'; pinned?: boolean; existing?: boolean } = {}) {
  const app = Testing.app();
  const chart = new Chart(app, 'docs', { namespace: 'docs' });
  const claim = options.existing
    ? kplus.PersistentVolumeClaim.fromClaimName(chart, 'Existing', 'media')
    : new kplus.PersistentVolumeClaim(chart, 'Media', { metadata: { name: 'media' }, storage: Size.gibibytes(1), accessModes: [mode] });
  const mount = { path: '/app/media', volume: kplus.Volume.fromPersistentVolumeClaim(chart, 'MediaVolume', claim, { name: 'media' }), pinnedToOneNode: options.pinned };
  const worker = options.worker ?? 'service';
  const service = new PythonService(chart, 'docs', {
    image: 'registry.example.com/docs:1.0',
    replicas: options.replicas ?? 1,
    mounts: worker === 'own' ? [] : [mount],
  });
  if (worker !== 'none') service.addWorker('consumer', { process: WorkerProcess.command(['python', '-m', 'consume']), replicas: 1, mounts: worker === 'own' ? [mount] : [] });
  return app;
}

describe('a claim that attaches to one node or one pod', () => {
  test('mounted by the web pods and a worker (the service\'s mounts reach every component): an error naming the claim, both workloads and the fix', () => {
    expect(() => appWith(RWO).synth()).toThrow(
      'PersistentVolumeClaim "docs/media" (ReadWriteOnce) is mounted by PythonService \'docs\', PythonService \'docs\' PythonWorker \'consumer\': '
      + 'a ReadWriteOnce claim attaches to one node, so the other pods wait for it forever; use a ReadWriteMany claim, mount it in one workload of one replica '
      + '(a component\'s own mounts, not the service\'s), or pin those pods to one node and set pinnedToOneNode on its mounts');
  });

  test('mounted by one workload of several replicas (a worker runs two by default): an error that counts them', () => {
    expect(() => appWith(RWO, { worker: 'none', replicas: 1 }).synth()).not.toThrow();
    expect(() => appWith(RWO, { replicas: 3, worker: 'none' }).synth()).toThrow(/"docs\/media" \(ReadWriteOnce\) is mounted by PythonService 'docs' \(up to 3 replicas\)/);
    const app = Testing.app();
    const chart = new Chart(app, 'docs', { namespace: 'docs' });
    const claim = new kplus.PersistentVolumeClaim(chart, 'Media', { metadata: { name: 'media' }, storage: Size.gibibytes(1), accessModes: [RWO] });
    const service = new PythonService(chart, 'docs', { image: 'registry.example.com/docs:1.0', replicas: 1 });
    service.addWorker('consumer', {
      process: WorkerProcess.command(['python', '-m', 'consume']), mounts: [{ path: '/app/media', volume: kplus.Volume.fromPersistentVolumeClaim(chart, 'V', claim) }],
    });
    expect(() => app.synth()).toThrow(/mounted by PythonService 'docs' PythonWorker 'consumer' \(up to 2 replicas\)/);
  });

  test('the migration Job counts: it runs beside the web pods during a release', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'docs', { namespace: 'docs' });
    const claim = new kplus.PersistentVolumeClaim(chart, 'Media', { metadata: { name: 'media' }, storage: Size.gibibytes(1), accessModes: [RWO] });
    new PythonService(chart, 'docs', {
      image: 'registry.example.com/docs:1.0',
      replicas: 1,
      migrations: { command: ['python', 'manage.py', 'migrate'] },
      mounts: [{ path: '/app/media', volume: kplus.Volume.fromPersistentVolumeClaim(chart, 'V', claim) }],
    });
    expect(() => app.synth()).toThrow(/is mounted by PythonService 'docs' migration, PythonService 'docs':/);
  });

  test('mounted by one worker of one replica only: fine', () => {
    expect(() => appWith(RWO, { worker: 'own' }).synth()).not.toThrow();
  });

  test('with its pods pinned to one node (pinnedToOneNode): fine for ReadWriteOnce, never for ReadWriteOncePod', () => {
    expect(() => appWith(RWO, { pinned: true }).synth()).not.toThrow();
    expect(() => appWith(kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE_POD, { pinned: true }).synth())
      .toThrow(/"docs\/media" \(ReadWriteOncePod\) is mounted by .*attaches to one pod.*mount it in one workload of one replica \(.*\), or use a ReadWriteMany claim/);
  });

  test('ReadWriteMany, or a claim that exists outside the app (its access mode is not known here): no check', () => {
    expect(() => appWith(kplus.PersistentVolumeAccessMode.READ_WRITE_MANY, { replicas: 3 }).synth()).not.toThrow();
    expect(() => appWith(RWO, { replicas: 3, existing: true }).synth()).not.toThrow();
  });

  test('pinnedToOneNode must be a boolean', () => {
    expect(() => appWith(RWO, { pinned: 'yes' as any })).toThrow(/mounts\[0\]\.pinnedToOneNode: "yes" must be true or false|mounts\[0\]\.pinnedToOneNode.*must be true or false/);
  });
});
