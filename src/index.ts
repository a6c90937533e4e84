export * from './kinds/python-service';
export * from './kinds/python-service-props';
export * from './features/config/service-config';
export * from './python/python-server';
export { Exposure, GatewayPathType, TrafficDistribution } from './features/exposure/exposure';
export { KubernetesVersion } from './core/kubernetes-version';
export type { GatewayExposureOptions, IngressExposureOptions, NodePortExposureOptions } from './features/exposure/exposure';
export * from './core/network-policy';
export * from './features/security/dns-egress';
export * from './features/scaling/availability';
export * from './features/backup/persistence';
export * from './kinds/migrations';
export type { PythonServiceMigrations } from './kinds/migration-options';
export type { IPythonApplication, IPythonWebService, PythonApplicationContext } from './core/python-application';
export { ServiceMonitoring } from './features/monitoring/monitoring';
export type { MonitoringScrapeOptions, PythonServiceMonitoring, ServiceAlertOptions, ServiceMonitoringProps } from './features/monitoring/monitoring';
export * from './features/backup/backup';
export * from './features/security/security-policy';
export * from './python/dockerfile';
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
export * from './python/worker-process';
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
