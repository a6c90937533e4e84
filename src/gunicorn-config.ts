// The gunicorn configuration file the library renders for prometheus_client's multiprocess mode,
// so metrics work with no change to the app. Internal.

/** Where the rendered configuration is mounted (a ConfigMap, read-only). */
export const GUNICORN_CONFIG_DIR = '/etc/gunicorn';
/** The file name inside it. */
export const GUNICORN_CONFIG_FILE = 'gunicorn.conf.py';

/** What the rendered configuration does. */
export interface GunicornConfigOptions {
  /** Serve the aggregated metrics of all workers on this port from the arbiter; none when the app serves them itself. */
  readonly metricsPort?: number;
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
  return `# Rendered by cdk8s-python-service: prometheus_client multiprocess hooks for gunicorn.
# Settings and hooks of the app's own ./gunicorn.conf.py still apply: it runs first, and each
# hook of it is called after the one below.
import glob
import os

_app_config = os.path.join(os.getcwd(), "gunicorn.conf.py")
if os.path.isfile(_app_config):
    with open(_app_config) as _file:
        exec(compile(_file.read(), _app_config, "exec"))

_app_on_starting = globals().get("on_starting")
_app_when_ready = globals().get("when_ready")
_app_child_exit = globals().get("child_exit")

METRICS_PORT = ${port === undefined ? 'None' : String(port)}


def on_starting(server):
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
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(worker.pid)
    if _app_child_exit is not None:
        _app_child_exit(server, worker)
`;
}
