/**
 * The names of the volumes the library mounts itself: a pod spec takes each volume name once, so
 * a user's `mounts` may not reuse them. One place, read by the modules that mount them and by the
 * check on `mounts`. Internal.
 */
export const OWN_VOLUME_NAMES = {
  /** Every Python container's writable /tmp. */
  tmp: 'tmp',
  /** The service's config files (`config`). */
  config: 'config',
  /** The service's claim (`persistence`). */
  data: 'data',
  /** gunicorn's rendered configuration file. */
  gunicornConfig: 'gunicorn-config',
  /** gunicorn's worker heartbeat directory, in memory. */
  workerTmp: 'worker-tmp',
  /** prometheus_client's multiprocess directory. */
  metrics: 'prometheus-multiproc',
} as const;
