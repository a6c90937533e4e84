import { Chart, Size } from 'cdk8s';
import { Construct } from 'constructs';
import { BackingService } from './backing-service';
import { versionLabelOf, parseImageReference, warnMutableTag } from './image-reference';
import { NetworkRule } from './network-policy';
import { kplus } from './plus';
import { applicationContextOf, IPythonApplication, IPythonWebService } from './python-application';
import { PythonImageOptions, PythonPodTemplate, PythonProcessOptions, PythonServiceSecurityContext } from './python-pod-template';
import { applicationWorkloadContext, WorkloadContext } from './python-workload';
import { kebabCase, NameRegistry, ServiceIdentity } from './service-identity';
import { addNativeSidecar, PythonSidecarOptions } from './sidecar';
import { PropValidator } from './validation';
import { addExternalSecret, PythonServiceExternalSecret, validateExternalSecret } from '../features/config/service-config';
import { ConnectionGroup, connectComponent, ServiceConnectionOptions, useBackingService } from '../features/connections/connections';
import { PodSecurityLevel, PythonServiceSecurity, SecurityPolicy } from '../features/security/security-policy';
import { joinNamespacePolicy } from '../features/security/service-security';

/**
 * What a worker or a scheduled job may set for itself on top of its application's pod template:
 * the process options (merged over the service's), its own secrets and its own egress.
 */
export interface PythonComponentOptions extends PythonProcessOptions {
  /**
   * Environment variables from a secret manager for this component alone: its own ExternalSecret
   * `<name>-external` (the service's `externalSecret`, if any, applies too).
   * @default - the service's only
   */
  readonly externalSecret?: PythonServiceExternalSecret;

  /**
   * Egress the component needs beyond the service's `security.egressTo` (a broker, a mail server).
   * @default - the service's
   */
  readonly egressTo?: NetworkRule[];
}

/**
 * What a worker or scheduled job shares with the rest of its application when it runs alone,
 * without a `PythonService` (with one, it takes all of these from the service): the image
 * options, its image and its identity.
 */
export interface StandalonePythonOptions extends PythonImageOptions {
  /**
   * The container image (required without a service).
   * @default - the service's
   */
  readonly image?: string;

  /**
   * Base name of the objects. A DNS-1035 label.
   * @default - the construct id in kebab-case
   */
  readonly name?: string;

  /**
   * `app.kubernetes.io/version`.
   * @default - the image tag, else the first 12 digits of the digest, else "latest"
   */
  readonly version?: string;

  /**
   * `app.kubernetes.io/part-of`.
   * @default - the name
   */
  readonly partOf?: string;

  /**
   * Extra labels on every object and pod (not used in selectors).
   * @default - none
   */
  readonly labels?: { [key: string]: string };

  /**
   * Restricted egress (DNS plus `egressTo`) and an admission policy for the pods.
   * @default - egress open; no admission policy
   */
  readonly security?: PythonServiceSecurity;
}

/**
 * The props a component of a service takes from the service: each one is named here, and the
 * compiler holds the list to `StandalonePythonOptions`.
 */
const FROM_THE_SERVICE: { readonly [K in keyof Required<StandalonePythonOptions>]: true } = {
  image: true,
  name: true,
  security: true,
  securityContext: true,
  imagePullPolicy: true,
  imagePullSecrets: true,
  tmpSize: true,
  hostUsers: true,
  resizePolicy: true,
  labels: true,
  version: true,
  partOf: true,
};

/** The component ids a service uses itself, or that derive names it uses. */
const RESERVED_COMPONENTS = ['server', 'migration', 'migrate'];

/**
 * Resolves the identity, pod template and security of a component: from `service` when given,
 * else from the standalone options (creating a ServiceAccount and, with `security`, a policy).
 */
export function componentContext(
  scope: Construct, id: string, kind: string, props: Partial<StandalonePythonOptions> & PythonProcessOptions & {
    service?: IPythonApplication;
    memoryPerProcess?: Size;
    maxNameLength?: number;
    externalSecret?: PythonServiceExternalSecret;
  },
): WorkloadContext {
  const service = props.service;
  const shared = service && applicationContextOf(service, `${kind} '${id}'`);
  const label = shared ? `${shared.errorLabel} ${kind} '${id}'` : `${kind} '${id}'`;
  const v = new PropValidator(label);
  const namespace = Chart.of(scope).namespace;
  if (props.memoryPerProcess !== undefined) v.wholeSize('memoryPerProcess', props.memoryPerProcess, 'Mi');
  if (service && shared) {
    if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(id) || RESERVED_COMPONENTS.includes(id)) {
      v.fail('id', id, `must be a DNS-1035 label other than ${RESERVED_COMPONENTS.join(', ')} (it becomes the component label and part of the object names)`);
    }
    for (const prop of Object.keys(FROM_THE_SERVICE) as Array<keyof StandalonePythonOptions>) {
      if (props[prop] !== undefined) v.fail(prop, props[prop], 'comes from the service; set it there (a component of a service shares its image and identity)');
    }
    // Reported against the component, whose id is the part the user just chose.
    const limit = props.maxNameLength ?? 63;
    const derived = `${service.identity.name}-${id}`;
    if (derived.length > limit) {
      v.fail('id', id, `is too long: the object name "${derived}" (<service name>-<id>) has ${derived.length} characters; the limit is ${limit}`
        + `${limit < 63 ? ' (a CronJob\'s Jobs add 11 characters)' : ''}; shorten the id to at most ${limit - service.identity.name.length - 1} characters, or the service's name`);
    }
    const name = service.identity.objectName(id, props.maxNameLength);
    claim(scope, v, namespace, name);
    const secretEnv = componentSecrets(scope, v, name, service.identity.labelsOf(id), props);
    return applicationWorkloadContext(service, shared, {
      label,
      validator: v,
      component: id,
      name,
      objectName: (suffix) => service.identity.objectName(`${id}-${suffix}`),
      // The component's process options, whatever they are, over the service's.
      template: service.podTemplate.derive(Object.assign({}, props, {
        // Each component reports traces under its own name.
        env: shared.tracing ? { OTEL_SERVICE_NAME: name, ...props.env } : props.env,
        envValues: Object.assign({}, props.envValues, secretEnv),
        errorLabel: label,
      })),
      memoryPerProcess: props.memoryPerProcess,
    });
  }

  if (typeof props.image !== 'string' || props.image.trim() === '') {
    v.fail('image', props.image, 'must be a non-empty container image reference (or add the component to a PythonService)');
  }
  const image = parseImageReference(props.image!);
  if (!image) v.fail('image', props.image, 'is not a valid image reference ([registry/]repository[:tag][@digest], repository in lower case)');
  warnMutableTag(label, props.image!, image!);
  const name = props.name ?? kebabCase(id);
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) v.fail('name', name, 'must be a DNS-1035 label: lower-case letters, digits and "-", starting with a letter');
  if (name.length > (props.maxNameLength ?? 63)) v.fail('name', name, `is ${name.length} characters long; the limit is ${props.maxNameLength ?? 63}`);
  v.labelMap('labels', props.labels);
  if (props.security && namespace === undefined) v.fail('security', props.security.allowedImages, 'needs the app namespace, which the admission policy binds to: create the chart with { namespace: ... }');
  claim(scope, v, namespace, name);
  const version = props.version ?? versionLabelOf(image!);
  const identity = new ServiceIdentity({ name, namespace, version, partOf: props.partOf, labels: props.labels, errorLabel: label });
  const component = kind === 'PythonCronJob' ? 'cronjob' : 'worker';
  const serviceAccount = new kplus.ServiceAccount(scope, 'ServiceAccount', { metadata: identity.metadataOf(name, component), automountToken: false });
  const secretEnv = componentSecrets(scope, v, name, identity.labelsOf(component), props);
  const envValues = Object.assign({}, props.envValues, secretEnv);
  const template = new PythonPodTemplate(Object.assign({}, props, { envValues, image: props.image!, serviceAccount, errorLabel: label }));
  let securityPolicy: SecurityPolicy | undefined;
  let namespacePolicy: SecurityPolicy | undefined;
  if (props.security) {
    // The namespace's policy first (a new one leads the component's objects in the file), then its own.
    namespacePolicy = joinNamespacePolicy(scope, { security: props.security, namespace: namespace!, platformScope: scope, errorLabel: label }).policy;
    securityPolicy = new SecurityPolicy(scope, 'SecurityPolicy', {
      name,
      namespace: namespace!,
      matchLabels: identity.instanceLabels,
      allowedImages: props.security.allowedImages,
      allowedVolumes: [...new Set(props.security.allowedVolumes ?? [])].sort(),
      admissionEngine: props.security.admissionEngine,
      admissionApiVersion: props.security.admissionApiVersion,
      enforcement: props.security.enforcement,
      podSecurityLevel: props.security.podSecurityLevel ?? PodSecurityLevel.RESTRICTED,
      labels: identity.labelsOf(component),
    });
  }
  return {
    label,
    validator: v,
    identity,
    component,
    name,
    objectName: (suffix) => identity.objectName(suffix),
    template,
    memoryPerProcess: props.memoryPerProcess ?? Size.mebibytes(128),
    security: props.security,
    securityPolicy,
    namespacePolicy,
  };
}

/** The component's own ExternalSecret `<name>-external`, and the variables that read it. */
function componentSecrets(
  scope: Construct, v: PropValidator, name: string, labels: { [key: string]: string },
  props: { externalSecret?: PythonServiceExternalSecret; env?: { [name: string]: string }; envValues?: { [name: string]: kplus.EnvValue } },
): { [name: string]: kplus.EnvValue } {
  if (!props.externalSecret) return {};
  validateExternalSecret(v, props.externalSecret, [...Object.keys(props.env ?? {}), ...Object.keys(props.envValues ?? {})]);
  return addExternalSecret(scope, name, labels, props.externalSecret).envValues;
}

function claim(scope: Construct, v: PropValidator, namespace: string | undefined, name: string): void {
  const names = NameRegistry.of(scope, 'service');
  const owner = names.ownerOf(`${namespace ?? ''}/${name}`);
  if (owner !== undefined) v.fail('name', name, `is already used by the object at "${owner}" in namespace "${namespace ?? '(default)'}"; objects would overwrite each other`);
  names.claim(`${namespace ?? ''}/${name}`, scope.node.path);
}

/** What a component's connections and sidecars act on, once its kind has built it. */
interface BoundComponent {
  readonly label: string;
  readonly name: string;
  readonly namespace: string;
  readonly podLabels: { [key: string]: string };
  readonly podIdentity: PythonServiceSecurityContext;
  readonly workload: kplus.AbstractPod;
}

/**
 * A worker or scheduled job of a Python application, or one on its own: what every component
 * kind offers beyond its workload (connections to other services, backing services, sidecars).
 */
export abstract class PythonComponent extends Construct {
  private end?: BoundComponent;

  /**
   * Lets this component's pods call `target`: egress to its pods on its container port here,
   * ingress from these pods in the target's NetworkPolicy (on a service, `PythonService.connectTo`
   * covers every component at once).
   * @param target the service called
   * @param options a variable with the target's URL
   */
  public connectTo(target: IPythonWebService, options: ServiceConnectionOptions = {}): void {
    const end = this.built();
    connectComponent(this, { label: end.label, name: end.name, namespace: end.namespace, podLabels: end.podLabels }, target, options);
  }

  /**
   * Uses a database, broker or other endpoint in this component only: its variables in the
   * container, its egress in the NetworkPolicy (on a service, `PythonService.use` covers every component).
   * @param backing the backing service
   */
  public use(backing: BackingService): void {
    useBackingService(ConnectionGroup.of(this), this, new PropValidator(this.built().label), backing);
  }

  /**
   * Adds a native sidecar to the component's pods (an init container with `restartPolicy: Always`),
   * restricted like the component, with small resources of its own; see `PythonService.addSidecar`.
   * @param id the container name (a DNS label)
   * @param options image, command, port, resources
   */
  public addSidecar(id: string, options: PythonSidecarOptions): kplus.Container {
    const end = this.built();
    return addNativeSidecar(new PropValidator(end.label), end.workload, id, options, end.podIdentity);
  }

  /**
   * Records what connections and sidecars act on; the kind calls it once its workload is built.
   * @internal
   */
  protected _bindComponent(ctx: WorkloadContext, workload: kplus.AbstractPod): void {
    this.end = {
      label: ctx.label,
      name: ctx.name,
      namespace: Chart.of(this).namespace ?? 'default',
      podLabels: ctx.identity.selectorLabels(ctx.component),
      podIdentity: ctx.template.identity,
      workload,
    };
  }

  private built(): BoundComponent {
    if (this.end === undefined) throw new Error(`${this.node.path}: a PythonComponent kind must call _bindComponent once its workload is built`);
    return this.end;
  }
}
