import { Chart, Size } from 'cdk8s';
import { PythonServiceMigrations } from './migration-options';
import { PythonServiceHealthCheck, PythonServiceShutdown } from './web-deployment';
import { PythonPodOptions } from '../core/python-pod-template';
import { PythonServiceBackup } from '../features/backup/backup';
import { PythonServicePersistence } from '../features/backup/persistence';
import { PythonServiceConfigFiles, PythonServiceExternalSecret, PythonServiceTracing } from '../features/config/service-config';
import { Exposure, TrafficDistribution } from '../features/exposure/exposure';
import { PythonServiceMonitoring } from '../features/monitoring/monitoring';
import { PythonServiceAutoscaling, PythonServiceDisruptionBudget } from '../features/scaling/availability';
import { PythonServiceSecurity } from '../features/security/security-policy';
import { PythonServer } from '../python/python-server';

/**
 * Props for `PythonService`.
 */
export interface PythonServiceProps extends PythonPodOptions {
  /**
   * Base name of every object (Deployment, Service, ServiceAccount, ...). A DNS-1035 label.
   * @default - the construct id in kebab-case
   */
  readonly name?: string;

  /**
   * How the container starts the app.
   * @default - the image's own ENTRYPOINT/CMD, with a 30 s graceful timeout assumed
   */
  readonly server?: PythonServer;

  /**
   * Memory one server or worker process needs. The worker count derived from the CPU request is
   * capped by how many processes fit in `resources.memory` next to the memory-backed volumes
   * (they count against the same limit) and the master process; a count set by `server.workers`
   * or `env.WEB_CONCURRENCY` must fit too.
   * @default Size.mebibytes(128) - a Django or Flask worker after imports and warm-up commonly takes 60-120 MiB
   */
  readonly memoryPerProcess?: Size;

  /**
   * Container port the server listens on (named `http`).
   * @default 8080 - unprivileged, and a common choice for Python app servers
   */
  readonly port?: number;

  /**
   * Port of the Service in front of the pods.
   * @default 80 - clients reach `http://<name>` without a port
   */
  readonly servicePort?: number;

  /**
   * Number of pods.
   * @default 3 - survives one pod being rescheduled while another rolls
   */
  readonly replicas?: number;

  /**
   * Health check paths and startup budget.
   * @default - startup and readiness on /healthz, liveness by TCP
   */
  readonly healthCheck?: PythonServiceHealthCheck;

  /**
   * How the service is reached.
   * @default Exposure.clusterIp()
   */
  readonly expose?: Exposure;

  /**
   * Which pods the Service prefers for a client: `PREFER_SAME_ZONE` keeps calls from other
   * services of the app inside their zone when it has a ready pod there. Needs Kubernetes 1.31
   * (`PREFER_CLOSE`) or 1.34 (the others); see `KubernetesVersion.setOldest`. Spread the pods
   * over zones (the default with more than one replica) so every zone has one.
   * @default - not set: connections spread over all ready pods
   */
  readonly trafficDistribution?: TrafficDistribution;

  /**
   * Graceful shutdown timing.
   * @default - 5 s preStop pause, 5 s margin
   */
  readonly shutdown?: PythonServiceShutdown;

  /**
   * `app.kubernetes.io/version`.
   * @default - the image tag, else the first 12 digits of the digest, else "latest"
   */
  readonly version?: string;

  /**
   * The chart for the objects a platform team owns rather than the app team: the cluster-scoped
   * admission policies and bindings (the service's and the namespace's), the Pod Security
   * Namespace, and the Velero Schedule in Velero's namespace. In a chart of its own (its own
   * file, applied first by a pipeline with cluster rights), an app deploy needs no cluster-wide
   * rights and cannot loosen its own guard rails. Names and references stay the same.
   * @default - the service's own chart
   */
  readonly platformChart?: Chart;

  /**
   * `app.kubernetes.io/part-of`: the larger application this service belongs to.
   * @default - the service name
   */
  readonly partOf?: string;

  /**
   * Extra labels on every object and pod (not used in selectors).
   * @default - none
   */
  readonly labels?: { [key: string]: string };

  /**
   * Scale horizontally with an `autoscaling/v2` HorizontalPodAutoscaler. The Deployment then
   * omits `replicas`, so the autoscaler owns the count; setting both is an error.
   * @default - a fixed number of replicas
   */
  readonly autoscaling?: PythonServiceAutoscaling;

  /**
   * The PodDisruptionBudget, emitted whenever more than one replica can run.
   * @default - maxUnavailable 1
   */
  readonly disruptionBudget?: PythonServiceDisruptionBudget;

  /**
   * A PersistentVolumeClaim mounted into the pods.
   * @default - no persistent storage
   */
  readonly persistence?: PythonServicePersistence;

  /**
   * Database migrations run as ONE Job per release (never per-pod init containers, which race
   * across replicas).
   * @default - no migration Job
   */
  readonly migrations?: PythonServiceMigrations;

  /**
   * Prometheus monitoring: a ServiceMonitor (and optionally alert rules) for the metrics
   * endpoint, prometheus_client multiprocess mode for multi-worker servers, and a NetworkPolicy
   * rule admitting the scraper.
   * @default - not monitored
   */
  readonly monitoring?: PythonServiceMonitoring;

  /**
   * Scheduled Velero backups of this service's objects and volumes. Needs the chart's namespace.
   * @default - no backups
   */
  readonly backup?: PythonServiceBackup;

  /**
   * Environment variables from a secret manager: an External Secrets Operator ExternalSecret
   * whose target Secret every container of the service reads by key.
   * @default - none
   */
  readonly externalSecret?: PythonServiceExternalSecret;

  /**
   * Configuration files mounted read-only into every pod of the service, from an immutable
   * ConfigMap named after its content (a change rolls the pods).
   * @default - none
   */
  readonly config?: PythonServiceConfigFiles;

  /**
   * OpenTelemetry tracing: the environment the Python SDK reads, egress to the collector, and
   * optionally auto-instrumentation.
   * @default - none
   */
  readonly tracing?: PythonServiceTracing;

  /**
   * Lock the service down: default-deny NetworkPolicies with explicit allows, CEL admission
   * rules (allowed images and volumes, Pod Security), and a synth-time self-check. Needs the
   * chart's namespace.
   * @default - pods are isolated for ingress only; no admission policy
   */
  readonly security?: PythonServiceSecurity;
}


