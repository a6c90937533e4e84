import { Size } from 'cdk8s';
import { IConstruct } from 'constructs';
import type { PythonServiceMonitoring } from './monitoring';
import type { ServiceNetworkPolicy } from './network-policy';
import type { PythonPodTemplate } from './python-pod-template';
import type { PythonServiceSecurity, SecurityPolicy } from './security-policy';
import type { PythonServiceTracing } from './service-config';
import type { ServiceIdentity } from './service-identity';

/**
 * A Python application that workers, scheduled jobs and migration Jobs belong to: they run its
 * pod template under its identity (names, labels) and share its security, tracing and
 * monitoring settings. `PythonService` is one.
 */
export interface IPythonApplication extends IConstruct {
  /** Names and labels shared by every component of the application. */
  readonly identity: ServiceIdentity;
  /** The Python pod every workload of the application runs: image, env, resources, security contexts. */
  readonly podTemplate: PythonPodTemplate;
}

/**
 * A Python web service other pods can call: `connectTo(target)` opens egress to its pods on its
 * container port and ingress in its NetworkPolicy. `PythonService` is one.
 */
export interface IPythonWebService extends IPythonApplication {
  /** Base name of its objects, and its Service's name. */
  readonly name: string;
  /** Its namespace (the chart's). */
  readonly namespace?: string;
  /** Labels that select its web pods and nothing else. */
  readonly selectorLabels: { [key: string]: string };
  /** The container port its server listens on. */
  readonly port: number;
  /** Its Service port. */
  readonly servicePort: number;
  /** The NetworkPolicy of its web pods, which admits the callers. */
  readonly networkPolicy: ServiceNetworkPolicy;
}

/** What an application's components share beyond its public handles. Internal. */
export interface ApplicationSettings {
  /** How errors name the application, e.g. `PythonService 'api'`. */
  readonly label: string;
  readonly memoryPerProcess: Size;
  readonly security?: PythonServiceSecurity;
  /** The admission policy that must admit every pod of the application, with `security`. */
  readonly securityPolicy?: SecurityPolicy;
  /** The namespace's policy the application joined, with `security`. */
  readonly namespacePolicy?: SecurityPolicy;
  readonly tracing?: PythonServiceTracing;
  readonly monitoring?: PythonServiceMonitoring;
}

const settings = new WeakMap<IPythonApplication, ApplicationSettings>();

/** Records what an application's components share (`PythonService` does, as it is built). Internal. */
export function registerApplication(application: IPythonApplication, shared: ApplicationSettings): void {
  settings.set(application, shared);
}

/**
 * What an application's components share: what it registered, or, for an application of the
 * user's own making, nothing beyond its handles (no security, tracing or monitoring; 128Mi per process).
 */
export function applicationSettingsOf(application: IPythonApplication): ApplicationSettings {
  return settings.get(application) ?? { label: `application '${application.node.id}'`, memoryPerProcess: Size.mebibytes(128) };
}
