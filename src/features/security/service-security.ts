import { ApiObject, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { DnsEgress } from './dns-egress';
import { PodSecurityLevel, PodSecurityNamespace, PythonServiceSecurity, SecurityPolicy } from './security-policy';
import { LABEL_MANAGED_BY, MANAGED_BY } from '../../core/labels';
import { kplus } from '../../core/plus';
import { addSyncWave, argoCdWaves, registerChartNamespace } from '../../core/release-order';
import { ServiceIdentity } from '../../core/service-identity';
import { PropValidator } from '../../core/validation';

// How a PythonService applies its `security` prop to the children it built. Internal.

/** What `createServicePolicies` built: the service's policy, the namespace's, and the Pod Security namespace. */
export interface SecuredService {
  readonly policy: SecurityPolicy;
  readonly namespacePolicy: SecurityPolicy;
  readonly namespace?: PodSecurityNamespace;
}

/** What a service's policies are made of. */
export interface ServicePolicyTarget {
  /** Where the platform-owned objects go: the service itself, or its node in a platform chart. */
  readonly platformScope: Construct;
  readonly security: PythonServiceSecurity;
  readonly identity: ServiceIdentity;
  readonly labels: { [key: string]: string };
  readonly allowedVolumes: string[];
  /** The migration Job's Argo CD sync wave, when Argo CD options are set. */
  readonly argoCdWave?: number;
}

/**
 * The admission policies (the namespace's, then the service's) and the Pod Security Admission
 * namespace, built before any other child of the service: construction order is file order, so
 * a first `kubectl apply -f` creates them before the pods they govern, with no dependency edges.
 * The Namespace goes before everything in the chart.
 */
export function createServicePolicies(scope: Construct, t: ServicePolicyTarget): SecuredService {
  const s = t.security;
  const platform = t.platformScope;
  const namespacePolicy = joinNamespacePolicy(scope, {
    security: s, namespace: t.identity.namespace!, platformScope: platform, errorLabel: `PythonService '${scope.node.id}'`,
  });
  const policy = new SecurityPolicy(platform, 'SecurityPolicy', {
    name: t.identity.name,
    namespace: t.identity.namespace!,
    matchLabels: t.identity.instanceLabels,
    allowedImages: s.allowedImages,
    allowedVolumes: t.allowedVolumes,
    admissionEngine: s.admissionEngine,
    admissionApiVersion: s.admissionApiVersion,
    enforcement: s.enforcement,
    podSecurityLevel: s.podSecurityLevel ?? PodSecurityLevel.RESTRICTED,
    labels: t.labels,
  });
  const namespace = s.podSecurityAdmission
    ? new PodSecurityNamespace(platform, 'Namespace', { name: t.identity.namespace!, level: s.podSecurityLevel })
    : undefined;

  const namespaceObjects = namespace ? [ApiObject.of(namespace.namespace)] : [];
  const policyObjects = policy.apiObjects;
  if (namespace) registerChartNamespace(Chart.of(platform), namespaceObjects[0]);
  if (t.argoCdWave !== undefined) {
    // File order helps only `kubectl apply -f`; Argo CD orders by phase, wave and kind.
    const waves = argoCdWaves(t.argoCdWave);
    addSyncWave(namespaceObjects, waves.namespace);
    addSyncWave(policyObjects, waves.policies);
    if (namespacePolicy.created) addSyncWave(namespacePolicy.policy.apiObjects, waves.policies);
  }
  return { policy, namespacePolicy: namespacePolicy.policy, namespace };
}

/**
 * Holds a workload to the policy its namespace enforces on every pod: `policy` when the workload
 * knows it (a secured service's or component's, possibly another app's), and in any case the
 * whole-namespace policy this app declares for its namespace, found when the app is synthesized
 * (so the order of declaration does not matter). A pod that policy refuses would be refused by
 * the cluster at deploy time: synthesis fails instead, naming the image and the policy.
 */
export function coverByNamespacePolicy(scope: Construct, workload: kplus.AbstractPod, policy?: SecurityPolicy): void {
  const namespace = Chart.of(scope).namespace;
  if (policy) policy.addWorkload(workload);
  if (namespace === undefined) return;
  scope.node.addValidation({
    validate: () => {
      const found = SecurityPolicy.forNamespace(scope, namespace);
      found?.addWorkload(workload);
      return [];
    },
  });
}

/** A secured service or standalone component, joining its namespace's policy. */
export interface NamespacePolicyMember {
  readonly security: PythonServiceSecurity;
  readonly namespace: string;
  /** Where a namespace policy this member creates goes: itself (first child), or a platform chart's node. */
  readonly platformScope: Construct;
  readonly errorLabel: string;
}

const LEVEL_RANK = { [PodSecurityLevel.PRIVILEGED]: 0, [PodSecurityLevel.BASELINE]: 1, [PodSecurityLevel.RESTRICTED]: 2 };
/** Construct metadata that marks a namespace policy a secured service created (not one the user declared). */
const CREATED_FOR_NAMESPACE = 'cdk8s-python-service:created-for-namespace';

/**
 * Finds (or creates) the namespace's whole-namespace policy, adds the service's images to it
 * when it belongs to the same app, and holds the service's level to it.
 */
export function joinNamespacePolicy(scope: Construct, t: NamespacePolicyMember): { policy: SecurityPolicy; created: boolean } {
  const s = t.security;
  const namespace = t.namespace;
  const v = new PropValidator(t.errorLabel);
  const level = s.podSecurityLevel ?? PodSecurityLevel.RESTRICTED;
  let policy = s.namespacePolicy;
  if (policy !== undefined) {
    if (!(policy instanceof SecurityPolicy)) v.fail('security.namespacePolicy', policy, 'must be a SecurityPolicy');
    if (!policy.coversWholeNamespace) v.fail('security.namespacePolicy', policy.node.path, 'must cover the whole namespace (a SecurityPolicy without matchLabels); a label selector lets unlabelled pods through');
    if (policy.namespace !== namespace) v.fail('security.namespacePolicy', policy.node.path, `is the policy of namespace "${policy.namespace}", not of this service's namespace "${namespace}"`);
  }
  policy ??= SecurityPolicy.forNamespace(scope, namespace);
  const created = policy === undefined;
  if (policy === undefined) {
    // In the service's own chart, the first child of the first secured service: ahead of its pods in the file.
    const inService = t.platformScope === scope;
    policy = new SecurityPolicy(inService ? scope : Chart.of(t.platformScope), inService ? 'NamespacePolicy' : `namespace-policy-${namespace}`, {
      name: 'namespace',
      namespace,
      allowedImages: s.allowedImages,
      admissionEngine: s.admissionEngine,
      admissionApiVersion: s.admissionApiVersion,
      enforcement: s.enforcement,
      podSecurityLevel: level,
      labels: { [LABEL_MANAGED_BY]: MANAGED_BY },
    });
    policy.node.addMetadata(CREATED_FOR_NAMESPACE, namespace);
  }
  if (LEVEL_RANK[level] < LEVEL_RANK[policy.podSecurityLevel]) {
    const how = policy.node.metadata.some((m) => m.type === CREATED_FOR_NAMESPACE)
      ? `(set by the first secured service of the namespace, ${policy.node.path}); declare the namespace's level before the services: new SecurityPolicy(chart, '${namespace}', { name: 'namespace', namespace: '${namespace}', allowedImages: [...], podSecurityLevel: PodSecurityLevel.${level.toUpperCase()} })`
      : `(${policy.node.path}); lower the namespace policy's level, or keep this service at "${policy.podSecurityLevel}"`;
    v.fail('security.podSecurityLevel', level, `is below the level the namespace "${namespace}" enforces for every pod, "${policy.podSecurityLevel}" ${how}`);
  }
  if (policy.node.root === scope.node.root) policy.allowImages(s.allowedImages);
  return { policy, created };
}

let sharedDefaultDns: DnsEgress | undefined;

/** The default DNS egress, one instance for every service (so its rules are checked once). */
export function defaultDns(): DnsEgress {
  sharedDefaultDns ??= DnsEgress.kubeDns();
  return sharedDefaultDns;
}

/**
 * The service's node in the platform chart, which holds its platform-owned objects; the app's
 * chart depends on the platform chart, so the platform's file comes first.
 */
export function platformScopeOf(service: Construct, platformChart: Chart, identity: ServiceIdentity): Construct {
  const appChart = Chart.of(service);
  if (appChart !== platformChart) appChart.addDependency(platformChart);
  return new Construct(platformChart, `${identity.namespace ?? 'default'}-${identity.name}`);
}
