export * from './python-service';
export * from './python-service-props';
export * from './service-config';
export * from './python-server';
export { Exposure, GatewayPathType, TrafficDistribution } from './exposure';
export { KubernetesVersion } from './kubernetes-version';
export type { GatewayExposureOptions, IngressExposureOptions, NodePortExposureOptions } from './exposure';
export * from './network-policy';
export * from './dns-egress';
export * from './availability';
export * from './persistence';
export * from './migrations';
export type { PythonServiceMigrations } from './migration-options';
export type { IPythonApplication, IPythonWebService, PythonApplicationContext } from './python-application';
export { ServiceMonitoring } from './monitoring';
export type { MonitoringScrapeOptions, PythonServiceMonitoring, ServiceAlertOptions, ServiceMonitoringProps } from './monitoring';
export * from './backup';
export * from './security-policy';
export * from './dockerfile';
export { PythonPodTemplate, ResizeRestartPolicy } from './python-pod-template';
export type {
  PythonContainerOptions, PythonImageOptions, PythonPodMount, PythonPodOptions, PythonPodOverrides, PythonPodTemplateProps, PythonProcessOptions,
  PythonResizePolicy, PythonServiceResources, PythonServiceSecurityContext,
} from './python-pod-template';
export { ServiceIdentity } from './service-identity';
export type { ServiceIdentityProps } from './service-identity';
export { PreStopMethod } from './web-deployment';
export type { PythonServiceHealthCheck, PythonServiceShutdown } from './web-deployment';
export { HealthProbe, HealthProbeKind } from './health-probe';
export type { HealthProbeTiming, HttpHealthProbeOptions, TcpHealthProbeOptions } from './health-probe';
export * from './worker-process';
export type { PythonSidecarOptions } from './sidecar';
export { PythonWorker } from './python-worker';
export type { PythonWorkerOptions, PythonWorkerProps, PythonWorkerShutdown } from './python-worker';
export { PythonCronJob } from './python-cron-job';
export type { PythonCronJobOptions, PythonCronJobProps } from './python-cron-job';
export { PythonComponent } from './python-component';
export type { PythonComponentOptions, StandalonePythonOptions } from './python-component';
export { QueueScaling } from './queue-scaling';
export { BackingService } from './backing-service';
export type {
  BackingServiceSecretKey, CloudNativePgOptions, DatabaseVariables, EndpointBackingOptions, RabbitMqBackingOptions, RedisBackingOptions,
} from './backing-service';
export type { ServiceConnectionOptions } from './connections';
export type { BrokerListScalingOptions, CustomQueueScalingOptions, QueueScalingLimits, RabbitMqScalingOptions, RedisListScalingOptions, SecretKeySelector, TriggerSecret } from './queue-scaling';
