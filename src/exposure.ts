import * as kplus from 'cdk8s-plus-28';

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
}
