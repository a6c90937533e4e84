import { isCidr, NetworkProtocol, NetworkRule, peerIn } from './network-policy';
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
        egress: { peers: [peerIn(options.namespace, appNamespace, { 'cnpg.io/cluster': options.clusterName })], ports: [{ port, protocol: NetworkProtocol.TCP }] },
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
export function resolveBacking(v: PropValidator, backing: BackingService, appNamespace: string): ResolvedBacking {
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
  return { peers: [peerIn(o.namespace, appNamespace, o.podLabels)], ports };
}
