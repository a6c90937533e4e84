import { Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { PythonService, PythonServiceProps } from '../src';
import { allOf, appContainer, crossObjectProblems, expectStrictlyValid, Manifest, only, podTemplateOf, synth } from './support/manifests';

function build(props: Partial<PythonServiceProps> = {}): Manifest[] {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', replicas: 1, ...props });
  return synth(chart);
}

describe('persistence', () => {
  const manifests = build({ persistence: { size: Size.gibibytes(10), storageClassName: 'fast-ssd' } });
  const deployment = only(manifests, 'Deployment');

  test('a PersistentVolumeClaim <name>-data replaces the article\'s hostPath /data', () => {
    const pvc = only(manifests, 'PersistentVolumeClaim');
    expect(pvc.metadata.name).toBe('api-data');
    expect(pvc.spec).toEqual({
      accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } }, storageClassName: 'fast-ssd', volumeMode: 'Filesystem',
    });
    expect(podTemplateOf(deployment)!.spec.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'api-data', readOnly: false } });
    expect(appContainer(deployment).volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
  });

  test('a single-replica ReadWriteOnce service uses the Recreate strategy (a surge pod could not attach the volume)', () => {
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
  });

  test('is strictly valid and restricted (PVCs are an allowed volume type)', () => {
    expectStrictlyValid(manifests);
    expect(crossObjectProblems(manifests)).toEqual([]);
  });

  test('mount path and ReadWriteMany with many replicas', () => {
    const many = build({ replicas: 3, persistence: { size: Size.gibibytes(1), mountPath: '/var/lib/app', accessMode: kplus.PersistentVolumeAccessMode.READ_WRITE_MANY } });
    expect(appContainer(only(many, 'Deployment')).volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/app' });
    expect(only(many, 'Deployment').spec.strategy.type).toBe('RollingUpdate');
    expect(allOf(many, 'PersistentVolumeClaim')[0].spec.accessModes).toEqual(['ReadWriteMany']);
  });

  const bad: Array<[string, Partial<PythonServiceProps>, RegExp]> = [
    ['ReadWriteOnce with 3 replicas', { replicas: 3, persistence: { size: Size.gibibytes(1) } }, /persistence.accessMode "ReadWriteOnce" attaches to a single node, so it cannot serve 3 replicas/],
    ['ReadWriteOncePod with autoscaling', { replicas: undefined, autoscaling: { minReplicas: 1, maxReplicas: 3 }, persistence: { size: Size.gibibytes(1), accessMode: kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE_POD } }, /cannot serve an autoscaled service/],
    ['a zero size', { persistence: { size: Size.gibibytes(0) } }, /persistence.size "0Gi" must be larger than zero/],
    ['a size that is not whole GiB', { persistence: { size: Size.mebibytes(500) } }, /persistence.size "500Mi" must be a whole number of gibibytes/],
    ['a relative mount path', { persistence: { size: Size.gibibytes(1), mountPath: 'data' } }, /persistence.mountPath "data" must be an HTTP path that starts with "\/"/],
    ['mounting over /tmp', { persistence: { size: Size.gibibytes(1), mountPath: '/tmp' } }, /persistence.mountPath "\/tmp" is already used by a scratch volume/],
    ['an invalid storage class', { persistence: { size: Size.gibibytes(1), storageClassName: 'Fast SSD' } }, /persistence.storageClassName "Fast SSD" must be a DNS-1123 subdomain/],
  ];
  test.each(bad)('rejects %s', (_title, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
