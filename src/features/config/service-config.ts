import { createHash } from 'crypto';
import { ApiObject, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { customResource } from '../../core/custom-resource';
import { NetworkPeer, NetworkRule, validateNetworkRule } from '../../core/network-policy';
import { kplus } from '../../core/plus';
import { goDuration } from '../../core/schedules';
import { PropValidator } from '../../core/validation';
import type * as eso from '../../imports/external-secrets.io';

/**
 * Which kind of store an ExternalSecret reads from.
 */
export enum ExternalSecretStoreKind {
  /** A `SecretStore` in the app namespace. */
  SECRET_STORE = 'SecretStore',
  /** A cluster-wide `ClusterSecretStore`. */
  CLUSTER_SECRET_STORE = 'ClusterSecretStore',
}

/**
 * Where one value lives in the secret manager (External Secrets Operator's `remoteRef`).
 */
export interface ExternalSecretRef {
  /** The secret's key (path or name) in the secret manager. */
  readonly key: string;

  /**
   * A property inside a structured (JSON) secret.
   * @default - the whole value
   */
  readonly property?: string;

  /**
   * A version of the secret.
   * @default - the latest
   */
  readonly version?: string;
}

/**
 * Environment variables from a secret manager, through the External Secrets Operator.
 */
export interface PythonServiceExternalSecret {
  /** The SecretStore or ClusterSecretStore to read from. */
  readonly storeName: string;

  /**
   * The store's kind.
   * @default ExternalSecretStoreKind.SECRET_STORE
   */
  readonly storeKind?: ExternalSecretStoreKind;

  /** Variable name → where its value lives, e.g. `{ DATABASE_URL: { key: 'shop/prod/db', property: 'url' } }`. */
  readonly env: { [name: string]: ExternalSecretRef };

  /**
   * How often ESO re-reads the values into the Secret. Running pods keep the values they started
   * with: roll them (Reloader, or `kubectl rollout restart`) to pick up a rotated value.
   * @default Duration.hours(1)
   */
  readonly refreshInterval?: Duration;
}

/**
 * Configuration files mounted into every pod of the service.
 */
export interface PythonServiceConfigFiles {
  /** File name → content, e.g. `{ 'settings.toml': '...' }`. Names are ConfigMap keys. */
  readonly files: { [fileName: string]: string };

  /**
   * Where the files appear (read-only).
   * @default "/etc/<name>"
   */
  readonly mountPath?: string;
}

/**
 * The OTLP transport.
 */
export enum OtlpProtocol {
  /** OTLP over gRPC (port 4317 by convention). */
  GRPC = 'grpc',
  /** OTLP over HTTP with protobuf bodies (port 4318 by convention). */
  HTTP_PROTOBUF = 'http/protobuf',
}

/**
 * OpenTelemetry tracing for the Python SDK.
 */
export interface PythonServiceTracing {
  /** The collector's OTLP endpoint, e.g. `http://otel-collector.observability:4317`. */
  readonly otlpEndpoint: string;

  /**
   * The OTLP transport (set explicitly: SDKs disagree on the default).
   * @default OtlpProtocol.GRPC
   */
  readonly protocol?: OtlpProtocol;

  /**
   * Who the collector is, for the egress NetworkPolicy (a NetworkPolicy cannot name a DNS host);
   * its port comes from the endpoint. Required when `security` restricts egress.
   * @default - no egress rule (egress is open without `security`)
   */
  readonly collector?: NetworkPeer;

  /**
   * Start the OpenTelemetry auto-instrumentation: `opentelemetry-instrument` before the command,
   * or for gunicorn in each worker after the fork (the SDK's batch span processor is not fork-safe),
   * from the library's gunicorn configuration. Needs `opentelemetry-distro` and the
   * instrumentation packages in the image.
   * @default false
   */
  readonly autoInstrument?: boolean;
}

/** Tracing after validation. Internal. */
export interface ResolvedTracing {
  readonly env: { [name: string]: string };
  readonly envValues: { [name: string]: kplus.EnvValue };
  readonly egress?: NetworkRule;
  readonly autoInstrument: boolean;
}

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
/** A ConfigMap must stay under 1 MiB as a whole; leave room for its metadata. */
const CONFIG_DATA_LIMIT = 1024 * 1024 - 16 * 1024;

/** Checks the external secret options. Internal. */
export function validateExternalSecret(v: PropValidator, s: PythonServiceExternalSecret, taken: string[]): void {
  v.dnsSubdomain('externalSecret.storeName', s.storeName);
  if (typeof s.storeName !== 'string') v.fail('externalSecret.storeName', s.storeName, 'must name a SecretStore or ClusterSecretStore');
  if (s.storeKind !== undefined && !Object.values(ExternalSecretStoreKind).includes(s.storeKind)) {
    v.fail('externalSecret.storeKind', s.storeKind, `must be one of ${Object.values(ExternalSecretStoreKind).join(', ')}`);
  }
  const names = Object.keys(s.env ?? {});
  if (names.length === 0) v.fail('externalSecret.env', s.env, 'must map at least one variable name to a secret reference');
  for (const name of names) {
    v.variableName('externalSecret.env name', name);
    if (taken.includes(name)) v.fail('externalSecret.env name', name, 'is also set in env or envValues; set each variable once');
    const ref = s.env[name];
    if (typeof ref?.key !== 'string' || ref.key.trim() === '') v.fail(`externalSecret.env.${name}.key`, ref?.key, 'must be the secret\'s key in the secret manager');
    if (ref.property !== undefined) v.nonEmptyString(`externalSecret.env.${name}.property`, ref.property);
    if (ref.version !== undefined) v.nonEmptyString(`externalSecret.env.${name}.version`, ref.version);
  }
  v.positiveDuration('externalSecret.refreshInterval', s.refreshInterval);
}

/**
 * The ExternalSecret `<name>-external` and the environment that reads its target Secret (of the
 * same name) by key. Internal.
 */
export function addExternalSecret(
  scope: Construct, name: string, labels: { [key: string]: string }, s: PythonServiceExternalSecret, annotations?: { [key: string]: string },
): { externalSecret: ApiObject; envValues: { [name: string]: kplus.EnvValue } } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const api: typeof eso = require('../../imports/external-secrets.io');
  const secretName = `${name}-external`;
  const names = Object.keys(s.env).sort();
  const externalSecret = customResource<eso.ExternalSecretProps>(scope, 'ExternalSecret', api.ExternalSecret.GVK, api.toJson_ExternalSecretProps, {
    metadata: { name: secretName, labels: { ...labels }, annotations },
    spec: {
      secretStoreRef: {
        name: s.storeName,
        kind: (s.storeKind ?? ExternalSecretStoreKind.SECRET_STORE) as unknown as eso.ExternalSecretSpecSecretStoreRefKind,
      },
      refreshInterval: goDuration(s.refreshInterval ?? Duration.hours(1)),
      // With an Argo CD PreSync hook the ExternalSecret is re-created on every sync; Orphan keeps
      // the Secret (and the pods reading it) in place meanwhile.
      target: {
        name: secretName,
        creationPolicy: (annotations ? 'Orphan' : 'Owner') as eso.ExternalSecretSpecTargetCreationPolicy,
      },
      data: names.map((env) => ({ secretKey: env, remoteRef: { key: s.env[env].key, property: s.env[env].property, version: s.env[env].version } })),
    },
  });
  const secret = kplus.Secret.fromSecretName(scope, 'ExternalSecretTarget', secretName);
  const envValues: { [name: string]: kplus.EnvValue } = {};
  for (const env of names) envValues[env] = kplus.EnvValue.fromSecretValue({ secret, key: env });
  return { externalSecret, envValues };
}

/** Checks the config files. Internal. */
export function validateConfigFiles(v: PropValidator, c: PythonServiceConfigFiles): void {
  const files = Object.entries(c.files ?? {});
  if (files.length === 0) v.fail('config.files', c.files, 'must hold at least one file');
  let size = 0;
  for (const [file, content] of files) {
    if (!CONFIG_KEY.test(file) || file.length > 253 || file === '.' || file === '..') {
      v.fail('config.files key', file, 'must be a ConfigMap key: at most 253 letters, digits, "-", "_" or "." (no "/")');
    }
    if (typeof content !== 'string') v.fail(`config.files["${file}"]`, content, 'must be a string');
    size += Buffer.byteLength(file) + Buffer.byteLength(content);
  }
  if (size > CONFIG_DATA_LIMIT) v.fail('config.files', `${size} bytes`, `exceed what a ConfigMap holds (1 MiB in all; at most ${CONFIG_DATA_LIMIT} bytes of files here)`);
  v.httpPath('config.mountPath', c.mountPath);
}

/**
 * An immutable ConfigMap named after its content (`<name>-config-<hash>`): a change of content is
 * a new name in the pod template, so the pods roll, each pod keeps the files it started with,
 * and `kubectl rollout undo` brings the old files back with the old template. Old ConfigMaps stay
 * until pruned. Internal.
 */
export function addConfigFiles(
  scope: Construct, name: string, labels: { [key: string]: string }, c: PythonServiceConfigFiles, annotations?: { [key: string]: string },
): kplus.ConfigMap {
  const data: { [key: string]: string } = {};
  for (const file of Object.keys(c.files).sort()) data[file] = c.files[file];
  return contentNamedConfigMap(scope, 'Config', `${name}-config`, labels, data, annotations);
}

/** An immutable ConfigMap `<baseName>-<hash of its data>` (see `addConfigFiles` for why). Internal. */
export function contentNamedConfigMap(
  scope: Construct, id: string, baseName: string, labels: { [key: string]: string },
  data: { [key: string]: string }, annotations?: { [key: string]: string },
): kplus.ConfigMap {
  const hash = createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 8);
  return new kplus.ConfigMap(scope, id, { metadata: { name: `${baseName}-${hash}`, labels: { ...labels }, annotations }, data, immutable: true });
}

/** Checks tracing and derives its environment and egress. Internal. */
export function resolveTracing(
  v: PropValidator, t: PythonServiceTracing, context: { name: string; partOf: string; version: string; egressRestricted: boolean },
): ResolvedTracing {
  let url: URL | undefined;
  try {
    url = new URL(t.otlpEndpoint);
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.hostname === '') {
    v.fail('tracing.otlpEndpoint', t.otlpEndpoint, 'must be an http:// or https:// URL such as "http://otel-collector.observability:4317"');
  }
  const protocol = t.protocol ?? OtlpProtocol.GRPC;
  if (!Object.values(OtlpProtocol).includes(protocol)) v.fail('tracing.protocol', protocol, `must be one of ${Object.values(OtlpProtocol).join(', ')}`);
  const port = url!.port ? Number(url!.port) : url!.protocol === 'https:' ? 443 : 80;
  if (t.collector !== undefined) validateNetworkRule(v, 'tracing.collector', { peers: [t.collector] });
  if (context.egressRestricted && t.collector === undefined) {
    v.fail('tracing.collector', t.collector, `is needed: security restricts egress, and a NetworkPolicy cannot name the host "${url!.hostname}"; name the collector's pods or namespace (or a CIDR)`);
  }
  return {
    env: {
      OTEL_SERVICE_NAME: context.name,
      OTEL_EXPORTER_OTLP_ENDPOINT: t.otlpEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      // $(NAME) resolves because variables are ordered after what they refer to.
      OTEL_RESOURCE_ATTRIBUTES: `service.namespace=${context.partOf},service.version=${context.version},k8s.namespace.name=$(K8S_NAMESPACE_NAME),k8s.pod.name=$(K8S_POD_NAME)`,
    },
    envValues: {
      K8S_POD_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
      K8S_NAMESPACE_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE),
    },
    egress: t.collector ? { peers: [t.collector], ports: [{ port }] } : undefined,
    autoInstrument: t.autoInstrument ?? false,
  };
}
