import { Size } from 'cdk8s';
import { kplus } from '../../core/plus';
import { PropValidator } from '../../core/validation';

/**
 * A persistent volume for a `PythonService` (hostPath is not offered because it breaks every Pod Security level above "privileged").
 */
export interface PythonServicePersistence {
  /**
   * Capacity to request. A whole number of gibibytes.
   */
  readonly size: Size;

  /**
   * Where the volume is mounted in the container.
   * @default "/data"
   */
  readonly mountPath?: string;

  /**
   * StorageClass to provision from.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;

  /**
   * Access mode. ReadWriteOnce volumes attach to one node, so they need a single replica.
   * @default kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE
   */
  readonly accessMode?: kplus.PersistentVolumeAccessMode;
}

/** Validates persistence props against the replica settings; throws naming the prop. */
export function validatePersistence(v: PropValidator, p: PythonServicePersistence, replicas: number, autoscaled: boolean): void {
  v.wholeSize('persistence.size', p.size, 'Gi');
  v.httpPath('persistence.mountPath', p.mountPath);
  for (const reserved of ['/tmp', '/run/gunicorn', '/run/prometheus']) {
    if (p.mountPath === reserved) v.fail('persistence.mountPath', p.mountPath, 'is already used by a scratch volume of this service');
  }
  if (p.storageClassName !== undefined) v.dnsSubdomain('persistence.storageClassName', p.storageClassName);
  const mode = p.accessMode ?? kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE;
  if (!Object.values(kplus.PersistentVolumeAccessMode).includes(mode)) {
    v.fail('persistence.accessMode', mode, `must be one of ${Object.values(kplus.PersistentVolumeAccessMode).join(', ')}`);
  }
  if (isSingleAttach(mode) && (replicas > 1 || autoscaled)) {
    v.fail('persistence.accessMode', mode, `attaches to a single node, so it cannot serve ${autoscaled ? 'an autoscaled service' : `${replicas} replicas`}; use one replica without autoscaling, or a ReadWriteMany volume`);
  }
}

/** True for access modes that let only one node (or pod) mount the volume. */
export function isSingleAttach(mode: kplus.PersistentVolumeAccessMode): boolean {
  return mode === kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE || mode === kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE_POD;
}
