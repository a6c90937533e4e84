import { ApiObject, Duration, Size } from 'cdk8s';
import { Construct } from 'constructs';
import { customResource } from '../../core/custom-resource';
import { NetworkProtocol, ServiceNetworkPolicy } from '../../core/network-policy';
import { kplus } from '../../core/plus';
import { isDnsLabel, PropValidator } from '../../core/validation';
import { OWN_VOLUME_NAMES } from '../../core/volume-names';
import type * as monitoring from '../../imports/monitoring.coreos.com';

/**
 * Names of the metrics the alert rules query. The defaults fit prometheus-fastapi-instrumentator
 * and any exporter that follows Prometheus' HTTP naming conventions; see the README for
 * django-prometheus, prometheus-flask-exporter and starlette-exporter.
 */
export interface ServiceAlertOptions {
  /**
   * Counter of HTTP requests, with a status-code label.
   * @default "http_requests_total"
   */
  readonly requestsMetric?: string;

  /**
   * The label on `requestsMetric` holding the HTTP status (or its class, such as "5xx").
   * @default "status"
   */
  readonly statusLabel?: string;

  /**
   * Histogram of request durations in seconds (without the `_bucket` suffix).
   * @default "http_request_duration_seconds"
   */
  readonly latencyHistogram?: string;

  /**
   * Fire when more than this fraction of requests answer 5xx (0-1).
   * @default 0.05
   */
  readonly errorRatio?: number;

  /**
   * Fire when the 95th percentile latency exceeds this.
   * @default Duration.millis(500)
   */
  readonly latencyP95?: Duration;

  /**
   * Severity label on every alert.
   * @default "warning"
   */
  readonly severity?: string;

  /**
   * How long a condition must hold before its alert fires (each rule's `for`), the same for every
   * alert. Shorter pages sooner and on blips; longer rides out a rollout.
   * @default - each alert's own: 5 minutes for targets down and crash loops, 10 for errors and
   * latency, 15 for running at the maximum replicas (each outlasts a rolling update or a spike)
   */
  readonly pendingPeriod?: Duration;
}

/**
 * What a ServiceMonitor scrapes and whether it alerts, shared by `PythonServiceMonitoring` and
 * `ServiceMonitoringProps`.
 */
export interface MonitoringScrapeOptions {
  /**
   * HTTP path of the metrics endpoint.
   * @default "/metrics"
   */
  readonly path?: string;

  /**
   * Scrape interval.
   * @default Duration.seconds(30) - prometheus-operator's common scrape interval
   */
  readonly interval?: Duration;

  /**
   * Scrape timeout; at most `interval`.
   * @default Duration.seconds(10)
   */
  readonly scrapeTimeout?: Duration;

  /**
   * Labels on the ServiceMonitor and PrometheusRule, which Prometheus uses to pick them
   * (e.g. `{ release: 'kube-prometheus-stack' }`).
   * @default - none
   */
  readonly labels?: { [key: string]: string };

  /**
   * Emit a PrometheusRule with alerts for this service.
   * @default false
   */
  readonly alerts?: boolean;

  /**
   * Metric names and thresholds for the alerts.
   * @default - see ServiceAlertOptions
   */
  readonly alertOptions?: ServiceAlertOptions;
}

/**
 * Prometheus monitoring for a `PythonService`.
 */
export interface PythonServiceMonitoring extends MonitoringScrapeOptions {
  /**
   * Container port that serves metrics. A port other than the service port gets its own
   * container and Service port named `metrics`, open only to the scraper.
   * @default - the app port (`http`); for gunicorn exposed outside the cluster (Ingress, Gateway, LoadBalancer, NodePort), 9090 (9091 or 9092 if taken), served by the gunicorn arbiter, so `/metrics` is not public
   */
  readonly port?: number;

  /**
   * Namespace Prometheus scrapes from; the NetworkPolicy admits it to the metrics port.
   * @default "monitoring"
   */
  readonly scraperNamespace?: string;

  /**
   * Where prometheus_client keeps its multiprocess files when the server runs more than one
   * worker (`PROMETHEUS_MULTIPROC_DIR`, a memory-backed emptyDir).
   * @default "/run/prometheus"
   */
  readonly multiprocessDir?: string;
}

/**
 * Props for `ServiceMonitoring`.
 */
export interface ServiceMonitoringProps extends MonitoringScrapeOptions {
  /**
   * The Service to scrape; the ServiceMonitor selects it by its labels.
   * @default - `serviceSelector` must be given
   */
  readonly service?: kplus.Service;

  /**
   * Labels of the Service(s) to scrape, when no kplus Service is given.
   * @default - the labels of `service`
   */
  readonly serviceSelector?: { [key: string]: string };

  /**
   * Name of the Service port to scrape. With `service`, it must exist on that Service.
   * @default "http"
   */
  readonly portName?: string;

  /**
   * Name of the ServiceMonitor (the PrometheusRule gets `<name>-alerts`).
   * @default - the Service's name
   */
  readonly name?: string;

  /**
   * The namespace of the scraped Service(s).
   * @default - the chart's namespace
   */
  readonly namespace?: string;

  /**
   * Name prefix of the pods (the Deployment name), for the crash-loop alert.
   * @default - the ServiceMonitor name
   */
  readonly deploymentName?: string;

  /**
   * Name of a HorizontalPodAutoscaler, for the "at max replicas" alert.
   * @default - no autoscaler alert
   */
  readonly autoscalerName?: string;
}

const DEFAULT_INTERVAL = Duration.seconds(30);
const DEFAULT_SCRAPE_TIMEOUT = Duration.seconds(10);
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** 10 s, or the interval when that is shorter (a timeout may not exceed it). */
function defaultScrapeTimeout(interval: Duration): Duration {
  return interval.toSeconds() < DEFAULT_SCRAPE_TIMEOUT.toSeconds() ? interval : DEFAULT_SCRAPE_TIMEOUT;
}

/** Validates monitoring options; `prefix` is how the caller names them (e.g. "monitoring."). */
export function validateMonitoringOptions(v: PropValidator, prefix: string, o: {
  path?: string; interval?: Duration; scrapeTimeout?: Duration; labels?: { [key: string]: string }; alertOptions?: ServiceAlertOptions;
}): void {
  v.httpPath(`${prefix}path`, o.path);
  const interval = o.interval ?? DEFAULT_INTERVAL;
  v.positiveDuration(`${prefix}interval`, interval);
  const timeout = o.scrapeTimeout ?? defaultScrapeTimeout(interval);
  v.positiveDuration(`${prefix}scrapeTimeout`, timeout);
  if (timeout.toSeconds() > interval.toSeconds()) {
    v.fail(`${prefix}scrapeTimeout`, timeout, `must not exceed ${prefix}interval (${interval.toSeconds()}s)`);
  }
  v.labelMap(`${prefix}labels`, o.labels);
  const a = o.alertOptions ?? {};
  for (const [key, value] of [['requestsMetric', a.requestsMetric], ['latencyHistogram', a.latencyHistogram]] as const) {
    if (value !== undefined && !METRIC_NAME.test(value)) v.fail(`${prefix}alertOptions.${key}`, value, 'must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)');
  }
  if (a.statusLabel !== undefined && !LABEL_NAME.test(a.statusLabel)) {
    v.fail(`${prefix}alertOptions.statusLabel`, a.statusLabel, 'must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)');
  }
  if (a.errorRatio !== undefined && !(a.errorRatio > 0 && a.errorRatio < 1)) {
    v.fail(`${prefix}alertOptions.errorRatio`, a.errorRatio, 'must be a fraction between 0 and 1 (exclusive)');
  }
  if (a.latencyP95 !== undefined) {
    if (!(a.latencyP95 instanceof Duration) || !(a.latencyP95.toMilliseconds() > 0)) v.fail(`${prefix}alertOptions.latencyP95`, a.latencyP95, 'must be longer than zero');
  }
  if (a.severity !== undefined && !/^[a-z]+$/.test(a.severity)) v.fail(`${prefix}alertOptions.severity`, a.severity, 'must be a lower-case word such as "warning" or "critical"');
  v.positiveDuration(`${prefix}alertOptions.pendingPeriod`, a.pendingPeriod);
}

/** A whole number of seconds as a Prometheus duration in its largest whole unit ("15m", "90s"). */
function prometheusDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** Generated CRD classes are loaded on first use, so `require()` of the library stays cheap. */
function monitoringApi(): typeof monitoring {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../imports/monitoring.coreos.com');
}

/**
 * A prometheus-operator `ServiceMonitor` (on the real CRD) and, with
 * `alerts`, a `PrometheusRule` scoped to the monitored service.
 *
 * Works on any kplus Service, or on a label selector and a port name.
 */
export class ServiceMonitoring extends Construct {
  /** The ServiceMonitor (`monitoring.coreos.com/v1`). */
  public readonly serviceMonitor: ApiObject;
  /** The PrometheusRule, with `alerts`. */
  public readonly prometheusRule?: ApiObject;
  /** The Service port name that is scraped. */
  public readonly portName: string;

  constructor(scope: Construct, id: string, props: ServiceMonitoringProps) {
    super(scope, id);
    const v = new PropValidator(`ServiceMonitoring '${id}'`);
    validateMonitoringOptions(v, '', props);
    if (props.service === undefined && props.serviceSelector === undefined) {
      v.fail('service', undefined, 'or serviceSelector must be given: the ServiceMonitor needs to know which Service to scrape');
    }
    this.portName = props.portName ?? 'http';
    if (props.service) {
      const names = props.service.ports.map((p) => p.name);
      if (!names.includes(this.portName)) {
        v.fail('portName', this.portName, `is not a port of Service "${props.service.name}" (its ports: ${names.map((n) => n ?? '(unnamed)').join(', ') || 'none'})`);
      }
    } else if (!isDnsLabel(this.portName)) {
      v.fail('portName', this.portName, 'must be a DNS-1123 label naming a Service port');
    }
    const selector = props.serviceSelector ?? props.service!.metadata.toJson().labels ?? {};
    if (Object.keys(selector).length === 0) {
      v.fail(props.serviceSelector ? 'serviceSelector' : 'service', props.serviceSelector ?? props.service!.name, 'has no labels to select the Service by; a ServiceMonitor with an empty selector scrapes every Service');
    }
    v.labelMap('serviceSelector', selector);
    const name = props.name ?? props.service?.name;
    if (name === undefined) v.fail('name', name, 'must be given with serviceSelector');
    v.dnsLabel('name', name);
    const namespace = props.namespace ?? props.service?.metadata.namespace;
    v.dnsLabel('namespace', namespace);

    const interval = props.interval ?? DEFAULT_INTERVAL;
    const timeout = props.scrapeTimeout ?? defaultScrapeTimeout(interval);
    const api = monitoringApi();
    const labels = props.labels ? { ...props.labels } : undefined;

    this.serviceMonitor = customResource<monitoring.ServiceMonitorProps>(this, 'ServiceMonitor', api.ServiceMonitor.GVK, api.toJson_ServiceMonitorProps, {
      metadata: { name, labels },
      spec: {
        selector: { matchLabels: { ...selector } },
        namespaceSelector: namespace ? { matchNames: [namespace] } : undefined,
        endpoints: [{
          port: this.portName,
          path: props.path ?? '/metrics',
          scheme: api.ServiceMonitorSpecEndpointsScheme.HTTP,
          interval: `${interval.toSeconds()}s`,
          scrapeTimeout: `${timeout.toSeconds()}s`,
        }],
      },
    });

    if (props.alerts) {
      const ruleName = `${name}-alerts`;
      v.dnsLabel('name', ruleName);
      const rules = alertRules(api, {
        service: name!,
        namespace,
        deployment: props.deploymentName ?? name!,
        autoscaler: props.autoscalerName,
        options: props.alertOptions ?? {},
      });
      this.prometheusRule = customResource<monitoring.PrometheusRuleProps>(this, 'PrometheusRule', api.PrometheusRule.GVK, api.toJson_PrometheusRuleProps, {
        metadata: { name: ruleName, labels },
        spec: {
          groups: [{
            name: `${namespace ? `${namespace}.` : ''}${name}`,
            rules,
          }],
        },
      });
    }
  }
}

interface AlertContext {
  readonly service: string;
  readonly namespace?: string;
  readonly deployment: string;
  readonly autoscaler?: string;
  readonly options: ServiceAlertOptions;
}

/** The alert rules, as plain PrometheusRule JSON. */
function alertRules(api: typeof monitoring, ctx: AlertContext): monitoring.PrometheusRuleSpecGroupsRules[] {
  const o = ctx.options;
  const ns = ctx.namespace ? `namespace="${ctx.namespace}",` : '';
  const target = `${ns}service="${ctx.service}"`;
  const severity = o.severity ?? 'warning';
  const who = `${ctx.namespace ? `${ctx.namespace}/` : ''}${ctx.service}`;
  const requests = o.requestsMetric ?? 'http_requests_total';
  const status = o.statusLabel ?? 'status';
  const histogram = o.latencyHistogram ?? 'http_request_duration_seconds';
  const ratio = o.errorRatio ?? 0.05;
  const p95 = (o.latencyP95 ?? Duration.millis(500)).toMilliseconds() / 1000;
  const prefix = pascalCase(ctx.service);
  type Rule = monitoring.PrometheusRuleSpecGroupsRules;
  // Static labels let Alertmanager route by namespace and service whatever an expression keeps.
  const staticLabels = { severity, service: ctx.service, ...(ctx.namespace ? { namespace: ctx.namespace } : {}) };
  const pending = (defaultMinutes: number) => prometheusDuration(o.pendingPeriod?.toSeconds() ?? defaultMinutes * 60);
  const rule = (alert: string, expr: string, forDuration: string, summary: string, description: string): Rule => ({
    alert: `${prefix}${alert}`,
    expr: api.PrometheusRuleSpecGroupsRulesExpr.fromString(expr),
    for: forDuration,
    labels: { ...staticLabels },
    annotations: { summary, description },
  });
  // Series scraped through the ServiceMonitor carry namespace and service; kube-state-metrics
  // series carry namespace and pod (their own service label is kube-state-metrics).
  const byService = 'by (namespace, service)';
  const rules = [
    // absent() on a plain selector keeps the selector's labels; it fires when the ServiceMonitor matches nothing.
    rule('TargetDown', `count ${byService} (up{${target}} == 0) > 0 or absent(up{${target}})`, pending(5),
      `Prometheus cannot scrape pods of ${who}`,
      `Metrics targets of ${who} are down or missing; the pods may be crashing, the metrics endpoint failing, or the ServiceMonitor not selected by Prometheus.`),
    rule('CrashLooping',
      `max by (namespace, pod) (increase(kube_pod_container_status_restarts_total{${ns}pod=~"${ctx.deployment}-[a-z0-9]+-[a-z0-9]+"}[15m])) > 3`, pending(5),
      `Pods of ${who} keep restarting`,
      `Pod {{ $labels.pod }} of ${who} restarted {{ $value }} times in 15 minutes (needs kube-state-metrics).`),
    rule('HighErrorRatio',
      `sum ${byService} (rate(${requests}{${target},${status}=~"5.."}[5m])) / sum ${byService} (rate(${requests}{${target}}[5m])) > ${ratio}`, pending(10),
      `${who} answers too many 5xx`,
      `{{ $value | humanizePercentage }} of ${who} requests fail with 5xx (threshold ${ratio * 100}%).`),
    rule('HighLatency',
      `histogram_quantile(0.95, sum by (namespace, service, le) (rate(${histogram}_bucket{${target}}[5m]))) > ${p95}`, pending(10),
      `${who} is slow`,
      `95th percentile latency of ${who} is {{ $value | humanizeDuration }} (threshold ${p95}s).`),
  ];
  if (ctx.autoscaler) {
    const hpa = `${ns}horizontalpodautoscaler="${ctx.autoscaler}"`;
    const byHpa = 'by (namespace, horizontalpodautoscaler)';
    rules.push(rule('AtMaxReplicas',
      `max ${byHpa} (kube_horizontalpodautoscaler_status_current_replicas{${hpa}}) >= max ${byHpa} (kube_horizontalpodautoscaler_spec_max_replicas{${hpa}})`, pending(15),
      `${who} runs at its maximum replicas`,
      `The autoscaler ${ctx.autoscaler} has been at its maximum for ${o.pendingPeriod ? pending(15) : '15 minutes'}; raise maxReplicas or find the load (needs kube-state-metrics).`));
  }
  return rules;
}

function pascalCase(name: string): string {
  return name.split('-').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('');
}

/** prometheus_client's multiprocess directory (a memory-backed emptyDir), in MiB. */
export const MULTIPROCESS_DIR_MEBIBYTES = 64;

/** Where and how a service serves metrics. Internal. */
export interface MetricsEndpoint {
  readonly metricsPort: number;
  readonly multiprocess: boolean;
  readonly multiprocessDir: string;
  readonly appPort: number;
  readonly appPortName: string;
}

/**
 * Opens the metrics port on the container and the Service (when it is not the app port) and
 * gives multi-process servers prometheus_client's multiprocess directory. Returns the port name
 * the ServiceMonitor scrapes. Internal.
 */
export function exposeMetrics(scope: Construct, container: kplus.Container, service: kplus.Service, e: MetricsEndpoint): string {
  let portName = e.appPortName;
  if (e.metricsPort !== e.appPort) {
    portName = 'metrics';
    container.addPort({ number: e.metricsPort, name: portName, protocol: kplus.Protocol.TCP });
    service.bind(e.metricsPort, { name: portName, targetPort: e.metricsPort, protocol: kplus.Protocol.TCP });
  }
  if (e.multiprocess) {
    // Each worker process has its own registry; prometheus_client aggregates through files here.
    container.env.addVariable('PROMETHEUS_MULTIPROC_DIR', kplus.EnvValue.fromValue(e.multiprocessDir));
    container.mount(e.multiprocessDir, kplus.Volume.fromEmptyDir(scope, 'MetricsVolume', OWN_VOLUME_NAMES.metrics, {
      medium: kplus.EmptyDirMedium.MEMORY,
      sizeLimit: Size.mebibytes(MULTIPROCESS_DIR_MEBIBYTES),
    }));
  }
  return portName;
}

/** What `addPodMonitor` scrapes. Internal. */
export interface PodMonitorTarget {
  readonly name: string;
  readonly namespace?: string;
  readonly labels: { [key: string]: string };
  readonly selector: { [key: string]: string };
  readonly portName: string;
  readonly path?: string;
  readonly interval?: Duration;
}

/** A PodMonitor `<name>` for pods that have no Service (background workers). Internal. */
export function addPodMonitor(scope: Construct, t: PodMonitorTarget): ApiObject {
  const api = monitoringApi();
  const interval = t.interval ?? DEFAULT_INTERVAL;
  return customResource<monitoring.PodMonitorProps>(scope, 'PodMonitor', api.PodMonitor.GVK, api.toJson_PodMonitorProps, {
    metadata: { name: t.name, labels: { ...t.labels } },
    spec: {
      selector: { matchLabels: { ...t.selector } },
      namespaceSelector: t.namespace ? { matchNames: [t.namespace] } : undefined,
      podMetricsEndpoints: [{
        port: t.portName,
        path: t.path ?? '/metrics',
        interval: `${interval.toSeconds()}s`,
        scrapeTimeout: `${defaultScrapeTimeout(interval).toSeconds()}s`,
      }],
    },
  });
}

/** What `monitorService` monitors. Internal. */
export interface MonitoredService {
  readonly settings: PythonServiceMonitoring;
  readonly resolved: {
    readonly metricsPort: number; readonly multiprocess: boolean; readonly multiprocessDir: string; readonly scraperNamespace: string;
  };
  readonly container: kplus.Container;
  readonly service: kplus.Service;
  readonly networkPolicy: ServiceNetworkPolicy;
  readonly appPort: number;
  readonly name: string;
  readonly namespace?: string;
  readonly labels: { [key: string]: string };
  readonly selector: { [key: string]: string };
  readonly autoscalerName?: string;
}

/**
 * A service's metrics endpoint (port, multiprocess directory, gunicorn hooks), its ServiceMonitor
 * and alerts, and the NetworkPolicy rule that admits the scraper. Internal.
 */
export function monitorService(scope: Construct, t: MonitoredService): ServiceMonitoring {
  const m = t.settings;
  const portName = exposeMetrics(scope, t.container, t.service, Object.assign({}, t.resolved, {
    appPort: t.appPort,
    appPortName: 'http',
  }));
  const monitoring = new ServiceMonitoring(scope, 'Monitoring', {
    path: m.path,
    interval: m.interval,
    scrapeTimeout: m.scrapeTimeout,
    alerts: m.alerts,
    alertOptions: m.alertOptions,
    service: t.service,
    serviceSelector: t.selector,
    portName,
    name: t.name,
    namespace: t.namespace,
    labels: Object.assign({}, t.labels, m.labels),
    deploymentName: t.name,
    autoscalerName: t.autoscalerName,
  });
  const scraper = { namespaceName: t.resolved.scraperNamespace };
  t.networkPolicy.addIngressRule({ peers: [scraper], ports: [{ port: t.resolved.metricsPort, protocol: NetworkProtocol.TCP }] });
  return monitoring;
}
