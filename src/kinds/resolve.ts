import { Chart, Duration, Size } from 'cdk8s';
import { IConstruct } from 'constructs';
import { validateMigrations } from './migration-options';
import type { PythonServiceProps } from './python-service-props';
import {
  resolveHealthCheck, ResolvedHealthCheck, ResolvedShutdown, resolveShutdown, WORKER_TMP_DIR,
} from './web-deployment';
import { parseImageReference, versionLabelOf, warnMutableTag } from '../core/image-reference';
import { LABEL_PART_OF, LABEL_VERSION } from '../core/labels';
import { NetworkPeer, validateNetworkRule } from '../core/network-policy';
import { kplus } from '../core/plus';
import { resolvePythonPod, ResolvedPythonPod } from '../core/python-pod-template';
import { kebabCase, NameRegistry } from '../core/service-identity';
import { PropValidator } from '../core/validation';
import { OWN_VOLUME_NAMES } from '../core/volume-names';
import { warnOnce } from '../core/warnings';
import { BackupVolumeMode, validateBackupOptions } from '../features/backup/backup';
import { isSingleAttach, validatePersistence } from '../features/backup/persistence';
import { ResolvedTracing, resolveTracing, validateConfigFiles, validateExternalSecret } from '../features/config/service-config';
import { Exposure, resolveTrafficDistribution, TrafficDistribution, validateExposure } from '../features/exposure/exposure';
import { MULTIPROCESS_DIR_MEBIBYTES, validateMonitoringOptions } from '../features/monitoring/monitoring';
import { resolveAutoscaling, ResolvedAutoscaling } from '../features/scaling/scaling';
import { imageAllowed, imageAllowlist } from '../features/security/admission';
import { DnsEgress } from '../features/security/dns-egress';
import { PythonServiceSecurity, validateAllowedImages, validateVolumeNames } from '../features/security/security-policy';
import { GUNICORN_CONFIG_DIR, GUNICORN_CONFIG_FILE, GunicornConfigOptions } from '../python/gunicorn-config';
import { PythonServer, PythonServerConfig, PythonServerKind } from '../python/python-server';

// The resolve phase of PythonService: every prop is checked and defaulted here, before any
// child construct exists, so a bad prop never leaves a half-built tree. Internal.

const DEFAULT_PORT = 8080;
const DEFAULT_SERVICE_PORT = 80;
const DEFAULT_REPLICAS = 3;
const ROUTE_TIMEOUT_MARGIN_SECONDS = 5;

/** Prometheus settings after defaults and validation. */
export interface ResolvedMonitoring {
  readonly metricsPort: number;
  readonly scraperNamespace: string;
  readonly multiprocessDir: string;
  /** Whether prometheus_client needs multiprocess mode (more than one worker process, or gunicorn's hooks). */
  readonly multiprocess: boolean;
  /** Whether the library's gunicorn configuration (multiprocess hooks, metrics server) is mounted. */
  readonly gunicornHooks: boolean;
}

/** Every prop of a PythonService after defaults and validation. */
export interface ResolvedService {
  readonly name: string;
  readonly namespace?: string;
  readonly port: number;
  readonly servicePort: number;
  /** The replica count at rest (the autoscaler's minimum when autoscaled). */
  readonly replicas: number;
  readonly maxReplicas: number;
  readonly autoscaling?: ResolvedAutoscaling;
  readonly singleAttachVolume: boolean;
  readonly pod: ResolvedPythonPod;
  readonly health: ResolvedHealthCheck;
  readonly shutdown: ResolvedShutdown;
  readonly exposure: Exposure;
  readonly trafficDistribution?: TrafficDistribution;
  readonly version: string;
  readonly server: PythonServerConfig;
  readonly monitoring?: ResolvedMonitoring;
  readonly backupVolumes?: BackupVolumeMode;
  /** The HTTPRoute's request timeout, with Gateway exposure. */
  readonly routeTimeout?: Duration;
  /** Tracing environment and egress, with `tracing`. */
  readonly tracing?: ResolvedTracing;
  /** Where the config files are mounted, with `config`. */
  readonly configMountPath?: string;
  /** The migration Job's Argo CD sync wave, when Argo CD options are set. */
  readonly migrationArgoCdWave?: number;
  /** The library's gunicorn configuration, when gunicorn needs its hooks. */
  readonly gunicornConfig?: GunicornConfigOptions;
}

/**
 * Checks and defaults every prop. `namespace` is the chart's; `label` names the construct in
 * errors (`PythonService 'api'`).
 */
export function resolveService(
  v: PropValidator, id: string, props: PythonServiceProps, namespace: string | undefined, scope: IConstruct,
): ResolvedService {
  if (props === undefined || props === null || typeof props !== 'object') {
    v.fail('props', props, 'must be an object with at least "image"');
  }
  const name = props.name ?? kebabCase(id);
  validateServiceName(v, props.name === undefined ? 'name (derived from the construct id)' : 'name', name);
  if (namespace !== undefined) v.dnsLabel('chart namespace', namespace);
  const owner = NameRegistry.of(scope, 'service').ownerOf(`${namespace ?? ''}/${name}`);
  if (owner !== undefined) {
    v.fail('name', name, `is already used by the PythonService at "${owner}" in namespace "${namespace ?? '(default)'}"; objects would overwrite each other`);
  }
  const namespaceOwner = NameRegistry.of(scope, 'pod-security-namespace').ownerOf(namespace!);
  if (props.security?.podSecurityAdmission && namespaceOwner !== undefined) {
    v.fail('security.podSecurityAdmission', true, `would emit Namespace "${namespace}" a second time (the PythonService at "${namespaceOwner}" already does); set it on one service only`);
  }

  if (props.platformChart !== undefined) {
    if (!(props.platformChart instanceof Chart)) v.fail('platformChart', props.platformChart, 'must be a cdk8s Chart');
    if (props.platformChart.node.root !== scope.node.root) v.fail('platformChart', props.platformChart.node.path, 'must be a chart of the same app, or its objects would never be synthesized');
  }
  if (typeof props.image !== 'string' || props.image.trim() === '') {
    v.fail('image', props.image, 'must be a non-empty container image reference');
  }
  const image = parseImageReference(props.image);
  if (!image) {
    v.fail('image', props.image, 'is not a valid image reference ([registry/]repository[:tag][@digest], repository in lower case)');
  }
  warnMutableTag(v.label, props.image, image!);
  if (props.security) validateSecurity(v, props.security, props.image, namespace);
  if (props.security && name === 'namespace') {
    v.fail('name', name, `is taken by the namespace's admission policy (${namespace ?? 'default'}-namespace-policy) when security is set; choose another name`);
  }

  const port = props.port ?? DEFAULT_PORT;
  v.integerInRange('port', port, 1, 65535);
  const servicePort = props.servicePort ?? DEFAULT_SERVICE_PORT;
  v.integerInRange('servicePort', servicePort, 1, 65535);
  v.integerInRange('replicas', props.replicas, 0, 10_000);
  const autoscaling = props.autoscaling !== undefined ? resolveAutoscaling(v, props.autoscaling, scope) : undefined;
  if (autoscaling && props.replicas !== undefined) {
    v.fail('replicas', props.replicas, 'cannot be combined with autoscaling: the autoscaler owns the replica count (set autoscaling.minReplicas instead)');
  }
  const replicas = autoscaling ? autoscaling.minReplicas : props.replicas ?? DEFAULT_REPLICAS;
  const maxReplicas = autoscaling ? autoscaling.maxReplicas : replicas;
  if (props.persistence !== undefined) validatePersistence(v, props.persistence, replicas, autoscaling !== undefined);
  const singleAttachVolume = props.persistence !== undefined
    && isSingleAttach(props.persistence.accessMode ?? kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE);

  const pod = resolvePythonPod(v, props);

  const exposure = props.expose ?? Exposure.clusterIp();
  if (!(exposure instanceof Exposure)) {
    v.fail('expose', props.expose, 'must come from Exposure.clusterIp(), .loadBalancer(), .nodePort(), .ingress() or .gateway()');
  }
  validateExposure(v, exposure);
  const trafficDistribution = resolveTrafficDistribution(scope, v, props.trafficDistribution);

  const version = props.version ?? versionLabelOf(image!);
  v.labelMap('version', { [LABEL_VERSION]: version });
  v.labelMap('partOf', { [LABEL_PART_OF]: props.partOf ?? name });
  v.labelMap('labels', props.labels);

  const memoryPerProcess = props.memoryPerProcess ?? Size.mebibytes(128);
  v.wholeSize('memoryPerProcess', memoryPerProcess, 'Mi');
  const envWorkers = props.env?.WEB_CONCURRENCY;
  if (envWorkers !== undefined && !/^[1-9][0-9]{0,3}$/.test(envWorkers)) {
    v.fail('env.WEB_CONCURRENCY', envWorkers, 'must be a whole number of worker processes from 1 to 9999');
  }
  // gunicorn with monitoring always runs prometheus_client in multiprocess mode, with the
  // library's hooks, so metrics need no app change and may be served on their own port.
  const gunicorn = props.server?.kind === PythonServerKind.GUNICORN;
  const gunicornHooks = props.monitoring !== undefined && gunicorn;
  const autoInstrument = props.tracing?.autoInstrument === true;
  // granian exports its own metrics on a listener of its own (never the app port).
  const ownExporter = props.monitoring !== undefined && props.server?.kind === PythonServerKind.GRANIAN;
  if (ownExporter && props.monitoring!.port === port) {
    v.fail('monitoring.port', port, 'is the app port; granian serves its metrics on a listener of its own: pick another port, or leave monitoring.port out (9090)');
  }
  let server = (props.server ?? PythonServer.imageDefault()).bind({
    port,
    cpuMillis: pod.cpuMillis,
    workerTmpDir: WORKER_TMP_DIR,
    constructLabel: `PythonService '${id}'`,
    memoryLimitMebibytes: pod.memory.toMebibytes(),
    memoryPerProcessMebibytes: memoryPerProcess.toMebibytes(),
    reservedMebibytes: gunicornHooks ? MULTIPROCESS_DIR_MEBIBYTES : 0,
    multiprocessMebibytes: props.monitoring && !gunicornHooks && !ownExporter ? MULTIPROCESS_DIR_MEBIBYTES : 0,
    configFile: gunicornHooks || (gunicorn && autoInstrument) ? `${GUNICORN_CONFIG_DIR}/${GUNICORN_CONFIG_FILE}` : undefined,
    workersFromEnv: envWorkers !== undefined ? Number(envWorkers) : undefined,
    metricsPort: ownExporter ? props.monitoring!.port ?? OWN_METRICS_PORTS.find((p) => p !== port && p !== servicePort) : undefined,
  });
  if (server.forwardedAllowIps?.split(',').map((ip) => ip.trim()).includes('*') && props.security?.ingressFrom === undefined && exposure.proxyNamespace === undefined) {
    v.fail('server.forwardedAllowIps', server.forwardedAllowIps,
      'trusts forwarded headers from every address, but the NetworkPolicy admits more than the proxy: any client could claim to be https; name the proxy in expose proxyNamespace or security.ingressFrom (or list the proxy addresses)');
  }
  const tracing = props.tracing
    ? resolveTracing(v, props.tracing, { name, partOf: props.partOf ?? name, version, egressRestricted: props.security !== undefined })
    : undefined;
  if (autoInstrument && !gunicorn) {
    if (server.command === undefined) {
      v.fail('tracing.autoInstrument', true, 'needs a server command to wrap: the image\'s own command is not known here; set server, or start opentelemetry-instrument in the image\'s CMD');
    }
    // gunicorn starts the instrumentation after the fork instead (see the rendered configuration).
    server = Object.assign({}, server, { command: ['opentelemetry-instrument', ...server.command!] });
  }
  if (props.externalSecret) validateExternalSecret(v, props.externalSecret, [...Object.keys(props.env ?? {}), ...Object.keys(props.envValues ?? {})]);
  const configMountPath = props.config ? props.config.mountPath ?? `/etc/${name}` : undefined;
  if (props.config) validateConfigFiles(v, props.config);
  const shutdown = resolveShutdown(v, props.shutdown ?? {}, server.gracefulTimeout, scope);
  const gateway = exposure.gatewayOptions;
  // The proxy should wait at least as long as gunicorn lets a sync worker run a request.
  const serverTimeout = server.requestTimeout ? Duration.seconds(server.requestTimeout.toSeconds() + ROUTE_TIMEOUT_MARGIN_SECONDS) : undefined;
  const routeTimeout = gateway === undefined || gateway.timeouts === false ? undefined : gateway.requestTimeout ?? serverTimeout;
  const health = resolveHealthCheck(v, props.healthCheck ?? {}, {
    port,
    exposedHost: exposure.publicHosts.find((h) => !h.startsWith('*.')),
    // The Service's name resolves in the cluster whatever its domain; Django can list it in ALLOWED_HOSTS.
    inClusterHost: namespace === undefined ? name : `${name}.${namespace}.svc`,
    // The presets' documented health path; a command's or image's own routes are not known here.
    defaultPath: [PythonServerKind.GUNICORN, PythonServerKind.UVICORN, PythonServerKind.GRANIAN].includes(server.kind) ? '/healthz' : undefined,
  });

  if (maxReplicas <= 1 && props.disruptionBudget !== undefined) {
    v.fail('disruptionBudget', props.disruptionBudget, 'needs more than one replica: a budget for a single pod either blocks node drains or protects nothing');
  }

  const mountPaths = ['/tmp', ...(server.needsWorkerTmpDir ? [WORKER_TMP_DIR] : []), ...(props.persistence ? [props.persistence.mountPath ?? '/data'] : [])];
  // The volumes the service mounts itself, by name (the pod spec takes each name once).
  const ownVolumes: string[] = Object.values(OWN_VOLUME_NAMES);
  for (const [i, m] of (Array.isArray(props.mounts) ? props.mounts : []).entries()) {
    if (mountPaths.includes(m?.path)) v.fail(`mounts[${i}].path`, m.path, 'is a path the service mounts a volume of its own at (/tmp, the server\'s worker temp dir, persistence.mountPath)');
    if (ownVolumes.includes(m?.volume?.name)) v.fail(`mounts[${i}].volume`, m.volume.name, `is the name of a volume the service mounts itself (${ownVolumes.join(', ')}); give the volume another name`);
  }
  mountPaths.push(...(Array.isArray(props.mounts) ? props.mounts.map((m) => m?.path).filter((p) => typeof p === 'string') : []));
  if (configMountPath !== undefined && mountPaths.includes(configMountPath)) v.fail('config.mountPath', configMountPath, 'is already used by another volume of this service');
  if (configMountPath !== undefined) mountPaths.push(configMountPath);
  const monitoring = props.monitoring ? resolveMonitoring(v, props, port, servicePort, server, mountPaths, exposure) : undefined;

  let backupVolumes: BackupVolumeMode | undefined;
  if (props.backup) {
    validateBackupOptions(v, 'backup.', props.backup);
    if (namespace === undefined) {
      v.fail('backup', props.backup.schedule, 'needs the app namespace, which Velero\'s Schedule must name: create the chart with { namespace: ... }');
    }
    backupVolumes = props.backup.volumes ?? (props.persistence ? BackupVolumeMode.SNAPSHOT : BackupVolumeMode.NONE);
    if (backupVolumes === BackupVolumeMode.FILE_SYSTEM && !props.persistence) {
      v.fail('backup.volumes', backupVolumes, 'needs persistence: there is no volume to back up');
    }
    const helper = props.backup.restoreHelperImage;
    if (helper !== undefined) {
      if (backupVolumes !== BackupVolumeMode.FILE_SYSTEM) v.fail('backup.restoreHelperImage', helper, 'only applies with backup.volumes BackupVolumeMode.FILE_SYSTEM: only file-system restores run the helper');
      const ref = parseImageReference(helper);
      if (!ref || (ref.tag === undefined && ref.digest === undefined)) {
        v.fail('backup.restoreHelperImage', helper, 'must be an image reference with a tag or digest, the one your Velero runs (e.g. "velero/velero:v1.17.2")');
      }
    } else if (backupVolumes === BackupVolumeMode.FILE_SYSTEM && props.security) {
      warnOnce(`restore-helper:${v.label}`, `${v.label}: backup.volumes is FILE_SYSTEM and security.allowedImages is set, but backup.restoreHelperImage is not: `
        + 'on restore, Velero adds its restore-wait init container (the Velero server image) to the pods, and the admission policies refuse them; '
        + 'set backup.restoreHelperImage to the image your Velero runs (e.g. "velero/velero:v1.17.2"), which the policies then allow');
    }
    if (props.backup.hooksOnce && maxReplicas > 1) {
      v.fail('backup.hooksOnce', true, `needs the pods that carry the hooks to be a singleton, but this service runs up to ${maxReplicas} replicas and Velero runs pod hooks in each (use replicas: 1 without autoscaling)`);
    }
  }

  const migrationArgoCdWave = props.migrations ? validateMigrations(v, props.migrations).argoCdWave : undefined;

  return {
    name,
    namespace,
    port,
    servicePort,
    replicas,
    maxReplicas,
    autoscaling,
    singleAttachVolume,
    pod,
    health,
    shutdown,
    exposure,
    trafficDistribution,
    version,
    server,
    monitoring,
    backupVolumes,
    routeTimeout,
    tracing,
    configMountPath,
    migrationArgoCdWave,
    gunicornConfig: gunicornHooks || (gunicorn && autoInstrument) ? {
      multiprocess: gunicornHooks,
      metricsPort: monitoring && monitoring.metricsPort !== port ? monitoring.metricsPort : undefined,
      otelPostFork: autoInstrument,
    } : undefined,
  };
}

/** Ports tried, in order, for metrics kept off a publicly exposed app port. */
const OWN_METRICS_PORTS = [9090, 9091, 9092];

function resolveMonitoring(
  v: PropValidator, props: PythonServiceProps, port: number, servicePort: number, server: PythonServerConfig,
  mountPaths: string[], exposure: Exposure,
): ResolvedMonitoring {
  const m = props.monitoring!;
  validateMonitoringOptions(v, 'monitoring.', m);
  v.integerInRange('monitoring.port', m.port, 1, 65535);
  if (m.port !== undefined && m.port !== port && m.port === servicePort && servicePort !== port) {
    v.fail('monitoring.port', m.port, `collides with servicePort (${servicePort})`);
  }
  if (Object.keys(m.labels ?? {}).length === 0) {
    warnOnce('monitoring.labels', `${v.label}: monitoring.labels is empty. kube-prometheus-stack's Prometheus selects ServiceMonitors and PrometheusRules by its release label and ignores these until monitoring.labels has it, e.g. { release: 'kube-prometheus-stack' } (check: kubectl get prometheus -A -o jsonpath='{..serviceMonitorSelector}')`);
  }
  const scraperNamespace = m.scraperNamespace ?? 'monitoring';
  v.dnsLabel('monitoring.scraperNamespace', scraperNamespace);
  const multiprocessDir = m.multiprocessDir ?? '/run/prometheus';
  v.httpPath('monitoring.multiprocessDir', multiprocessDir);
  if (mountPaths.includes(multiprocessDir)) {
    v.fail('monitoring.multiprocessDir', multiprocessDir, 'is already used by another volume of this service');
  }
  const gunicornHooks = server.kind === PythonServerKind.GUNICORN;
  if (server.metricsPort !== undefined) {
    // The server's own exporter, on its own port; PROMETHEUS_MULTIPROC_DIR stays unset, since nothing would clean it.
    return { metricsPort: server.metricsPort, scraperNamespace, multiprocessDir, multiprocess: false, gunicornHooks: false };
  }
  let metricsPort = m.port ?? port;
  if (m.port === undefined && !exposure.clusterInternal) {
    // On the app port, /metrics would be public through the Ingress, Gateway or load balancer.
    if (gunicornHooks) {
      metricsPort = OWN_METRICS_PORTS.find((p) => p !== port && p !== servicePort)!;
    } else {
      warnOnce('monitoring.public', `${v.label}: metrics are scraped from the app port, which is exposed outside the cluster, so /metrics is public too. `
        + 'Serve them on a port of their own and set monitoring.port (e.g. prometheus_client.start_http_server(9090)), or block /metrics at the proxy');
    }
  }
  return { metricsPort, scraperNamespace, multiprocessDir, multiprocess: gunicornHooks || server.workers > 1, gunicornHooks };
}

function validateSecurity(v: PropValidator, s: PythonServiceSecurity, image: string, namespace: string | undefined): void {
  validateAllowedImages(v, 'security.allowedImages', s.allowedImages);
  if (typeof image === 'string' && !imageAllowed(imageAllowlist(s.allowedImages), image)) {
    v.fail('image', image, `is not allowed by security.allowedImages (${s.allowedImages.join(', ')})`);
  }
  validateVolumeNames(v, 'security.allowedVolumes', s.allowedVolumes);
  (s.ingressFrom ?? []).forEach((peer, i) => validateNetworkRule(v, `security.ingressFrom[${i}]`, { peers: [peer] }));
  (s.egressTo ?? []).forEach((rule, i) => validateNetworkRule(v, `security.egressTo[${i}]`, rule));
  if (s.dns !== undefined && !(s.dns instanceof DnsEgress)) {
    v.fail('security.dns', s.dns, 'must come from DnsEgress.kubeDns(), .openShift() or .custom()');
  }
  (s.dns?.rules ?? []).forEach((rule, i) => validateNetworkRule(v, `security.dns (${s.dns!.description}) rule ${i}`, rule));
  if (s.ingressFrom !== undefined && s.ingressFrom.length === 0) {
    v.fail('security.ingressFrom', s.ingressFrom, 'is empty, which would make the service unreachable; leave it out for the default');
  }
  if (namespace === undefined) {
    v.fail('security', s.allowedImages, 'needs the app namespace, which the admission policy binds to: create the chart with { namespace: ... }');
  }
}

function validateServiceName(v: PropValidator, prop: string, name: string): void {
  // Service names are DNS-1035 labels: they must start with a letter.
  if (typeof name !== 'string' || !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    v.fail(prop, name, 'must be a DNS-1035 label: lower-case letters, digits and "-", starting with a letter and ending with a letter or digit');
  }
  if (name.length > 63) v.fail(prop, name, `is ${name.length} characters long; the limit is 63`);
}

/** Who may reach the service port. */
export function ingressPeers(security: PythonServiceSecurity | undefined, exposure: Exposure): NetworkPeer[] | undefined {
  if (security?.ingressFrom) return [...security.ingressFrom];
  // The proxy in front (ingress controller, Gateway data plane) runs there, and nothing else needs the port.
  if (exposure.proxyNamespace !== undefined) return [{ namespaceName: exposure.proxyNamespace }];
  if (!security) return undefined;
  // Behind a LoadBalancer, NodePort or Ingress the traffic comes from outside the namespace
  // (the controller or the internet); a cluster-internal service only serves its neighbours.
  return exposure.clusterInternal ? [{ podLabels: {} }] : undefined;
}
