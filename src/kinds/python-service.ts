import { ApiObject, Chart, Duration, Size } from 'cdk8s';
import { Construct } from 'constructs';
import { prerequisiteAnnotations } from './migration-options';
import { MigrationJob } from './migrations';
import { PythonCronJob, PythonCronJobOptions } from './python-cron-job';
import { PythonServiceProps } from './python-service-props';
import { PythonWorker, PythonWorkerOptions } from './python-worker';
import { ingressPeers, resolveService } from './resolve';
import { addWebDeployment, HTTP_PORT_NAME, WEB_COMPONENT } from './web-deployment';
import { checkRendered } from '../core/after-render';
import { BackingService } from '../core/backing-service';
import { NetworkProtocol, ServiceNetworkPolicy } from '../core/network-policy';
import { kplus } from '../core/plus';
import { IPythonWebService, PythonApplicationContext } from '../core/python-application';
import { PythonPodTemplate, PythonServiceSecurityContext } from '../core/python-pod-template';
import { applicationWorkloadContext, WorkloadBase } from '../core/python-workload';
import { emitChartNamespaceBefore } from '../core/release-order';
import { NameRegistry, ServiceIdentity } from '../core/service-identity';
import { addNativeSidecar, PythonSidecarOptions } from '../core/sidecar';
import { PropValidator } from '../core/validation';
import { OWN_VOLUME_NAMES } from '../core/volume-names';
import { backUpService, BackupSchedule } from '../features/backup/backup';
import { addConfigFiles, addExternalSecret } from '../features/config/service-config';
import { ConnectionGroup, connectionTargetOf, connectWorkloads, ServiceConnectionOptions, useBackingService, watchOneSidedAdmission } from '../features/connections/connections';
import { addExposure, Exposure } from '../features/exposure/exposure';
import { monitorService, ServiceMonitoring } from '../features/monitoring/monitoring';
import { ServiceDisruptionBudget } from '../features/scaling/availability';
import { createAutoscaler } from '../features/scaling/scaling';
import { PodSecurityNamespace, SecurityPolicy } from '../features/security/security-policy';
import { createServicePolicies, platformScopeOf } from '../features/security/service-security';
import { addGunicornConfig } from '../python/gunicorn-config';
import { PythonServerConfig } from '../python/python-server';

/**
 * A containerized Python web app on Kubernetes: a Deployment behind a Service (and optionally an
 * Ingress), with a dedicated ServiceAccount and a NetworkPolicy, secure by default (Pod Security
 * "restricted") and aware of how Python servers behave in containers.
 *
 * Every child is a public property, so anything not covered by props can be changed through
 * cdk8s-plus APIs without JSON patches.
 */
export class PythonService extends Construct implements IPythonWebService {
  /** Base name of every object. */
  public readonly name: string;
  /** The namespace the objects go to (the chart's). */
  public readonly namespace?: string;
  /** The container port the server listens on. */
  public readonly port: number;
  /** The Service port. */
  public readonly servicePort: number;
  /** Labels that select this service's pods and nothing else: name, instance and component. */
  public readonly selectorLabels: { [key: string]: string };
  /** Labels on every object: the selector labels plus version, part-of, managed-by and user labels. */
  public readonly labels: { [key: string]: string };
  /** Names and labels shared by every component of this service (web, migration, ...). */
  public readonly identity: ServiceIdentity;
  /** The Python pod every workload of this service runs: image, env, resources, security contexts. */
  public readonly podTemplate: PythonPodTemplate;
  /** What its workers, scheduled jobs and migration Job share with it beyond the pod template. */
  public readonly applicationContext: PythonApplicationContext;
  /** What the server produced: command, env, workers and graceful timeout. */
  public readonly serverConfig: PythonServerConfig;
  /** terminationGracePeriodSeconds: preStop pause + server graceful timeout + margin. */
  public readonly terminationGracePeriod: Duration;
  /** The dedicated ServiceAccount (no API token mounted). */
  public readonly serviceAccount: kplus.ServiceAccount;
  /** The Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The app container. */
  public readonly container: kplus.Container;
  /** The Service. */
  public readonly service: kplus.Service;
  /** The Ingress, when exposed through one. */
  public readonly ingress?: kplus.Ingress;
  /** The Gateway API HTTPRoute, with `Exposure.gateway()`. */
  public readonly httpRoute?: ApiObject;
  /** The NetworkPolicy isolating the pods: ingress to the service port only; egress open until restricted. */
  public readonly networkPolicy: ServiceNetworkPolicy;
  /** The exposure in effect. */
  public readonly exposure: Exposure;
  /** The HorizontalPodAutoscaler, with `autoscaling`. */
  public readonly autoscaler?: kplus.HorizontalPodAutoscaler;
  /** The PodDisruptionBudget, when more than one replica can run. */
  public readonly disruptionBudget?: ServiceDisruptionBudget;
  /** The PersistentVolumeClaim, with `persistence`. */
  public readonly persistentVolumeClaim?: kplus.PersistentVolumeClaim;
  /** The ServiceMonitor (and PrometheusRule), with `monitoring`. */
  public readonly monitoring?: ServiceMonitoring;
  /** The container port serving metrics, with `monitoring`. */
  public readonly metricsPort?: number;
  /** The Velero Schedule, with `backup`. */
  public readonly backup?: BackupSchedule;
  /** The migration Job, with `migrations`. */
  public readonly migrationJob?: MigrationJob;
  /** The admission policy and self-check, with `security`. */
  public readonly securityPolicy?: SecurityPolicy;
  /** The namespace's whole-namespace policy this service's images were added to, with `security`. */
  public readonly namespaceSecurityPolicy?: SecurityPolicy;
  /** The Pod Security Admission namespace, with `security.podSecurityAdmission`. */
  public readonly podSecurityNamespace?: PodSecurityNamespace;
  /** The image reference, verbatim. */
  public readonly image: string;
  /** The Pod and container security settings every pod of this service uses. */
  public readonly podIdentity: PythonServiceSecurityContext;
  /** The ExternalSecret, with `externalSecret`. */
  public readonly externalSecret?: ApiObject;
  /** The content-named ConfigMap of the config files, with `config`. */
  public readonly configMap?: kplus.ConfigMap;

  constructor(scope: Construct, id: string, props: PythonServiceProps) {
    super(scope, id);
    const label = `PythonService '${id}'`;
    const v = new PropValidator(label);
    const namespace = Chart.of(this).namespace;
    // Resolve phase: every prop (and the names it claims) is checked before any child exists.
    const r = resolveService(v, id, props, namespace, this);

    this.name = r.name;
    this.namespace = namespace;
    this.port = r.port;
    this.servicePort = r.servicePort;
    this.exposure = r.exposure;
    this.image = props.image;
    this.serverConfig = r.server;
    this.terminationGracePeriod = r.shutdown.terminationGracePeriod;
    this.podIdentity = r.pod.identity;
    // Tracing adds the collector to the egress every component of the service shares.
    const tracingEgress = r.tracing?.egress ? [r.tracing.egress] : [];
    // Velero's restore helper runs in restored pods: its image is allowed beside the app's.
    const restoreHelper = props.backup?.restoreHelperImage !== undefined ? [props.backup.restoreHelperImage] : [];
    const security = props.security && Object.assign({}, props.security, {
      allowedImages: [...props.security.allowedImages, ...restoreHelper],
      egressTo: [...(props.security.egressTo ?? []), ...tracingEgress],
    });
    const memoryPerProcess = props.memoryPerProcess ?? Size.mebibytes(128);
    const identity = this.identity = new ServiceIdentity({
      name: r.name, namespace, version: r.version, partOf: props.partOf, labels: props.labels, errorLabel: label,
    });
    this.selectorLabels = identity.selectorLabels(WEB_COMPONENT);
    this.labels = identity.labelsOf(WEB_COMPONENT);
    const metadata = (name: string) => identity.metadataOf(name, WEB_COMPONENT);

    const platformScope = props.platformChart ? platformScopeOf(this, props.platformChart, identity) : this;
    // First: the policies lead the service's objects in the file without dependency edges.
    const secured = props.security ? createServicePolicies(this, {
      platformScope,
      security: security!,
      identity,
      labels: this.labels,
      // The user's volumes; the library's own are added as its workloads are governed (WorkloadBase.govern).
      allowedVolumes: [...new Set(props.security.allowedVolumes ?? [])].sort(),
      argoCdWave: r.migrationArgoCdWave,
    }) : undefined;
    this.securityPolicy = secured?.policy;
    this.namespaceSecurityPolicy = secured?.namespacePolicy;
    this.podSecurityNamespace = secured?.namespace;
    // What workers, scheduled jobs and the migration Job take from the service.
    this.applicationContext = {
      errorLabel: label,
      memoryPerProcess,
      security,
      securityPolicy: secured?.policy,
      namespacePolicy: secured?.namespacePolicy,
      tracing: props.tracing,
      monitoring: props.monitoring,
    };

    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: metadata(this.name), automountToken: false });
    // What the migration pod reads must exist before it under an Argo CD hook.
    const prerequisite = prerequisiteAnnotations(props.migrations);
    const external = props.externalSecret ? addExternalSecret(this, this.name, this.labels, props.externalSecret, prerequisite) : undefined;
    this.externalSecret = external?.externalSecret;
    this.configMap = props.config ? addConfigFiles(this, this.name, this.labels, props.config, prerequisite) : undefined;
    this.podTemplate = new PythonPodTemplate(Object.assign({}, props, {
      env: Object.assign({}, r.tracing?.env, props.env),
      envValues: Object.assign({}, r.tracing?.envValues, props.envValues, external?.envValues),
      mounts: [...(props.mounts ?? []),
        ...(this.configMap ? [{ path: r.configMountPath!, volume: kplus.Volume.fromConfigMap(this, 'ConfigVolume', this.configMap, { name: OWN_VOLUME_NAMES.config }), readOnly: true }] : [])],
      serviceAccount: this.serviceAccount,
      errorLabel: label,
    }));

    const web = addWebDeployment(this, {
      identity,
      template: this.podTemplate,
      server: r.server,
      port: r.port,
      replicas: r.autoscaling ? undefined : r.replicas,
      maxReplicas: r.maxReplicas,
      singleAttachVolume: r.singleAttachVolume,
      health: r.health,
      shutdown: r.shutdown,
    });
    this.deployment = web.deployment;
    this.container = web.container;
    // The web pods are a workload of the service like its workers: the same base builds their policies.
    const webWorkload = new WorkloadBase(this, applicationWorkloadContext(this, this.applicationContext, {
      label,
      validator: v,
      component: WEB_COMPONENT,
      name: r.name,
      objectName: (suffix: string) => identity.objectName(suffix),
      template: this.podTemplate,
    }));
    if (r.gunicornConfig) addGunicornConfig(this, this.container, this.objectName('gunicorn'), this.labels, r.gunicornConfig);

    const exposed = addExposure(this, {
      exposure: this.exposure,
      name: this.name,
      labels: this.labels,
      selector: this.selectorLabels,
      port: this.port,
      servicePort: this.servicePort,
      portName: HTTP_PORT_NAME,
      requestTimeout: r.routeTimeout,
      trafficDistribution: r.trafficDistribution,
    });
    this.service = exposed.service;
    this.ingress = exposed.ingress;
    this.httpRoute = exposed.route;

    if (props.persistence) {
      this.persistentVolumeClaim = new kplus.PersistentVolumeClaim(this, 'Data', {
        metadata: metadata(this.objectName('data')),
        storage: props.persistence.size,
        storageClassName: props.persistence.storageClassName,
        accessModes: [props.persistence.accessMode ?? kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
        volumeMode: kplus.PersistentVolumeMode.FILE_SYSTEM,
      });
      this.container.mount(props.persistence.mountPath ?? '/data',
        kplus.Volume.fromPersistentVolumeClaim(this, 'DataVolume', this.persistentVolumeClaim, { name: OWN_VOLUME_NAMES.data }));
    }

    if (r.autoscaling) {
      this.autoscaler = createAutoscaler(this, 'Autoscaler', metadata(this.objectName('hpa')), this.deployment, r.autoscaling);
    }

    const webParts = webWorkload.begin({
      workload: this.deployment, containers: [this.container], maxReplicas: r.maxReplicas, maxUnavailable: props.disruptionBudget?.maxUnavailable,
    });
    this.disruptionBudget = webParts.disruptionBudget;
    this.networkPolicy = webParts.networkPolicy;
    // Pods are isolated; only the app port is open, to everyone unless a security policy narrows it.
    const appPort = [{ port: this.port, protocol: NetworkProtocol.TCP }];
    this.networkPolicy.addIngressRule({ peers: ingressPeers(props.security, this.exposure), ports: appPort });

    if (props.monitoring && r.monitoring) {
      this.metricsPort = r.monitoring.metricsPort;
      this.monitoring = monitorService(this, {
        settings: props.monitoring,
        resolved: r.monitoring,
        container: this.container,
        service: this.service,
        networkPolicy: this.networkPolicy,
        appPort: this.port,
        name: this.name,
        namespace: this.namespace,
        labels: this.labels,
        selector: this.selectorLabels,
        autoscalerName: this.autoscaler ? this.objectName('hpa') : undefined,
      });
    }

    if (props.backup) {
      this.backup = backUpService(platformScope, {
        settings: props.backup,
        volumes: r.backupVolumes,
        name: this.name,
        namespace: this.namespace!,
        selector: identity.instanceLabels,
        fileSystemVolumes: props.persistence ? [OWN_VOLUME_NAMES.data] : [],
        labels: this.labels,
        hookPods: this.deployment,
      });
    }

    if (props.migrations) {
      this.migrationJob = new MigrationJob(this, 'Migrations', Object.assign({}, props.migrations, { service: this }));
    }

    // Last, when its pods have every volume the library gives them.
    webWorkload.finish(webParts);
    if (secured?.namespace) NameRegistry.of(this, 'pod-security-namespace').claim(this.namespace!, this.node.path);
    if (props.security) {
      watchOneSidedAdmission(this, { label: this.name, namespace: this.namespace ?? 'default', labels: this.labels, port: this.port, policy: this.networkPolicy },
        (check) => checkRendered(this.networkPolicy.apiObject, check));
    }
    emitChartNamespaceBefore(this);
    // Claimed only once the service is fully built, so a failed construction keeps no name.
    NameRegistry.of(this, 'service').claim(`${namespace ?? ''}/${this.name}`, this.node.path);
  }

  /**
   * `<name>-<suffix>`, checked against the 63-character limit for object names.
   * @param suffix what the object is, e.g. `cache`
   */
  public objectName(suffix: string): string {
    return this.identity.objectName(suffix);
  }

  /**
   * Lets every pod of this service (web, workers, scheduled jobs, migrations; those added later
   * too) call `target`: egress to its pods on its container port in this service's
   * NetworkPolicies, ingress from this service's pods in the target's. Works across namespaces
   * and charts of one app.
   * @param target the service called
   * @param options a variable with the target's URL
   */
  public connectTo(target: IPythonWebService, options: ServiceConnectionOptions = {}): void {
    const v = new PropValidator(`PythonService '${this.node.id}'`);
    if (target === this) v.fail('connectTo', target.name, 'is this service itself: its pods reach each other only through what its own ingress admits');
    connectWorkloads(ConnectionGroup.of(this), v,
      { label: this.name, namespace: this.namespace ?? 'default', podLabels: this.identity.instanceLabels },
      connectionTargetOf(v, target),
      options.envName);
  }

  /**
   * Uses a database, broker or other endpoint: its variables in every container of this service
   * (web, workers, scheduled jobs, migrations; those added later too), its egress in every
   * NetworkPolicy of them.
   * @param backing the backing service, e.g. BackingService.cloudNativePg({ clusterName: 'shop-db' })
   */
  public use(backing: BackingService): void {
    useBackingService(ConnectionGroup.of(this), this, new PropValidator(`PythonService '${this.node.id}'`), backing);
  }

  /** Adds a background worker (Celery, beat, RQ, Dramatiq, a command) on this service's pod template. */
  public addWorker(id: string, options: PythonWorkerOptions): PythonWorker {
    return new PythonWorker(this, id, Object.assign({}, options, { service: this }));
  }

  /**
   * Adds a native sidecar to the web pods (an init container with `restartPolicy: Always`): up
   * before the app, beside it for the pod's life, stopped after it; restricted like the app, with
   * small resources of its own. With `security`, its image must be allowed.
   * @param id the container name (a DNS label)
   * @param options image, command, port, resources
   */
  public addSidecar(id: string, options: PythonSidecarOptions): kplus.Container {
    return addNativeSidecar(new PropValidator(`PythonService '${this.node.id}'`), this.deployment, id, options, this.podIdentity);
  }

  /** Adds a scheduled job on this service's pod template. */
  public addCronJob(id: string, options: PythonCronJobOptions): PythonCronJob {
    return new PythonCronJob(this, id, Object.assign({}, options, { service: this }));
  }
}
