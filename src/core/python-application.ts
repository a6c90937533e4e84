import { Size } from 'cdk8s';
import { IConstruct } from 'constructs';
import type { ServiceNetworkPolicy } from './network-policy';
import type { PythonPodTemplate } from './python-pod-template';
import type { ServiceIdentity } from './service-identity';
import type { PythonServiceTracing } from '../features/config/service-config';
import type { PythonServiceMonitoring } from '../features/monitoring/monitoring';
import type { PythonServiceSecurity, SecurityPolicy } from '../features/security/security-policy';

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
  /** What the application shares with its components beyond the pod template. */
  readonly applicationContext: PythonApplicationContext;
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

/**
 * What an application shares with its workers, scheduled jobs and migration Job beyond its pod
 * template: how errors name it, the memory of one Python process, and its security, tracing and
 * monitoring settings. `PythonService` builds it from its props.
 */
export interface PythonApplicationContext {
  /** How errors name the application, e.g. `PythonService 'api'`. */
  readonly errorLabel: string;
  /** Memory one Python process needs; workers size their process counts by it. */
  readonly memoryPerProcess: Size;
  /**
   * Restricted egress (DNS plus `egressTo`) and admission for every component's pods.
   * @default - egress open; no admission policy
   */
  readonly security?: PythonServiceSecurity;
  /**
   * The admission policy that must admit every pod of the application (with `security`).
   * @default - none
   */
  readonly securityPolicy?: SecurityPolicy;
  /**
   * The namespace's policy the application joined (with `security`).
   * @default - none
   */
  readonly namespacePolicy?: SecurityPolicy;
  /**
   * OpenTelemetry settings; each component reports traces under its own name.
   * @default - no tracing
   */
  readonly tracing?: PythonServiceTracing;
  /**
   * Metrics settings; workers with a metrics port get a PodMonitor from them.
   * @default - no monitoring
   */
  readonly monitoring?: PythonServiceMonitoring;
}

/**
 * The context `application` shares with its components. One of the user's own making must
 * expose it (TypeScript requires it; this check names the gap for JavaScript callers), so a
 * component never runs without its application's security or memory sizing. Internal.
 */
export function applicationContextOf(application: IPythonApplication, componentLabel: string): PythonApplicationContext {
  const context = application?.applicationContext;
  if (context === null || typeof context !== 'object' || typeof context.errorLabel !== 'string' || !(context.memoryPerProcess instanceof Size)) {
    throw new Error(`${componentLabel}: service ${application?.node?.path ?? String(application)} has no applicationContext (errorLabel, memoryPerProcess, `
      + 'security, tracing, monitoring): an IPythonApplication shares it with its components; PythonService does');
  }
  return context;
}
