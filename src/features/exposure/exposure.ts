import { ApiObject, Duration } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { customResource } from '../../core/custom-resource';
import { KUBERNETES_FEATURES, requireKubernetes } from '../../core/kubernetes-version';
import { kplus } from '../../core/plus';
import { closeServiceGaps, setTrafficDistribution } from '../../core/plus-gaps';
import { isQualifiedName, PropValidator } from '../../core/validation';
import type * as gateway from '../../imports/gateway.networking.k8s.io';

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
   * The host name the Ingress routes, e.g. `shop.example.com` (or `hosts` for several).
   * @default - `hosts`; one of the two is required
   */
  readonly host?: string;

  /**
   * The host names the Ingress routes, e.g. `['example.com', 'www.example.com']` (a leading
   * `*.` wildcard is allowed), as `Exposure.gateway()` takes `hostnames`. The first one that is
   * not a wildcard is the probes' `Host` header.
   * @default - `host`; one of the two is required
   */
  readonly hosts?: string[];

  /**
   * The path routed to the service, on every host.
   * @default "/"
   */
  readonly path?: string;

  /**
   * How the path matches (`Prefix` or `Exact` in the Ingress), as for `Exposure.gateway()`.
   * @default GatewayPathType.PATH_PREFIX
   */
  readonly pathType?: GatewayPathType;

  /**
   * One TLS Secret (type kubernetes.io/tls) in the app namespace whose certificate covers every host.
   * @default - no TLS section (or `tlsSecretNames`); the Ingress serves plain HTTP unless the controller adds TLS
   */
  readonly tlsSecretName?: string;

  /**
   * One TLS Secret per host, `{ 'example.com': 'example-com-tls', 'www.example.com': 'www-tls' }`;
   * every key must be one of the hosts.
   * @default - `tlsSecretName` for all hosts, or no TLS
   */
  readonly tlsSecretNames?: { [host: string]: string };

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

  /**
   * The namespace the ingress controller's pods run in (e.g. `ingress-nginx`, `traefik`). The
   * NetworkPolicy then admits the app port from that namespace only, instead of from everywhere.
   * Only for controllers that proxy from pods: with a cloud load balancer that sends traffic
   * straight to pod IPs, the sources have no namespace (use `security.ingressFrom` with CIDRs).
   * @default - the app port is open to every source
   */
  readonly proxyNamespace?: string;
}

/**
 * How an HTTPRoute matches the request path.
 */
export enum GatewayPathType {
  /** The path and everything below it (`/api` matches `/api` and `/api/orders`, not `/apix`). */
  PATH_PREFIX = 'PathPrefix',
  /** Exactly the path. */
  EXACT = 'Exact',
}

/**
 * Options for `Exposure.gateway()`.
 */
export interface GatewayExposureOptions {
  /**
   * The Gateway to attach to (it must exist, and its listener must admit routes from the app
   * namespace: `allowedRoutes.namespaces`).
   */
  readonly gatewayName: string;

  /**
   * The Gateway's namespace.
   * @default - the app namespace
   */
  readonly gatewayNamespace?: string;

  /**
   * The Gateway listener to attach to (`parentRefs[].sectionName`), e.g. `https`. Without it the
   * route attaches to every listener of the Gateway whose `allowedRoutes` admit it, plain HTTP
   * included.
   * @default - every listener that admits the route
   */
  readonly sectionName?: string;

  /**
   * Host names the route matches (RFC 1123; a leading `*.` wildcard is allowed).
   * @default - every host the listener accepts
   */
  readonly hostnames?: string[];

  /**
   * The path routed to the service.
   * @default "/"
   */
  readonly path?: string;

  /**
   * How the path matches.
   * @default GatewayPathType.PATH_PREFIX
   */
  readonly pathType?: GatewayPathType;

  /**
   * The route's request timeout (`rules[].timeouts.request`).
   * @default - for gunicorn sync workers, the server's `timeout` + 5 s (gunicorn kills a request after its timeout, so the proxy should wait at least that long); otherwise unset
   */
  readonly requestTimeout?: Duration;

  /**
   * Emit `timeouts` at all. It is an Extended-support field: implementations that lack it
   * reject or ignore the route; set false for them.
   * @default true
   */
  readonly timeouts?: boolean;

  /**
   * The namespace the Gateway's data plane (proxy pods) runs in, e.g. `envoy-gateway-system`
   * for Envoy Gateway, the Gateway's own namespace for Istio or Cilium's per-Gateway proxies
   * (`istio-ingress`, ...), `nginx-gateway` for NGINX Gateway Fabric. The NetworkPolicy then
   * admits the app port from that namespace only. Cloud implementations that send traffic
   * straight to pod IPs (GKE, AWS Load Balancer Controller in IP mode) have no namespace: use
   * `security.ingressFrom` with their source ranges.
   * @default - the app port is open to every source
   */
  readonly proxyNamespace?: string;
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
   * A ClusterIP Service behind a Gateway API `HTTPRoute` (`gateway.networking.k8s.io/v1`)
   * attached to an existing Gateway.
   */
  public static gateway(options: GatewayExposureOptions): Exposure {
    return new Exposure(kplus.ServiceType.CLUSTER_IP, false, undefined, undefined, options);
  }

  /**
   * @param serviceType the Service type
   * @param clusterInternal whether only in-cluster clients reach it
   * @param nodePort the requested node port, for NodePort services
   * @param ingressOptions the Ingress to create, if any
   * @param gatewayOptions the HTTPRoute to create, if any
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
    /** The HTTPRoute to create, if any. */
    public readonly gatewayOptions?: GatewayExposureOptions,
  ) {}

  /** The host names the service is reached under from outside, in order (wildcards included). */
  public get publicHosts(): string[] {
    if (this.ingressOptions) return ingressHosts(this.ingressOptions);
    return [...(this.gatewayOptions?.hostnames ?? [])];
  }

  /**
   * The namespace the proxy in front runs in, when the exposure names one.
   * @default - none
   */
  public get proxyNamespace(): string | undefined {
    return this.ingressOptions?.proxyNamespace ?? this.gatewayOptions?.proxyNamespace;
  }
}

/**
 * Which of a Service's ready pods kube-proxy (or the service mesh) prefers for a client
 * (`spec.trafficDistribution`). A preference, not a rule: with no ready pod nearby, traffic goes
 * to the others.
 */
export enum TrafficDistribution {
  /**
   * Pods in the client's zone where the implementation supports it. Kubernetes 1.31+ (GA in 1.33);
   * from 1.34, `PREFER_SAME_ZONE` says the same thing by name.
   */
  PREFER_CLOSE = 'PreferClose',
  /** Pods in the client's zone: cross-zone traffic costs money and latency. Kubernetes 1.34+ (GA in 1.35). */
  PREFER_SAME_ZONE = 'PreferSameZone',
  /** Pods on the client's node, else in its zone. Kubernetes 1.34+ (GA in 1.35). */
  PREFER_SAME_NODE = 'PreferSameNode',
}

/** Checks `trafficDistribution` and its Kubernetes version. Internal. */
export function resolveTrafficDistribution(
  scope: IConstruct, v: PropValidator, value: TrafficDistribution | undefined,
): TrafficDistribution | undefined {
  if (value === undefined) return undefined;
  const values = Object.values(TrafficDistribution);
  if (!values.includes(value)) v.fail('trafficDistribution', value, `must be one of ${values.join(', ')}`);
  const feature = value === TrafficDistribution.PREFER_CLOSE
    ? KUBERNETES_FEATURES.trafficDistributionPreferClose
    : KUBERNETES_FEATURES.trafficDistributionSameZoneOrNode;
  requireKubernetes(scope, v, 'trafficDistribution', value, feature);
  return value;
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
  /** The route's request timeout, resolved (undefined: none). */
  readonly requestTimeout?: Duration;
  /** The Service's `trafficDistribution`, resolved (undefined: none). */
  readonly trafficDistribution?: TrafficDistribution;
}

/** The Service (`<scope>/Service`) and, for ingress exposure, the Ingress (`<scope>/Ingress`). Internal. */
export function addExposure(scope: Construct, t: ExposureTarget): { service: kplus.Service; ingress?: kplus.Ingress; route?: ApiObject } {
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
  closeServiceGaps(ApiObject.of(service));
  if (t.trafficDistribution !== undefined) setTrafficDistribution(ApiObject.of(service), t.trafficDistribution);

  if (t.exposure.gatewayOptions) return { service, route: addHttpRoute(scope, t, t.exposure.gatewayOptions) };
  const options = t.exposure.ingressOptions;
  if (!options) return { service };
  const hosts = ingressHosts(options);
  const backend = kplus.IngressBackend.fromService(service, { port: t.servicePort });
  const pathType = options.pathType === GatewayPathType.EXACT ? kplus.HttpIngressPathType.EXACT : kplus.HttpIngressPathType.PREFIX;
  const ingress = new kplus.Ingress(scope, 'Ingress', {
    metadata: { name: t.name, labels: { ...t.labels }, annotations: options.annotations },
    className: options.className,
    rules: hosts.map((host) => ({ host, path: options.path ?? '/', pathType, backend })),
    tls: ingressTls(scope, options, hosts),
  });
  return { service, ingress };
}

/** The Ingress's hosts, from `host` or `hosts`. */
function ingressHosts(options: IngressExposureOptions): string[] {
  return options.hosts !== undefined ? [...options.hosts] : options.host !== undefined ? [options.host] : [];
}

/** One TLS entry for all hosts (`tlsSecretName`), or one per Secret of `tlsSecretNames`, hosts in their order. */
function ingressTls(scope: Construct, options: IngressExposureOptions, hosts: string[]): kplus.IngressTls[] | undefined {
  if (options.tlsSecretName !== undefined) return [{ hosts, secret: kplus.Secret.fromSecretName(scope, 'TlsSecret', options.tlsSecretName) }];
  const byHost = options.tlsSecretNames;
  if (byHost === undefined) return undefined;
  const secrets = [...new Set(hosts.filter((h) => byHost[h] !== undefined).map((h) => byHost[h]))];
  return secrets.map((secretName, i) => ({
    hosts: hosts.filter((h) => byHost[h] === secretName),
    secret: kplus.Secret.fromSecretName(scope, i === 0 ? 'TlsSecret' : `TlsSecret${i}`, secretName),
  }));
}

function gatewayApi(): typeof gateway {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../imports/gateway.networking.k8s.io');
}

/** The HTTPRoute `<name>` in the app namespace, sending matching requests to the Service's port. */
function addHttpRoute(scope: Construct, t: ExposureTarget, o: GatewayExposureOptions): ApiObject {
  const api = gatewayApi();
  return customResource<gateway.HttpRouteProps>(scope, 'HttpRoute', api.HttpRoute.GVK, api.toJson_HttpRouteProps, {
    metadata: { name: t.name, labels: { ...t.labels } },
    spec: {
      parentRefs: [{ name: o.gatewayName, namespace: o.gatewayNamespace, sectionName: o.sectionName }],
      hostnames: o.hostnames ? [...o.hostnames] : undefined,
      rules: [{
        matches: [{ path: { type: (o.pathType ?? GatewayPathType.PATH_PREFIX) as unknown as gateway.HttpRouteSpecRulesMatchesPathType, value: o.path ?? '/' } }],
        backendRefs: [{ name: t.name, port: t.servicePort }],
        timeouts: t.requestTimeout ? { request: `${t.requestTimeout.toSeconds()}s` } : undefined,
      }],
    },
  });
}

/** Checks an exposure's options; throws naming the prop. Internal. */
export function validateExposure(v: PropValidator, exposure: Exposure): void {
  v.integerInRange('expose.nodePort', exposure.requestedNodePort, 1, 65535);
  const proxyNamespace = exposure.proxyNamespace;
  if (proxyNamespace !== undefined) v.dnsLabel('expose.proxyNamespace', proxyNamespace);
  if (exposure.gatewayOptions) validateGateway(v, exposure.gatewayOptions);
  const ingress = exposure.ingressOptions;
  if (!ingress) return;
  if (ingress.host !== undefined && ingress.hosts !== undefined) v.fail('expose.hosts', ingress.hosts, 'cannot be combined with expose.host; list every host in hosts');
  if (ingress.host === undefined && ingress.hosts === undefined) v.fail('expose.host', undefined, 'is required: the host name the Ingress routes (or hosts, for several)');
  if (ingress.host !== undefined) validateIngressHost(v, 'expose.host', ingress.host);
  if (ingress.hosts !== undefined) {
    if (!Array.isArray(ingress.hosts) || ingress.hosts.length === 0) v.fail('expose.hosts', ingress.hosts, 'must list at least one host name');
    ingress.hosts.forEach((host, i) => validateIngressHost(v, `expose.hosts[${i}]`, host));
    const repeated = ingress.hosts.find((h, i) => ingress.hosts!.indexOf(h) !== i);
    if (repeated !== undefined) v.fail('expose.hosts', ingress.hosts, `names "${repeated}" twice`);
  }
  v.httpPath('expose.path', ingress.path);
  if (ingress.pathType !== undefined && !Object.values(GatewayPathType).includes(ingress.pathType)) {
    v.fail('expose.pathType', ingress.pathType, `must be one of ${Object.values(GatewayPathType).join(', ')}`);
  }
  if (ingress.tlsSecretName !== undefined) v.dnsSubdomain('expose.tlsSecretName', ingress.tlsSecretName);
  if (ingress.tlsSecretNames !== undefined) {
    if (ingress.tlsSecretName !== undefined) v.fail('expose.tlsSecretNames', ingress.tlsSecretNames, 'cannot be combined with expose.tlsSecretName (one Secret for every host)');
    const hosts = ingressHosts(ingress);
    for (const [host, secretName] of Object.entries(ingress.tlsSecretNames)) {
      if (!hosts.includes(host)) v.fail(`expose.tlsSecretNames["${host}"]`, secretName, `is for a host the Ingress does not route (hosts: ${hosts.join(', ')})`);
      v.dnsSubdomain(`expose.tlsSecretNames["${host}"]`, secretName);
    }
  }
  if (ingress.className !== undefined) v.dnsSubdomain('expose.className', ingress.className);
  for (const [key, value] of Object.entries(ingress.annotations ?? {})) {
    if (!isQualifiedName(key)) v.fail('expose.annotations key', key, 'must be a qualified name such as "cert-manager.io/cluster-issuer"');
    if (typeof value !== 'string') v.fail(`expose.annotations["${key}"]`, value, 'must be a string');
  }
}

const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function validateIngressHost(v: PropValidator, prop: string, host: string): void {
  if (typeof host !== 'string' || !HOSTNAME.test(host) || host.length > 253) {
    v.fail(prop, host, 'must be a lower-case DNS host name such as "shop.example.com" (no scheme, port or path)');
  }
}

function validateGateway(v: PropValidator, o: GatewayExposureOptions): void {
  v.dnsSubdomain('expose.gatewayName', o.gatewayName);
  if (typeof o.gatewayName !== 'string') v.fail('expose.gatewayName', o.gatewayName, 'must name the Gateway to attach to');
  v.dnsLabel('expose.gatewayNamespace', o.gatewayNamespace);
  v.dnsSubdomain('expose.sectionName', o.sectionName);
  if (o.hostnames !== undefined) {
    if (!Array.isArray(o.hostnames) || o.hostnames.length === 0 || o.hostnames.length > 16) {
      v.fail('expose.hostnames', o.hostnames, 'must list 1 to 16 host names, or be left out to match every host the listener accepts');
    }
    o.hostnames.forEach((host, i) => {
      if (typeof host !== 'string' || !HOSTNAME.test(host) || host.length > 253) {
        v.fail(`expose.hostnames[${i}]`, host, 'must be a lower-case RFC 1123 host name, optionally starting with "*." (no scheme, port or path)');
      }
      if (/^[0-9.]+$/.test(host)) v.fail(`expose.hostnames[${i}]`, host, 'must be a host name: Gateway API does not route by IP address');
    });
  }
  v.httpPath('expose.path', o.path);
  if (o.path !== undefined && o.path.length > 1024) v.fail('expose.path', o.path, 'must be at most 1024 characters');
  if (o.pathType !== undefined && !Object.values(GatewayPathType).includes(o.pathType)) {
    v.fail('expose.pathType', o.pathType, `must be one of ${Object.values(GatewayPathType).join(', ')}`);
  }
  v.positiveDuration('expose.requestTimeout', o.requestTimeout);
  if (o.requestTimeout !== undefined && o.timeouts === false) {
    v.fail('expose.requestTimeout', o.requestTimeout, 'cannot be combined with timeouts: false');
  }
}

