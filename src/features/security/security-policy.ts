import { ApiObject, Chart, JsonPatch, Lazy } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { ADMISSION_VARIABLES, AdmissionRule, admissionRules, imageAllowed, imageAllowlist, PodSecurityLevel } from './admission';
import { DnsEgress } from './dns-egress';
import { baselineViolations, restrictedViolations } from './pod-security-standards';
import { checkRendered, renderUnchecked } from '../../core/after-render';
import { customResource } from '../../core/custom-resource';
import { parseImageReference } from '../../core/image-reference';
import { KUBERNETES_FEATURES, KubernetesVersion, requireKubernetes } from '../../core/kubernetes-version';
import { podTemplateOfManifest } from '../../core/manifest';
import { NetworkPeer, NetworkRule } from '../../core/network-policy';
import { kplus } from '../../core/plus';
import { closeNamespaceGaps } from '../../core/plus-gaps';
import { NameRegistry } from '../../core/service-identity';
import { singletonChild } from '../../core/singleton';
import { PropValidator } from '../../core/validation';
import type * as kyverno from '../../imports/policies.kyverno.io';

export { PodSecurityLevel } from './admission';

/**
 * Which admission engine enforces the CEL rules.
 */
export enum AdmissionEngine {
  /** Kubernetes' built-in ValidatingAdmissionPolicy + Binding (GA in 1.30; v1beta1 on 1.28/1.29). */
  VALIDATING_ADMISSION_POLICY = 'ValidatingAdmissionPolicy',
  /** Kyverno's CEL `NamespacedValidatingPolicy` (`policies.kyverno.io/v1`, Kyverno 1.17+). */
  KYVERNO = 'Kyverno',
}

/**
 * What happens to a workload that breaks a rule.
 */
export enum PolicyEnforcement {
  /** Reject the request. */
  DENY = 'Deny',
  /** Admit it, but record an audit event and warn the client. */
  AUDIT = 'Audit',
}

/**
 * API version of the ValidatingAdmissionPolicy objects.
 */
export enum AdmissionPolicyApiVersion {
  /** `admissionregistration.k8s.io/v1`, Kubernetes 1.30+. */
  V1 = 'v1',
  /** `admissionregistration.k8s.io/v1beta1`, Kubernetes 1.28-1.29 with the API enabled. */
  V1BETA1 = 'v1beta1',
}

/**
 * How an admission policy enforces its rules: the engine, the API version, deny or audit, and the
 * Pod Security level.
 */
export interface AdmissionPolicyOptions {
  /**
   * The admission engine.
   * @default AdmissionEngine.VALIDATING_ADMISSION_POLICY
   */
  readonly admissionEngine?: AdmissionEngine;

  /**
   * The ValidatingAdmissionPolicy API version.
   * @default - AdmissionPolicyApiVersion.V1; V1BETA1 when the app's oldest Kubernetes version is before 1.30 (see `KubernetesVersion.setOldest`)
   */
  readonly admissionApiVersion?: AdmissionPolicyApiVersion;

  /**
   * Deny, or only audit and warn.
   * @default PolicyEnforcement.DENY
   */
  readonly enforcement?: PolicyEnforcement;

  /**
   * The Pod Security level the admission rules and the synth-time self-check hold the pods
   * to. Lowering it is the documented opt-out for workloads that cannot run restricted.
   * @default PodSecurityLevel.RESTRICTED
   */
  readonly podSecurityLevel?: PodSecurityLevel;
}

/**
 * Security policy for a `PythonService`: allowed images, allowed volumes and network
 * policies, as NetworkPolicies and CEL admission rules.
 */
export interface PythonServiceSecurity extends AdmissionPolicyOptions {
  /**
   * The images containers may run. Each entry is one of: an exact reference (`python-app:latest`,
   * `repo@sha256:...`, `repo:tag@sha256:...`); a repository without tag (`ghcr.io/acme/api`: any
   * tag or digest of exactly that repository, never `ghcr.io/acme/api-evil`); or a prefix ending
   * in `/` (`ghcr.io/acme/`: everything below). Prefixes ending in `:` or `@` keep working as
   * prefixes. Matching is textual: `python-app:latest` does not match
   * `docker.io/library/python-app:latest`, and in `host:5000/app` the `:5000` is a registry port.
   */
  readonly allowedImages: string[];

  /**
   * Volume names pods may have besides the ones the library adds (`tmp`, `worker-tmp`,
   * `prometheus-multiproc`, `gunicorn-config`, `config`, `data`: always allowed). At "restricted"
   * the volume types are limited too: emptyDir, configMap, secret, projected, downwardAPI,
   * persistentVolumeClaim, ephemeral, csi.
   * @default - only the volumes the library adds
   */
  readonly allowedVolumes?: string[];

  /**
   * Who may reach the service port.
   * @default - pods in the same namespace; everyone when exposed through a LoadBalancer, NodePort or Ingress (the traffic comes through the controller or from outside the cluster)
   */
  readonly ingressFrom?: NetworkPeer[];

  /**
   * What the pods may reach besides DNS (databases, APIs).
   * @default - DNS only
   */
  readonly egressTo?: NetworkRule[];

  /**
   * Also emit the app Namespace, labelled for Pod Security Admission (enforce, audit and warn
   * at `podSecurityLevel`). Only when this chart owns the namespace.
   * @default false
   */
  readonly podSecurityAdmission?: boolean;

  /**
   * The namespace's own policy, which holds every pod of the namespace (labelled or not) to the
   * allowed images of all its services and to its Pod Security level. In the same app, the
   * service adds its `allowedImages` to it; a policy from another app (a platform team's package,
   * synthesized in their pipeline) is not changed: this service's workloads must pass it as it
   * is, or synthesis fails. `podSecurityLevel` must not be below its level.
   * @default - the policy declared for the namespace in this app (`new SecurityPolicy(...)` without `matchLabels`), else one created with this service's engine, enforcement and level, named `<namespace>-namespace-policy`, that the namespace's other services share
   */
  readonly namespacePolicy?: SecurityPolicy;

  /**
   * Where pods may send DNS queries (egress is restricted once `security` is set).
   * @default DnsEgress.kubeDns() - CoreDNS/kube-dns pods and NodeLocal DNSCache
   */
  readonly dns?: DnsEgress;
}

/**
 * Props for `SecurityPolicy`.
 */
export interface SecurityPolicyProps extends AdmissionPolicyOptions {
  /** Base name of the policy objects. */
  readonly name: string;

  /** The app namespace the policy applies to. */
  readonly namespace: string;

  /**
   * Labels of the pods and pod-creating objects the policy applies to. Without labels the policy
   * covers every one of them in the namespace, labelled or not (a label selector alone lets a pod
   * that simply omits the labels through), and it is the namespace's policy in this app: the
   * secured services of the namespace add their images to it and are held to its level.
   * @default - the whole namespace
   */
  readonly matchLabels?: { [key: string]: string };

  /**
   * The images containers may run, in the forms `PythonServiceSecurity.allowedImages` takes
   * (exact references, repositories, prefixes ending in `/`). `allowImages()` adds more.
   */
  readonly allowedImages: string[];

  /**
   * Volume names pods may have.
   * @default - any name (at "restricted", still only the volume types it allows)
   */
  readonly allowedVolumes?: string[];

  /**
   * Labels on the policy objects.
   * @default - none
   */
  readonly labels?: { [key: string]: string };
}

const IMAGE_PREFIX = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*[/:@]$/;

/** Validates the allowed-image prefixes; `prefix` is how the caller names them. */
export function validateAllowedImages(v: PropValidator, prop: string, prefixes: string[]): void {
  if (!Array.isArray(prefixes) || prefixes.length === 0) {
    v.fail(prop, prefixes, 'must list at least one image prefix, e.g. ["registry.example.com/team/"]; an empty list would reject every image');
  }
  prefixes.forEach((p, i) => {
    if (typeof p !== 'string' || /\s/.test(p)) v.fail(`${prop}[${i}]`, p, 'must not contain whitespace');
    if (p.includes('://')) v.fail(`${prop}[${i}]`, p, 'must not have a scheme: image references have none (write "registry.example.com/team/")');
    if (!IMAGE_PREFIX.test(p) && parseImageReference(p) === undefined) {
      v.fail(`${prop}[${i}]`, p, 'must be an exact image reference ("repo:tag", "repo@sha256:..."), a repository ("registry.example.com/team/api": any tag of exactly it), or a prefix ending in "/" ("registry.example.com/team/")');
    }
  });
}

/** Validates volume names. */
export function validateVolumeNames(v: PropValidator, prop: string, names: string[] | undefined): void {
  if (names === undefined) return;
  if (!Array.isArray(names)) v.fail(prop, names, 'must be a list of volume names');
  names.forEach((n, i) => v.dnsLabel(`${prop}[${i}]`, n));
}

// Every pod-creating controller is checked where the user wrote it (errors name that object),
// and the pod itself at the end; ephemeral containers come through their own subresource.
const RESOURCE_RULES = [
  { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'] },
  { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['jobs', 'cronjobs'] },
  { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] },
  { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'] },
];

/** The CEL validations of a rule set, shared by every policy built from the same set. */
const validationSets = new WeakMap<AdmissionRule[], Array<{ expression: string; message: string; messageExpression?: string; reason: string }>>();

function validationsOf(rules: AdmissionRule[]) {
  let validations = validationSets.get(rules);
  if (!validations) {
    validations = rules.map((r) => ({
      expression: r.expression,
      message: `${r.name}: ${r.message}`,
      ...(r.messageExpression ? { messageExpression: r.messageExpression } : {}),
      reason: 'Forbidden',
    }));
    validationSets.set(rules, validations);
  }
  return validations;
}

function kyvernoApi(): typeof kyverno {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../imports/policies.kyverno.io');
}

/**
 * CEL admission rules for one service's workloads (allowed images, allowed volumes, no hostPath,
 * and the Pod Security level's container rules), emitted for the chosen engine, plus a
 * synth-time self-check: the workloads added with `addWorkload()` must pass the same rules and
 * the Pod Security level, or synthesis fails listing every violation.
 */
export class SecurityPolicy extends Construct {
  /**
   * The whole-namespace policy declared for `namespace` in the app that `scope` belongs to, if any.
   * @param scope any construct of the app
   * @param namespace the namespace
   */
  public static forNamespace(scope: IConstruct, namespace: string): SecurityPolicy | undefined {
    return (scope.node.root.node.tryFindChild(NAMESPACE_POLICIES) as NamespacePolicies | undefined)?.byNamespace.get(namespace);
  }

  /** The policy: a ValidatingAdmissionPolicy or a Kyverno NamespacedValidatingPolicy. */
  public readonly policy: ApiObject;
  /** The ValidatingAdmissionPolicyBinding (ValidatingAdmissionPolicy engine only). */
  public readonly binding?: ApiObject;
  /** The engine in use. */
  public readonly engine: AdmissionEngine;
  /** The Pod Security level enforced. */
  public readonly podSecurityLevel: PodSecurityLevel;
  /** The namespace the policy applies to. */
  public readonly namespace: string;
  /** Whether the policy covers every pod of the namespace (no label selector). */
  public readonly coversWholeNamespace: boolean;

  private readonly images: string[];
  private allowedVolumes?: string[];
  private cachedRules?: AdmissionRule[];
  private readonly workloads = new Array<ApiObject>();

  constructor(scope: Construct, id: string, props: SecurityPolicyProps) {
    super(scope, id);
    const v = new PropValidator(`SecurityPolicy '${id}'`);
    validateAllowedImages(v, 'allowedImages', props.allowedImages);
    validateVolumeNames(v, 'allowedVolumes', props.allowedVolumes);
    v.dnsLabel('namespace', props.namespace);
    v.labelMap('matchLabels', props.matchLabels);
    const matchLabels = props.matchLabels ?? {};
    if (typeof matchLabels !== 'object' || matchLabels === null) v.fail('matchLabels', props.matchLabels, 'must be a label map (omit it, or {}, for the whole namespace)');
    this.namespace = props.namespace;
    this.coversWholeNamespace = Object.keys(matchLabels).length === 0;
    const names = NameRegistry.of(this, 'security-policy');
    const owner = names.ownerOf(`${props.namespace}/${props.name}`);
    if (owner !== undefined) v.fail('name', props.name, `is already used by the SecurityPolicy at "${owner}" in namespace "${props.namespace}"; their objects would overwrite each other`);
    names.claim(`${props.namespace}/${props.name}`, this.node.path);
    this.engine = props.admissionEngine ?? AdmissionEngine.VALIDATING_ADMISSION_POLICY;
    if (!Object.values(AdmissionEngine).includes(this.engine)) v.fail('admissionEngine', this.engine, `must be one of ${Object.values(AdmissionEngine).join(', ')}`);
    const enforcement = props.enforcement ?? PolicyEnforcement.DENY;
    if (!Object.values(PolicyEnforcement).includes(enforcement)) v.fail('enforcement', enforcement, `must be one of ${Object.values(PolicyEnforcement).join(', ')}`);
    this.podSecurityLevel = props.podSecurityLevel ?? PodSecurityLevel.RESTRICTED;
    if (!Object.values(PodSecurityLevel).includes(this.podSecurityLevel)) v.fail('podSecurityLevel', this.podSecurityLevel, `must be one of ${Object.values(PodSecurityLevel).join(', ')}`);

    this.images = [...props.allowedImages];
    this.allowedVolumes = props.allowedVolumes;
    // Images and volumes allowed later change the rules: the validations are the ones at render.
    const kyvernoShape = this.engine === AdmissionEngine.KYVERNO;
    const validations = Lazy.any({
      produce: () => (kyvernoShape ? validationsOf(this.rules).map(({ reason: _reason, ...rest }) => rest) : validationsOf(this.rules)),
    });
    const actions = enforcement === PolicyEnforcement.DENY ? ['Deny'] : ['Audit', 'Warn'];
    const matchConstraints = {
      resourceRules: RESOURCE_RULES.map((r) => ({ ...r })),
      objectSelector: this.coversWholeNamespace ? undefined : { matchLabels: { ...matchLabels } },
    };
    const labels = props.labels ? { ...props.labels } : undefined;

    if (this.engine === AdmissionEngine.KYVERNO) {
      const api = kyvernoApi();
      this.policy = customResource<kyverno.NamespacedValidatingPolicyProps>(this, 'Policy', api.NamespacedValidatingPolicy.GVK, api.toJson_NamespacedValidatingPolicyProps, {
        metadata: { name: `${props.name}-policy`, namespace: props.namespace, labels },
        spec: {
          validationActions: actions.map((a) => a as kyverno.NamespacedValidatingPolicySpecValidationActions),
          failurePolicy: api.NamespacedValidatingPolicySpecFailurePolicy.FAIL,
          matchConstraints,
          variables: ADMISSION_VARIABLES.map((x) => ({ ...x })),
          validations,
        },
      });
      v.dnsSubdomain('name', this.policy.name);
    } else {
      const v1 = KUBERNETES_FEATURES.validatingAdmissionPolicyV1;
      const defaultVersion = KubernetesVersion.oldestOf(this).isAtLeast(v1.since) ? AdmissionPolicyApiVersion.V1 : AdmissionPolicyApiVersion.V1BETA1;
      const version = props.admissionApiVersion ?? defaultVersion;
      if (!Object.values(AdmissionPolicyApiVersion).includes(version)) v.fail('admissionApiVersion', version, `must be one of ${Object.values(AdmissionPolicyApiVersion).join(', ')}`);
      if (version === AdmissionPolicyApiVersion.V1) requireKubernetes(this, v, 'admissionApiVersion', version, v1);
      const apiVersion = `admissionregistration.k8s.io/${version}`;
      // Cluster-scoped, so the name carries the namespace: every app's policy shares one space.
      const name = `${props.namespace}-${props.name}-policy`;
      v.dnsSubdomain('name', name);
      const policySpec: kplus.k8s.ValidatingAdmissionPolicySpecV1Beta1 = {
        failurePolicy: 'Fail',
        matchConstraints,
        variables: ADMISSION_VARIABLES.map((x) => ({ ...x })),
        validations,
      };
      this.policy = new ApiObject(this, 'Policy', { apiVersion, kind: 'ValidatingAdmissionPolicy', metadata: { name, labels }, spec: policySpec });
      const bindingSpec: kplus.k8s.ValidatingAdmissionPolicyBindingSpecV1Beta1 = {
        policyName: name,
        validationActions: actions,
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': props.namespace } } },
      };
      this.binding = new ApiObject(this, 'Binding', { apiVersion, kind: 'ValidatingAdmissionPolicyBinding', metadata: { name, labels }, spec: bindingSpec });
      for (const obj of [this.policy, this.binding]) clusterScoped(obj);
    }

    if (this.coversWholeNamespace) {
      const byNamespace = namespacePoliciesOf(this);
      const existing = byNamespace.get(props.namespace);
      if (existing) {
        v.fail('matchLabels', props.matchLabels ?? {}, `leaves the policy covering the whole namespace "${props.namespace}", which ${existing.node.path} already covers; one namespace has one such policy (add images to it with allowImages())`);
      }
      byNamespace.set(props.namespace, this);
    }
  }

  /** The rule names, in order. */
  public get ruleNames(): string[] {
    return this.rules.map((r) => r.name);
  }

  /** The objects the policy emits: the policy, and its binding for the ValidatingAdmissionPolicy engine. */
  public get apiObjects(): ApiObject[] {
    return this.binding ? [this.policy, this.binding] : [this.policy];
  }

  /** The images allowed now (with those added by `allowImages()`). */
  public get allowedImages(): string[] {
    return [...this.images];
  }

  /**
   * Allows more images, e.g. those of another service in the namespace. Takes effect in the
   * emitted rules and in the self-check.
   * @param images exact references, repositories, or prefixes ending in `/`
   */
  public allowImages(images: string[]): void {
    validateAllowedImages(new PropValidator(`SecurityPolicy '${this.node.id}'`), 'allowImages()', images);
    const before = this.images.length;
    for (const image of images) if (!this.images.includes(image)) this.images.push(image);
    if (this.images.length === before) return;
    this.cachedRules = undefined;
  }

  /**
   * Allows more volume names, e.g. the volumes a workload added after the policy was made. Takes
   * effect in the emitted rules and in the self-check; the names stay sorted. A policy without
   * `allowedVolumes` checks volume types only, and this changes nothing there.
   * @param volumes volume names
   */
  public allowVolumes(volumes: string[]): void {
    validateVolumeNames(new PropValidator(`SecurityPolicy '${this.node.id}'`), 'allowVolumes()', volumes);
    if (this.allowedVolumes === undefined) return;
    const merged = [...new Set([...this.allowedVolumes, ...volumes])].sort();
    if (merged.length === this.allowedVolumes.length) return;
    this.allowedVolumes = merged;
    this.cachedRules = undefined;
  }

  /**
   * Whether `image` is allowed by this policy's images (matching is textual, as in the cluster).
   * @param image a container image reference, e.g. `ghcr.io/acme/api:1.4.2`
   */
  public allowsImage(image: string): boolean {
    return imageAllowed(imageAllowlist(this.images), image);
  }

  /** The rules for the images allowed now; every workload render reads them, so they are kept until images change. */
  private get rules(): AdmissionRule[] {
    this.cachedRules ??= admissionRules({ allowedImages: this.images, allowedVolumes: this.allowedVolumes, level: this.podSecurityLevel });
    return this.cachedRules;
  }

  /**
   * Adds a workload (a kplus Deployment, Job or Pod, or an ApiObject with a pod template) that
   * must pass this policy. The check runs on the workload's final JSON, JSON patches included,
   * whenever it is rendered (`cdk8s synth`, `Testing.synth`), and fails the rendering listing
   * every violation.
   * @param workload the construct whose pod template is checked
   */
  public addWorkload(workload: IConstruct): void {
    const apiObject = ApiObject.of(workload);
    // Once per workload, however often it is added (a service and its namespace may both add it).
    if (this.workloads.includes(apiObject)) return;
    this.workloads.push(apiObject);
    // Checking inside the rendering, rather than in a validation that renders the object a
    // second time, keeps the self-check free: the JSON is produced once either way.
    checkRendered(apiObject, (manifest) => {
      const problems = this.problemsOf(manifest);
      if (problems.length > 0) {
        const which = this.coversWholeNamespace ? `the policy of namespace "${this.namespace}", which the cluster applies to every pod there` : 'its own security policy';
        throw new Error(`${this.node.path}: the workload does not pass ${which}:\n  ${problems.join('\n  ')}`);
      }
    });
  }

  /** Every violation of the policy and the Pod Security level by the added workloads. */
  public selfCheck(): string[] {
    return this.workloads.flatMap((apiObject) => this.problemsOf(renderUnchecked(apiObject)));
  }

  private problemsOf(manifest: any): string[] {
    const problems: string[] = [];
    const template = podTemplateOfManifest(manifest);
    const podSpec = template?.spec;
    const annotations = template?.metadata?.annotations ?? {};
    const where = `${manifest.kind} "${manifest.metadata?.name}"`;
    for (const rule of this.rules) {
      for (const finding of rule.check(podSpec, annotations)) problems.push(`${where} breaks its security policy (${rule.name}): ${finding}`);
    }
    const pss = this.podSecurityLevel === PodSecurityLevel.RESTRICTED ? restrictedViolations(podSpec, annotations)
      : this.podSecurityLevel === PodSecurityLevel.BASELINE ? baselineViolations(podSpec, annotations) : [];
    for (const violation of pss) {
      problems.push(`${where} is not Pod Security "${this.podSecurityLevel}" (${violation.control}): ${violation.field} ${violation.message}`);
    }
    return problems;
  }
}

/** The whole-namespace policies of an app, by namespace. */
class NamespacePolicies extends Construct {
  public readonly byNamespace = new Map<string, SecurityPolicy>();
}

const NAMESPACE_POLICIES = 'NamespacePolicies';

function namespacePoliciesOf(scope: IConstruct): Map<string, SecurityPolicy> {
  return singletonChild(scope.node.root, NAMESPACE_POLICIES, (root, id) => new NamespacePolicies(root, id)).byNamespace;
}

/**
 * Props for `PodSecurityNamespace`.
 */
export interface PodSecurityNamespaceProps {
  /** The namespace name. */
  readonly name: string;

  /**
   * The level to enforce, audit and warn at.
   * @default PodSecurityLevel.RESTRICTED
   */
  readonly level?: PodSecurityLevel;

  /**
   * Extra labels.
   * @default - none
   */
  readonly labels?: { [key: string]: string };
}

/**
 * A Namespace labelled for Pod Security Admission: `enforce`, `audit` and `warn` at one level
 * (restricted by default), each at version `latest`.
 */
export class PodSecurityNamespace extends Construct {
  /** The Namespace. */
  public readonly namespace: kplus.Namespace;

  constructor(scope: Construct, id: string, props: PodSecurityNamespaceProps) {
    super(scope, id);
    const v = new PropValidator(`PodSecurityNamespace '${id}'`);
    v.dnsLabel('name', props.name);
    const level = props.level ?? PodSecurityLevel.RESTRICTED;
    if (!Object.values(PodSecurityLevel).includes(level)) v.fail('level', level, `must be one of ${Object.values(PodSecurityLevel).join(', ')}`);
    v.labelMap('labels', props.labels);
    const labels: { [key: string]: string } = { ...(props.labels ?? {}) };
    for (const mode of ['enforce', 'audit', 'warn']) {
      labels[`pod-security.kubernetes.io/${mode}`] = level;
      labels[`pod-security.kubernetes.io/${mode}-version`] = 'latest';
    }
    this.namespace = new kplus.Namespace(this, 'Resource', { metadata: { name: props.name, labels } });
    clusterScoped(ApiObject.of(this.namespace));
    closeNamespaceGaps(ApiObject.of(this.namespace));
  }
}

/** cdk8s puts the chart's namespace on every object; a cluster-scoped object must not have one. */
function clusterScoped(obj: ApiObject): void {
  if (obj.metadata.namespace !== undefined || Chart.of(obj).namespace !== undefined) {
    obj.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
}
