// The public surface, named: what is exported here is the API (API.md, the Python package).
export { PythonService } from './kinds/python-service';
export type { PythonServiceProps } from './kinds/python-service-props';
export { ExternalSecretStoreKind, OtlpProtocol } from './features/config/service-config';
export type { ExternalSecretRef, PythonServiceConfigFiles, PythonServiceExternalSecret, PythonServiceTracing } from './features/config/service-config';
export { GranianInterface, PythonServer, PythonServerKind } from './python/python-server';
export type { CommandServerOptions, GranianOptions, GunicornOptions, PythonServerBindOptions, PythonServerConfig, UvicornOptions } from './python/python-server';
export { Exposure, GatewayPathType, TrafficDistribution } from './features/exposure/exposure';
export { KubernetesVersion } from './core/kubernetes-version';
export type { GatewayExposureOptions, IngressExposureOptions, NodePortExposureOptions } from './features/exposure/exposure';
export { NetworkProtocol, ServiceNetworkPolicy } from './core/network-policy';
export type { NetworkPeer, NetworkPort, NetworkRule, ServiceNetworkPolicyProps } from './core/network-policy';
export { DnsEgress } from './features/security/dns-egress';
export type { KubeDnsEgressOptions } from './features/security/dns-egress';
export { ServiceDisruptionBudget } from './features/scaling/availability';
export type {
  AutoscalingExternalMetric, AutoscalingPodMetric, PythonServiceAutoscaling, PythonServiceDisruptionBudget, ServiceDisruptionBudgetProps,
} from './features/scaling/availability';
export type { PythonServicePersistence } from './features/backup/persistence';
export { MigrationJob } from './kinds/migrations';
export type { MigrationJobProps } from './kinds/migrations';
export type { PythonServiceMigrations } from './kinds/migration-options';
export type { IPythonApplication, IPythonWebService, PythonApplicationContext } from './core/python-application';
export { ServiceMonitoring } from './features/monitoring/monitoring';
export type { MonitoringScrapeOptions, PythonServiceMonitoring, ServiceAlertOptions, ServiceMonitoringProps } from './features/monitoring/monitoring';
export { BackupHookErrorMode, BackupObjects, BackupSchedule, BackupVolumeMode } from './features/backup/backup';
export type { BackupHooks, BackupScheduleProps, PythonServiceBackup } from './features/backup/backup';
export { AdmissionEngine, AdmissionPolicyApiVersion, PodSecurityLevel, PodSecurityNamespace, PolicyEnforcement, SecurityPolicy } from './features/security/security-policy';
export type { AdmissionPolicyOptions, PodSecurityNamespaceProps, PythonServiceSecurity, SecurityPolicyProps } from './features/security/security-policy';
export { PythonDockerfile } from './python/dockerfile';
export type { PythonDockerfileOptions, PythonDockerfileTarget } from './python/dockerfile';
export { PythonPodTemplate, ResizeRestartPolicy } from './core/python-pod-template';
export type {
  PythonContainerOptions, PythonImageOptions, PythonPodMount, PythonPodOptions, PythonPodOverrides, PythonPodTemplateProps, PythonProcessOptions,
  PythonResizePolicy, PythonServiceResources, PythonServiceSecurityContext,
} from './core/python-pod-template';
export { ServiceIdentity } from './core/service-identity';
export type { ServiceIdentityProps } from './core/service-identity';
export { PreStopMethod } from './kinds/web-deployment';
export type { PythonServiceHealthCheck, PythonServiceShutdown } from './kinds/web-deployment';
export { HealthProbe, HealthProbeKind } from './core/health-probe';
export type { HealthProbeTiming, HttpHealthProbeOptions, TcpHealthProbeOptions } from './core/health-probe';
export { CeleryPool, WorkerProcess, WorkerProcessKind } from './python/worker-process';
export type { CeleryBeatOptions, CeleryWorkerOptions, DramatiqWorkerOptions, RqWorkerOptions, WorkerProcessBindOptions, WorkerProcessConfig } from './python/worker-process';
export type { PythonSidecarOptions } from './core/sidecar';
export { PythonWorker } from './kinds/python-worker';
export type { PythonWorkerOptions, PythonWorkerProps, PythonWorkerShutdown } from './kinds/python-worker';
export { PythonCronJob } from './kinds/python-cron-job';
export type { PythonCronJobOptions, PythonCronJobProps } from './kinds/python-cron-job';
export { PythonComponent } from './core/python-component';
export type { PythonComponentOptions, StandalonePythonOptions } from './core/python-component';
export { QueueScaling } from './features/scaling/queue-scaling';
export { BackingService } from './core/backing-service';
export type {
  BackingServiceSecretKey, CloudNativePgOptions, DatabaseVariables, EndpointBackingOptions, RabbitMqBackingOptions, RedisBackingOptions,
} from './core/backing-service';
export type { ServiceConnectionOptions } from './features/connections/connections';
export type { BrokerListScalingOptions, CustomQueueScalingOptions, QueueScalingLimits, RabbitMqScalingOptions, RedisListScalingOptions, SecretKeySelector, TriggerSecret } from './features/scaling/queue-scaling';
