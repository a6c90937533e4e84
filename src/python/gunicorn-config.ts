import { Construct } from 'constructs';
import { kplus } from '../core/plus';
import { OWN_VOLUME_NAMES } from '../core/volume-names';
import { contentNamedConfigMap } from '../features/config/service-config';

// The gunicorn configuration file the library renders for prometheus_client's multiprocess mode
// and OpenTelemetry's post-fork start, so both work with no change to the app. Internal.

/** Where the rendered configuration is mounted (a ConfigMap, read-only). */
export const GUNICORN_CONFIG_DIR = '/etc/gunicorn';
/** The file name inside it. */
export const GUNICORN_CONFIG_FILE = 'gunicorn.conf.py';

/** What the rendered configuration does. */
export interface GunicornConfigOptions {
  /** Serve the aggregated metrics of all workers on this port from the arbiter; none when the app serves them itself. */
  readonly metricsPort?: number;
  /** Run prometheus_client's multiprocess hooks (default true). */
  readonly multiprocess?: boolean;
  /** Start OpenTelemetry's auto-instrumentation in each worker after the fork (default false). */
  readonly otelPostFork?: boolean;
}

/**
 * The Python source of the configuration file. It first runs the app's own `gunicorn.conf.py`
 * from the working directory if there is one (gunicorn reads that file only when no `--config`
 * is given, so passing ours would otherwise drop it), then wraps the app's hooks:
 * - `on_starting` clears the multiprocess directory, which outlives a container restart;
 * - `when_ready` starts the metrics server on its own port, in the arbiter, so `/metrics` stays
 *   off the app port;
 * - `child_exit` marks the dead worker's files (`mark_process_dead`), or live gauges of dead
 *   workers pile up in the memory-backed directory.
 * The app's hook of the same name runs after ours. It needs `prometheus_client` in the image.
 */
export function renderGunicornConfig(options: GunicornConfigOptions): string {
  const port = options.metricsPort;
  const py = (b: boolean) => (b ? 'True' : 'False');
  return `# Rendered by cdk8s-python-service: prometheus_client multiprocess hooks and the OpenTelemetry
# post-fork start for gunicorn. Settings and hooks of the app's own ./gunicorn.conf.py still
# apply: it runs first, and each hook of it is called after the one below.
import glob
import os

_app_config = os.path.join(os.getcwd(), "gunicorn.conf.py")
if os.path.isfile(_app_config):
    with open(_app_config) as _file:
        exec(compile(_file.read(), _app_config, "exec"))

_app_on_starting = globals().get("on_starting")
_app_when_ready = globals().get("when_ready")
_app_child_exit = globals().get("child_exit")
_app_post_fork = globals().get("post_fork")

MULTIPROCESS = ${py(options.multiprocess ?? true)}
METRICS_PORT = ${port === undefined ? 'None' : String(port)}
OTEL_POST_FORK = ${py(options.otelPostFork ?? false)}


def on_starting(server):
    if MULTIPROCESS:
        directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)
    if _app_on_starting is not None:
        _app_on_starting(server)


def when_ready(server):
    if METRICS_PORT is not None:
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        start_http_server(METRICS_PORT, registry=registry)
    if _app_when_ready is not None:
        _app_when_ready(server)


def child_exit(server, worker):
    if MULTIPROCESS:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(worker.pid)
    if _app_child_exit is not None:
        _app_child_exit(server, worker)


def post_fork(server, worker):
    # The SDK's batch span processor is not fork-safe: start it in each worker, never in the arbiter.
    if OTEL_POST_FORK:
        from opentelemetry.instrumentation.auto_instrumentation import initialize

        initialize()
    if _app_post_fork is not None:
        _app_post_fork(server, worker)
`;
}

/**
 * The immutable ConfigMap `<name>-<hash>` with the rendered configuration, mounted read-only at
 * `GUNICORN_CONFIG_DIR` in `container` (the command passes it with `--config`).
 */
export function addGunicornConfig(
  scope: Construct, container: kplus.Container, name: string, labels: { [key: string]: string }, options: GunicornConfigOptions,
): kplus.ConfigMap {
  // Named by its content, as the config files are: a change of the hooks rolls the pods, and
  // pods mid-rollout keep the configuration they started with.
  const configMap = contentNamedConfigMap(scope, 'GunicornConfig', name, labels, { [GUNICORN_CONFIG_FILE]: renderGunicornConfig(options) });
  container.mount(GUNICORN_CONFIG_DIR, kplus.Volume.fromConfigMap(scope, 'GunicornConfigVolume', configMap, { name: OWN_VOLUME_NAMES.gunicornConfig }), { readOnly: true });
  return configMap;
}
