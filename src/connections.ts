import { Chart } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { isCidr, NetworkPeer, NetworkProtocol, NetworkRule, ServiceNetworkPolicy } from './network-policy';
import { kplus } from './plus';
import type { IPythonWebService } from './python-application';
import { singletonChild } from './singleton';
import { PropValidator } from './validation';
import { warnOnce } from './warnings';

/**
 * A Secret key that holds a value: a URL, a password.
 */
export interface BackingServiceSecretKey {
  /** The Secret's name, in the app's namespace (a pod reads Secrets of its own namespace only). */
  readonly secretName: string;
  /** The key inside it. */
  readonly key: string;
}

/**
 * A PostgreSQL cluster run by CloudNativePG.
 */
export interface CloudNativePgOptions {
  /** The CloudNativePG `Cluster`'s name; its pods carry `cnpg.io/cluster: <clusterName>`. */
  readonly clusterName: string;

  /**
   * The Cluster's namespace.
   * @default - the app's namespace
   */
  readonly namespace?: string;

  /**
   * The variable the connection URI lands in.
   * @default "DATABASE_URL" - what dj-database-url, SQLAlchemy setups and most Python settings read
   */
  readonly envName?: string;

  /**
   * The Secret holding the URI. CloudNativePG writes `<clusterName>-app` with a `uri` key in the
   * Cluster's namespace, unless `bootstrap.initdb.secret` names a Secret of yours; a Cluster in
   * another namespace needs a copy of it in the app's (an ExternalSecret, a replicator).
   * @default - { secretName: "<clusterName>-app", key: "uri" }, when the Cluster is in the app's namespace
   */
  readonly uriSecret?: BackingServiceSecretKey;

  /**
   * The PostgreSQL port.
   * @default 5432
   */
  readonly port?: number;

  /**
   * The connection's settings one by one, for apps that read them apart rather than as a URI
   * (`DATABASES = {"default": {"HOST": os.environ["DB_HOST"], ...}}`): each named variable comes
   * from its own key of the Secret CloudNativePG writes (`host`, `port`, `user`, `password`,
   * `dbname`), so nothing is spliced and a password needs no encoding. For a Cluster in another
   * namespace the host is `<clusterName>-rw.<namespace>` (the Secret's is the short name).
   * @default - none: the URI only
   */
  readonly variables?: DatabaseVariables;

  /**
   * Set the URI variable (`envName`). `false` gives the app only `variables`.
   * @default true
   */
  readonly uri?: boolean;
}

/**
 * The variables a database's connection settings land in; a setting without a name is not set.
 */
export interface DatabaseVariables {
  /**
   * The host, e.g. `DB_HOST`.
   * @default - not set
   */
  readonly host?: string;

  /**
   * The port, e.g. `DB_PORT`.
   * @default - not set
   */
  readonly port?: string;

  /**
   * The user name, e.g. `DB_USER`.
   * @default - not set
   */
  readonly user?: string;

  /**
   * The password, e.g. `DB_PASSWORD`.
   * @default - not set
   */
  readonly password?: string;

  /**
   * The database name, e.g. `DB_NAME`.
   * @default - not set
   */
  readonly database?: string;
}

/** The keys of CloudNativePG's `<cluster>-app` Secret, per setting. */
const CNPG_SECRET_KEYS: { [setting in keyof DatabaseVariables]-?: string } = { host: 'host', port: 'port', user: 'user', password: 'password', database: 'dbname' };

/**
 * A Redis or Valkey server, in the cluster (`namespace` and `podLabels`) or outside it (`cidr`).
 */
export interface RedisBackingOptions {
  /** The host clients connect to: the Service's DNS name (`redis-master.redis.svc`) or an outside host. */
  readonly host: string;

  /**
   * The port.
   * @default 6379
   */
  readonly port?: number;

  /**
   * The namespace of the Redis pods, in the cluster.
   * @default - the app's namespace, with podLabels
   */
  readonly namespace?: string;

  /**
   * Labels of the Redis pods (e.g. `{ 'app.kubernetes.io/name': 'redis' }`), for the NetworkPolicy.
   * @default - none: cidr must be set
   */
  readonly podLabels?: { [key: string]: string };

  /**
   * The addresses of a Redis outside the cluster, for the NetworkPolicy.
   * @default - none: podLabels must be set
   */
  readonly cidr?: string;

  /**
   * The database number in the URL.
   * @default 0
   */
  readonly database?: number;

  /**
   * A Secret key with the password. It becomes `<envName>_PASSWORD`, which the app can read as it
   * is (`redis.Redis.from_url(url, password=...)`), and KEDA's trigger uses it too. It goes into the
   * URL only with `passwordUrlSafe`: the kubelet's `$(VAR)` expansion copies a value as it is and
   * cannot percent-encode it, so a password with `@`, `/`, `:` or `%` would break the URL.
   * @default - no password
   */
  readonly passwordSecret?: BackingServiceSecretKey;

  /**
   * The password in `passwordSecret` has only URL-safe characters (letters, digits, `-`, `.`, `_`,
   * `~`), so the URL may carry it as it is: `redis://:$(<envName>_PASSWORD)@<host>:<port>/<database>`.
   * @default false - the URL carries no password
   */
  readonly passwordUrlSafe?: boolean;

  /**
   * A Secret key with the whole URL, password encoded as a URL needs it, for `<envName>`
   * (`passwordSecret` may still give `<envName>_PASSWORD` and KEDA the password).
   * @default - the URL is made from host, port and database
   */
  readonly urlSecret?: BackingServiceSecretKey;

  /**
   * The variable the URL (`redis://[:$(<envName>_PASSWORD)@]<host>:<port>/<database>`) lands in.
   * @default "REDIS_URL"
   */
  readonly envName?: string;
}

/**
 * A RabbitMQ broker, in the cluster (`namespace` and `podLabels`) or outside it (`cidr`).
 */
export interface RabbitMqBackingOptions {
  /** The host clients connect to: the Service's DNS name or an outside host. */
  readonly host: string;

  /**
   * The AMQP port.
   * @default 5672
   */
  readonly port?: number;

  /**
   * The namespace of the RabbitMQ pods, in the cluster.
   * @default - the app's namespace, with podLabels
   */
  readonly namespace?: string;

  /**
   * Labels of the RabbitMQ pods, for the NetworkPolicy.
   * @default - none: cidr must be set
   */
  readonly podLabels?: { [key: string]: string };

  /**
   * The addresses of a broker outside the cluster, for the NetworkPolicy.
   * @default - none: podLabels must be set
   */
  readonly cidr?: string;

  /**
   * A Secret key with the whole AMQP URL (user, password, vhost); the variable reads it as is.
   * @default - none: the URL is `amqp://<host>:<port>/`
   */
  readonly urlSecret?: BackingServiceSecretKey;

  /**
   * The variable the AMQP URL lands in.
   * @default "BROKER_URL" - Celery's `broker_url` setting reads it with `app.config_from_object` and a `CELERY_` namespace left out; pass "CELERY_BROKER_URL" for the namespaced form
   */
  readonly envName?: string;
}

/**
 * Any other endpoint, by address range and port, with variables from Secret keys.
 */
export interface EndpointBackingOptions {
  /** The endpoint's addresses (`10.20.0.0/16`, `203.0.113.7/32`). */
  readonly cidr: string;

  /** The port. */
  readonly port: number;

  /**
   * Variables from Secret keys, by name.
   * @default - none
   */
  readonly env?: { [name: string]: BackingServiceSecretKey };
}

/** One variable a backing service gives: a literal, or a Secret key. Internal. */
interface BackingVariable {
  readonly name: string;
  readonly value?: string;
  readonly secret?: BackingServiceSecretKey;
}

/** What a backing service resolves to for one app namespace. Internal. */
interface ResolvedBacking {
  readonly egress: NetworkRule;
  readonly variables: BackingVariable[];
}

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * A database, broker or other endpoint the app's workloads use, declared once: `use()` on a
 * `PythonService` (or a worker or scheduled job) gives every container of it the variables and
 * every NetworkPolicy of it the egress, from this one declaration.
 */
export class BackingService {
  /**
   * PostgreSQL on CloudNativePG: `DATABASE_URL` from the `<cluster>-app` Secret's `uri` key,
   * egress to the Cluster's pods on 5432.
   */
  public static cloudNativePg(options: CloudNativePgOptions): BackingService {
    return new BackingService(`CloudNativePG cluster "${options?.clusterName}"`, 'cloudNativePg', (v, appNamespace) => {
      v.dnsLabel('cloudNativePg.clusterName', options.clusterName);
      v.dnsLabel('cloudNativePg.namespace', options.namespace);
      const port = options.port ?? 5432;
      v.integerInRange('cloudNativePg.port', port, 1, 65535);
      const envName = envNameOf(v, 'cloudNativePg.envName', options.envName ?? 'DATABASE_URL');
      const elsewhere = options.namespace !== undefined && options.namespace !== appNamespace;
      if (elsewhere && options.uriSecret === undefined) {
        v.fail('cloudNativePg.namespace', options.namespace, `holds the "${options.clusterName}-app" Secret, and a pod in "${appNamespace}" cannot read a Secret of `
          + 'another namespace: copy it into the app\'s namespace (an ExternalSecret, a replicator) and pass uriSecret');
      }
      const secret = options.uriSecret ?? { secretName: `${options.clusterName}-app`, key: 'uri' };
      checkSecretKey(v, 'cloudNativePg.uriSecret', secret);
      if (options.uri !== undefined && typeof options.uri !== 'boolean') v.fail('cloudNativePg.uri', options.uri, 'must be true or false');
      const parts = Object.entries(options.variables ?? {}).filter(([, name]) => name !== undefined) as Array<[keyof DatabaseVariables, string]>;
      for (const [setting, name] of parts) {
        if (!(setting in CNPG_SECRET_KEYS)) v.fail(`cloudNativePg.variables.${setting}`, name, `is not a setting: use ${Object.keys(CNPG_SECRET_KEYS).join(', ')}`);
        envNameOf(v, `cloudNativePg.variables.${setting}`, name);
      }
      if (options.uri === false && parts.length === 0) v.fail('cloudNativePg.uri', false, 'leaves the app no connection settings: name some cloudNativePg.variables, or keep the URI');
      // The settings live beside the URI in the same Secret (CloudNativePG writes them all). Its
      // host is the read-write Service's short name, which resolves only in the Cluster's namespace.
      const variables: BackingVariable[] = parts.map(([setting, name]) => (setting === 'host' && elsewhere
        ? { name, value: `${options.clusterName}-rw.${options.namespace}` }
        : { name, secret: { secretName: secret.secretName, key: CNPG_SECRET_KEYS[setting] } }));
      return {
        egress: { peers: [peerOf(options.namespace, appNamespace, { 'cnpg.io/cluster': options.clusterName })], ports: [{ port, protocol: NetworkProtocol.TCP }] },
        variables: options.uri === false ? variables : [{ name: envName, secret }, ...variables],
      };
    });
  }

  /** Redis or Valkey: `REDIS_URL` (and `REDIS_URL_PASSWORD` from a Secret), egress to its pods or addresses. */
  public static redis(options: RedisBackingOptions): BackingService {
    return new BackingService(`Redis at "${options?.host}"`, 'redis', (v, appNamespace) => {
      const port = options.port ?? 6379;
      const egress = brokerEgress(v, 'redis', options, port, appNamespace);
      v.integerInRange('redis.database', options.database, 0, 1_000);
      const envName = envNameOf(v, 'redis.envName', options.envName ?? 'REDIS_URL');
      const variables: BackingVariable[] = [];
      if (options.passwordUrlSafe !== undefined && typeof options.passwordUrlSafe !== 'boolean') v.fail('redis.passwordUrlSafe', options.passwordUrlSafe, 'must be true or false');
      if (options.passwordUrlSafe === true && options.passwordSecret === undefined) {
        v.fail('redis.passwordUrlSafe', true, 'needs redis.passwordSecret: there is no password to put into the URL');
      }
      if (options.passwordUrlSafe === true && options.urlSecret !== undefined) {
        v.fail('redis.passwordUrlSafe', true, 'cannot be combined with redis.urlSecret, which gives the whole URL; leave passwordUrlSafe unset');
      }
      if (options.passwordSecret !== undefined) {
        checkSecretKey(v, 'redis.passwordSecret', options.passwordSecret);
        variables.push({ name: `${envName}_PASSWORD`, secret: options.passwordSecret });
      }
      if (options.urlSecret !== undefined) {
        checkSecretKey(v, 'redis.urlSecret', options.urlSecret);
        variables.push({ name: envName, secret: options.urlSecret });
      } else {
        // The kubelet expands $(VAR) from a variable defined before it in the same container, as it
        // is: only a password declared URL-safe may go into the URL that way.
        const auth = options.passwordUrlSafe === true ? `:$(${envName}_PASSWORD)@` : '';
        variables.push({ name: envName, value: `redis://${auth}${options.host}:${port}/${options.database ?? 0}` });
        if (options.passwordSecret !== undefined && options.passwordUrlSafe === undefined) {
          warnOnce(`redis-url-password:${options.host}:${envName}`, `BackingService ${JSON.stringify(options.host)}: ${envName} carries no password: the kubelet's $(VAR) expansion cannot `
            + `URL-encode one from a Secret. Read ${envName}_PASSWORD in the app, set redis.passwordUrlSafe: true if the password has only letters, digits and -._~, `
            + 'or give the whole URL with redis.urlSecret (passwordUrlSafe: false silences this)');
        }
      }
      return { egress, variables };
    }, { host: options?.host, port: options?.port ?? 6379, database: options?.database ?? 0, password: options?.passwordSecret });
  }

  /** RabbitMQ: `BROKER_URL` (literal, or from a Secret), egress to its pods or addresses. */
  public static rabbitMq(options: RabbitMqBackingOptions): BackingService {
    return new BackingService(`RabbitMQ at "${options?.host}"`, 'rabbitMq', (v, appNamespace) => {
      const port = options.port ?? 5672;
      const egress = brokerEgress(v, 'rabbitMq', options, port, appNamespace);
      const envName = envNameOf(v, 'rabbitMq.envName', options.envName ?? 'BROKER_URL');
      if (options.urlSecret !== undefined) checkSecretKey(v, 'rabbitMq.urlSecret', options.urlSecret);
      const variable = options.urlSecret !== undefined ? { name: envName, secret: options.urlSecret } : { name: envName, value: `amqp://${options.host}:${port}/` };
      return { egress, variables: [variable] };
    });
  }

  /** Any other endpoint by address range and port, with variables from Secret keys. */
  public static endpoint(options: EndpointBackingOptions): BackingService {
    return new BackingService(`endpoint ${options?.cidr}`, 'endpoint', (v) => {
      if (typeof options.cidr !== 'string' || !isCidr(options.cidr)) v.fail('endpoint.cidr', options.cidr, 'must be an IPv4 or IPv6 CIDR such as 10.20.0.0/16');
      if (options.port === undefined) v.fail('endpoint.port', options.port, 'must be set: the NetworkPolicy opens one port');
      v.integerInRange('endpoint.port', options.port, 1, 65535);
      const variables = Object.entries(options.env ?? {}).map(([name, secret]) => {
        envNameOf(v, 'endpoint.env name', name);
        checkSecretKey(v, `endpoint.env.${name}`, secret);
        return { name, secret };
      });
      return { egress: { peers: [{ cidr: options.cidr }], ports: [{ port: options.port, protocol: NetworkProtocol.TCP }] }, variables };
    });
  }

  /** What it is, e.g. `CloudNativePG cluster "shop-db"`. */
  public readonly description: string;

  private constructor(
    description: string, kind: string, resolver: (v: PropValidator, appNamespace: string) => ResolvedBacking, redisTarget?: RedisTarget,
  ) {
    this.description = description;
    backingInternals.set(this, { kind, resolver, redisTarget });
  }
}

// Kept off the instances: under jsii every member of a public class is public API.
const backingInternals = new WeakMap<BackingService, {
  readonly kind: string;
  readonly resolver: (v: PropValidator, appNamespace: string) => ResolvedBacking;
  readonly redisTarget?: RedisTarget;
}>();

/** A backing service's env and egress for an app namespace. Internal. */
function resolveBacking(v: PropValidator, backing: BackingService, appNamespace: string): ResolvedBacking {
  const internals = backingInternals.get(backing);
  if (internals === undefined) v.fail('use()', backing, 'takes a BackingService, e.g. BackingService.cloudNativePg({ clusterName: "shop-db" })');
  return internals.resolver(v, appNamespace);
}

/** The Redis address and password KEDA's trigger reads, for `BackingService.redis()` only. Internal. */
export function redisTargetOf(v: PropValidator, backing: BackingService, prop: string): RedisTarget {
  const internals = backingInternals.get(backing);
  if (internals?.redisTarget === undefined) {
    v.fail(prop, backing?.description ?? backing, `is ${internals ? `a ${internals.kind}` : 'not a'} backing service; KEDA's Redis trigger needs one from BackingService.redis()`);
  }
  return internals.redisTarget;
}

/** Where KEDA's Redis scaler connects. Internal. */
export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly database: number;
  readonly password?: BackingServiceSecretKey;
}

function envNameOf(v: PropValidator, prop: string, name: string): string {
  v.variableName(prop, name);
  return name;
}

function checkSecretKey(v: PropValidator, prop: string, s: BackingServiceSecretKey): void {
  if (s === null || typeof s !== 'object') v.fail(prop, s, 'must be { secretName, key }');
  v.dnsSubdomain(`${prop}.secretName`, s.secretName);
  if (typeof s.secretName !== 'string') v.fail(`${prop}.secretName`, s.secretName, 'must name a Secret in the app\'s namespace');
  if (typeof s.key !== 'string' || !SECRET_KEY.test(s.key)) v.fail(`${prop}.key`, s.key, 'must be a Secret key: letters, digits, "-", "_" and "." only (a valid env source)');
}

function peerOf(namespace: string | undefined, appNamespace: string, podLabels: { [key: string]: string }): NetworkPeer {
  // A peer without a namespace selects pods of the policy's own namespace.
  return namespace !== undefined && namespace !== appNamespace ? { namespaceName: namespace, podLabels } : { podLabels };
}

function brokerEgress(
  v: PropValidator, prop: string, o: { host: string; namespace?: string; podLabels?: { [key: string]: string }; cidr?: string },
  port: number, appNamespace: string,
): NetworkRule {
  if (typeof o.host !== 'string' || !/^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/.test(o.host)) v.fail(`${prop}.host`, o.host, 'must be a host name or address such as "redis-master.redis.svc"');
  v.integerInRange(`${prop}.port`, port, 1, 65535);
  v.dnsLabel(`${prop}.namespace`, o.namespace);
  const ports = [{ port, protocol: NetworkProtocol.TCP }];
  if (o.cidr !== undefined) {
    if (o.podLabels !== undefined || o.namespace !== undefined) v.fail(`${prop}.cidr`, o.cidr, 'is for a server outside the cluster; leave out namespace and podLabels (or cidr)');
    if (typeof o.cidr !== 'string' || !isCidr(o.cidr)) v.fail(`${prop}.cidr`, o.cidr, 'must be an IPv4 or IPv6 CIDR such as 10.20.0.0/16');
    return { peers: [{ cidr: o.cidr }], ports };
  }
  if (o.podLabels === undefined || Object.keys(o.podLabels).length === 0) {
    v.fail(`${prop}.podLabels`, o.podLabels, 'must select the server\'s pods for the NetworkPolicy (e.g. { "app.kubernetes.io/name": "redis" }), or set cidr for a server outside the cluster');
  }
  v.labelMap(`${prop}.podLabels`, o.podLabels);
  return { peers: [peerOf(o.namespace, appNamespace, o.podLabels)], ports };
}

/** One workload of an app that connections reach: its NetworkPolicy and its Python containers. Internal. */
export interface ConnectionEnd {
  readonly scope: Construct;
  readonly label: string;
  readonly policy: ServiceNetworkPolicy;
  readonly containers: kplus.Container[];
}

/**
 * Options of a connection to another service.
 */
export interface ServiceConnectionOptions {
  /**
   * A variable that gets the other service's in-cluster URL, `http://<name>.<namespace>.svc:<service port>`.
   * @default - none
   */
  readonly envName?: string;
}

/** A group of workloads (a service with its components): edits apply to members present and to come. Internal. */
export class ConnectionGroup extends Construct {
  /** The group of `owner` (a PythonService, or a component on its own). */
  public static of(owner: IConstruct): ConnectionGroup {
    return singletonChild(owner, 'ConnectionGroup', (scope, id) => new ConnectionGroup(scope, id));
  }

  private readonly ends = new Array<ConnectionEnd>();
  private readonly edits = new Array<(end: ConnectionEnd) => void>();

  /** Adds a workload; every edit made so far applies to it. */
  public add(end: ConnectionEnd): void {
    this.ends.push(end);
    for (const edit of this.edits) edit(end);
  }

  /** Applies `edit` to every workload, present and to come. */
  public apply(edit: (end: ConnectionEnd) => void): void {
    this.edits.push(edit);
    for (const end of this.ends) edit(end);
  }
}

/** Gives every workload of `group` the backing service's variables and egress. Internal. */
export function useBackingService(group: ConnectionGroup, owner: Construct, v: PropValidator, backing: BackingService): void {
  const namespace = Chart.of(owner).namespace ?? 'default';
  const resolved = resolveBacking(v, backing, namespace);
  group.apply((end) => {
    end.policy.addEgressRule(resolved.egress);
    for (const container of end.containers) {
      for (const variable of resolved.variables) {
        if (container.env.variables[variable.name] !== undefined) {
          v.fail('use()', backing.description, `sets ${variable.name}, which ${end.label} container "${container.name}" already has; set envName on the backing service`);
        }
        const value = variable.secret !== undefined
          ? kplus.EnvValue.fromSecretValue({ secret: secretNamed(end.scope, variable.secret.secretName), key: variable.secret.key })
          : kplus.EnvValue.fromValue(variable.value!);
        container.env.addVariable(variable.name, value);
      }
    }
  });
}

/** One reference per Secret name and scope, however many variables read it. */
function secretNamed(scope: Construct, name: string): kplus.ISecret {
  const id = `BackingSecret-${name}`;
  return (scope.node.tryFindChild(id) as kplus.ISecret | undefined) ?? kplus.Secret.fromSecretName(scope, id, name);
}

/** What a service-to-service connection reaches. Internal. */
export interface ConnectionTarget {
  readonly label: string;
  readonly namespace: string;
  readonly name: string;
  readonly podLabels: { [key: string]: string };
  readonly port: number;
  readonly servicePort: number;
  readonly policy: ServiceNetworkPolicy;
}

/** What a service-to-service connection starts from. Internal. */
export interface ConnectionSource {
  readonly label: string;
  readonly namespace: string;
  /** Labels every pod of the source carries (all its components). */
  readonly podLabels: { [key: string]: string };
}

/** What `connectTo(target)` reaches of a service. Internal. */
export function connectionTargetOf(v: PropValidator, target: IPythonWebService): ConnectionTarget {
  if (!(target?.networkPolicy instanceof ServiceNetworkPolicy)) v.fail('connectTo', target, 'takes a PythonService (for a database or broker, use() a BackingService)');
  return {
    label: target.name,
    name: target.name,
    namespace: target.namespace ?? 'default',
    podLabels: target.selectorLabels,
    port: target.port,
    servicePort: target.servicePort,
    policy: target.networkPolicy,
  };
}

/** `connectTo` on one component (a worker or scheduled job): only its pods. Internal. */
export function connectComponent(
  component: IConstruct, source: { label: string; name: string; namespace: string; podLabels: { [key: string]: string } },
  target: IPythonWebService, options: ServiceConnectionOptions,
): void {
  const v = new PropValidator(source.label);
  const from = { label: source.name, namespace: source.namespace, podLabels: source.podLabels };
  connectWorkloads(ConnectionGroup.of(component), v, from, connectionTargetOf(v, target), options.envName);
}

/** The in-cluster URL of a Service port. Internal. */
export function serviceUrl(target: ConnectionTarget): string {
  return `http://${target.name}.${target.namespace}.svc:${target.servicePort}`;
}

/**
 * Egress from every workload of `group` to the target's pods on its container port, ingress to
 * them from the source's pods, and optionally a variable with the target's URL. Internal.
 */
export function connectWorkloads(
  group: ConnectionGroup, v: PropValidator, source: ConnectionSource, target: ConnectionTarget, envName: string | undefined,
): void {
  if (envName !== undefined) envNameOf(v, 'connectTo envName', envName);
  const ports = [{ port: target.port, protocol: NetworkProtocol.TCP }];
  target.policy.addIngressRule({ peers: [peerOf(source.namespace, target.namespace, source.podLabels)], ports });
  const egress = { peers: [peerOf(target.namespace, source.namespace, target.podLabels)], ports };
  const url = serviceUrl(target);
  group.apply((end) => {
    end.policy.addEgressRule(egress);
    if (envName === undefined) return;
    for (const container of end.containers) {
      if (container.env.variables[envName] !== undefined) v.fail('connectTo envName', envName, `is already set in ${end.label} container "${container.name}"`);
      container.env.addVariable(envName, kplus.EnvValue.fromValue(url));
    }
  });
}

/** A secured web service as the one-sided-admission warning sees it. Internal. */
export interface AdmissionView {
  readonly label: string;
  readonly namespace: string;
  readonly labels: { [key: string]: string };
  readonly port: number;
  readonly policy: ServiceNetworkPolicy;
}

type PodView = { namespace: string; labels: { [key: string]: string } };

/**
 * Whether `peer`, in a policy of `policyNamespace`, selects `pod` by namespace name and pod labels
 * (an address range or a namespace label selector is taken as selecting none of the app's pods).
 */
function peerSelects(peer: NetworkPeer, policyNamespace: string, pod: PodView): boolean {
  if (peer.cidr !== undefined || peer.namespaceLabels !== undefined) return false;
  return (peer.namespaceName ?? policyNamespace) === pod.namespace
    && Object.entries(peer.podLabels ?? {}).every(([k, value]) => pod.labels[k] === value);
}

/** Whether `peer` names pods of `pod` with an explicit pod selector (an open peer says nothing). */
function namesPod(peer: NetworkPeer, policyNamespace: string, pod: PodView): boolean {
  return peer.podLabels !== undefined && Object.keys(peer.podLabels).length > 0 && peerSelects(peer, policyNamespace, pod);
}

function reaches(rules: NetworkRule[], policyNamespace: string, pod: PodView, port: number): boolean {
  const opensPort = (rule: NetworkRule) => rule.ports === undefined || rule.ports.length === 0
    || rule.ports.some((p) => p.port <= port && port <= (p.endPort ?? p.port));
  return rules.some((rule) => opensPort(rule)
    && (rule.peers === undefined || rule.peers.length === 0 || rule.peers.some((peer) => peerSelects(peer, policyNamespace, pod))));
}

/** The secured services of an app, each checked against the others once the app renders. */
class SecuredServices extends Construct {
  public readonly views = new Array<AdmissionView>();
}

/**
 * Registers a secured service, and warns (once, with the fix) when one service of the app names
 * another's pods in its ingress but the other's egress cannot reach it, or names another's pods in
 * its egress that the other does not admit. Runs when the NetworkPolicies render, after every
 * `connectTo`. Internal.
 */
export function watchOneSidedAdmission(scope: IConstruct, view: AdmissionView, onRender: (check: () => void) => void): void {
  const views = singletonChild(scope.node.root, 'SecuredServices', (root, id) => new SecuredServices(root, id)).views;
  views.push(view);
  onRender(() => {
    for (const other of views) {
      if (other === view) continue;
      const otherPod = { namespace: other.namespace, labels: other.labels };
      const viewPod = { namespace: view.namespace, labels: view.labels };
      const admitsView = other.policy.ingress.some((rule) => (rule.peers ?? []).some((peer) => namesPod(peer, other.namespace, viewPod)));
      if (admitsView && !view.policy.egressUnrestricted && !reaches(view.policy.egress, view.namespace, otherPod, other.port)) {
        warnOnce(`one-sided:${view.namespace}/${view.label}->${other.namespace}/${other.label}`,
          `${other.label} admits ${view.label} (its ingress names ${view.label}'s pods), but ${view.label}'s NetworkPolicy has no egress to ${other.label}'s pods on port ${other.port}, `
          + `so its calls time out: connect them with connectTo() on ${view.label} (it opens both policies)`);
      }
      const viewNamesOther = view.policy.egress.some((rule) => (rule.peers ?? []).some((peer) => namesPod(peer, view.namespace, otherPod)));
      if (viewNamesOther && !view.policy.egressUnrestricted && !reaches(other.policy.ingress, other.namespace, viewPod, other.port)) {
        warnOnce(`unadmitted:${view.namespace}/${view.label}->${other.namespace}/${other.label}`,
          `${view.label}'s egress reaches ${other.label}'s pods, but ${other.label}'s NetworkPolicy does not admit ${view.label} on port ${other.port}, `
          + `so its calls time out: connect them with connectTo() on ${view.label} (it opens both policies)`);
      }
    }
  });
}
