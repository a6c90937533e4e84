import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { isQualifiedName, PropValidator } from './validation';

/**
 * Options for `Exposure.nodePort()`.
 */
export interface NodePortExposureOptions {
  /**
   * The node port to open (30000-32767 on a default cluster).
   * @default - the cluster picks a free one
   */
  readonly nodePort?: number;
}

/**
 * Options for `Exposure.ingress()`.
 */
export interface IngressExposureOptions {
  /**
   * The host name the Ingress routes, e.g. `shop.example.com`.
   */
  readonly host: string;

  /**
   * The path prefix routed to the service.
   * @default "/"
   */
  readonly path?: string;

  /**
   * A TLS Secret (type kubernetes.io/tls) in the app namespace for `host`.
   * @default - no TLS section; the Ingress serves plain HTTP unless the controller adds TLS
   */
  readonly tlsSecretName?: string;

  /**
   * The IngressClass name (`spec.ingressClassName`).
   * @default - the cluster's default IngressClass
   */
  readonly className?: string;

  /**
   * Annotations for the Ingress (controller-specific settings, cert-manager issuers, ...).
   * @default - none
   */
  readonly annotations?: { [key: string]: string };
}

/**
 * How a `PythonService` is reached: a Service of some type, optionally behind an Ingress.
 */
export class Exposure {
  /**
   * Reachable inside the cluster only (Service type ClusterIP).
   */
  public static clusterIp(): Exposure {
    return new Exposure(kplus.ServiceType.CLUSTER_IP, true);
  }

  /**
   * A cloud load balancer in front of the Service (type LoadBalancer). Reachable from outside the cluster.
   */
  public static loadBalancer(): Exposure {
    return new Exposure(kplus.ServiceType.LOAD_BALANCER, false);
  }

  /**
   * A port on every node (type NodePort). Reachable from outside the cluster.
   */
  public static nodePort(options: NodePortExposureOptions = {}): Exposure {
    return new Exposure(kplus.ServiceType.NODE_PORT, false, options.nodePort);
  }

  /**
   * A ClusterIP Service behind a `networking.k8s.io/v1` Ingress routing `host` + `path` to it.
   */
  public static ingress(options: IngressExposureOptions): Exposure {
    return new Exposure(kplus.ServiceType.CLUSTER_IP, false, undefined, options);
  }

  /**
   * @param serviceType the Service type
   * @param clusterInternal whether only in-cluster clients reach it
   * @param nodePort the requested node port, for NodePort services
   * @param ingressOptions the Ingress to create, if any
   */
  private constructor(
    /** The Service type. */
    public readonly serviceType: kplus.ServiceType,
    /** True when only in-cluster clients can reach the service (no Ingress, LoadBalancer or NodePort). */
    public readonly clusterInternal: boolean,
    /** The requested node port, for NodePort services. */
    public readonly requestedNodePort?: number,
    /** The Ingress to create, if any. */
    public readonly ingressOptions?: IngressExposureOptions,
  ) {}

  /** The host names the service is reached under from outside, in order (wildcards included). */
  public get publicHosts(): string[] {
    return this.ingressOptions?.host !== undefined ? [this.ingressOptions.host] : [];
  }
}

/** What `addExposure` builds from. Internal. */
export interface ExposureTarget {
  readonly exposure: Exposure;
  readonly name: string;
  readonly labels: { [key: string]: string };
  readonly selector: { [key: string]: string };
  readonly port: number;
  readonly servicePort: number;
  readonly portName: string;
}

/** The Service (`<scope>/Service`) and, for ingress exposure, the Ingress (`<scope>/Ingress`). Internal. */
export function addExposure(scope: Construct, t: ExposureTarget): { service: kplus.Service; ingress?: kplus.Ingress } {
  const service = new kplus.Service(scope, 'Service', {
    metadata: { name: t.name, labels: { ...t.labels } },
    type: t.exposure.serviceType,
    ports: [{
      name: t.portName,
      port: t.servicePort,
      targetPort: t.port,
      protocol: kplus.Protocol.TCP,
      nodePort: t.exposure.requestedNodePort,
    }],
  });
  for (const [key, value] of Object.entries(t.selector)) service.selectLabel(key, value);

  const options = t.exposure.ingressOptions;
  if (!options) return { service };
  const ingress = new kplus.Ingress(scope, 'Ingress', {
    metadata: { name: t.name, labels: { ...t.labels }, annotations: options.annotations },
    className: options.className,
    rules: [{
      host: options.host,
      path: options.path ?? '/',
      pathType: kplus.HttpIngressPathType.PREFIX,
      backend: kplus.IngressBackend.fromService(service, { port: t.servicePort }),
    }],
    tls: options.tlsSecretName
      ? [{ hosts: [options.host], secret: kplus.Secret.fromSecretName(scope, 'TlsSecret', options.tlsSecretName) }]
      : undefined,
  });
  return { service, ingress };
}

/** Checks an exposure's options; throws naming the prop. Internal. */
export function validateExposure(v: PropValidator, exposure: Exposure): void {
  v.integerInRange('expose.nodePort', exposure.requestedNodePort, 1, 65535);
  const ingress = exposure.ingressOptions;
  if (!ingress) return;
  const host = ingress.host;
  if (typeof host !== 'string' || !/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(host) || host.length > 253) {
    v.fail('expose.host', host, 'must be a lower-case DNS host name such as "shop.example.com" (no scheme, port or path)');
  }
  v.httpPath('expose.path', ingress.path);
  if (ingress.tlsSecretName !== undefined) v.dnsSubdomain('expose.tlsSecretName', ingress.tlsSecretName);
  if (ingress.className !== undefined) v.dnsSubdomain('expose.className', ingress.className);
  for (const [key, value] of Object.entries(ingress.annotations ?? {})) {
    if (!isQualifiedName(key)) v.fail('expose.annotations key', key, 'must be a qualified name such as "cert-manager.io/cluster-issuer"');
    if (typeof value !== 'string') v.fail(`expose.annotations["${key}"]`, value, 'must be a string');
  }
}
