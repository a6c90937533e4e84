export * from './python-service';
export * from './python-server';
export { Exposure, IngressExposureOptions, NodePortExposureOptions } from './exposure';
export * from './network-policy';
export * from './availability';
export * from './persistence';
export * from './migrations';
export { PythonServiceMonitoring, ServiceAlertOptions, ServiceMonitoring, ServiceMonitoringProps } from './monitoring';
export * from './backup';
export * from './security-policy';
export * from './dockerfile';
export {
  PythonContainerOptions, PythonPodOptions, PythonPodTemplate, PythonPodTemplateProps, PythonServiceResources, PythonServiceSecurityContext,
} from './python-pod-template';
export { ServiceIdentity, ServiceIdentityProps } from './service-identity';
export { PythonServiceHealthCheck, PythonServiceShutdown } from './web-deployment';
