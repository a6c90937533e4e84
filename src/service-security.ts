import { ApiObject, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { DnsEgress } from './dns-egress';
import { Exposure } from './exposure';
import { argoCdWaves } from './migration-options';
import { NetworkPeer, ServiceNetworkPolicy } from './network-policy';
import { addSyncWave, emitBefore, registerChartNamespace } from './release-order';
import { PodSecurityLevel, PodSecurityNamespace, PythonServiceSecurity, SecurityPolicy } from './security-policy';
import { ServiceIdentity } from './service-identity';

// How a PythonService applies its `security` prop to the children it built. Internal.

/** What `secureService` locks down. */
export interface ServiceSecurityTarget {
  readonly security: PythonServiceSecurity;
  readonly identity: ServiceIdentity;
  readonly labels: { [key: string]: string };
  readonly allowedVolumes: string[];
  /** The NetworkPolicies whose egress is restricted to DNS and `egressTo`. */
  readonly networkPolicies: ServiceNetworkPolicy[];
  /** The workloads the admission policy must admit (checked when they render). */
  readonly workloads: kplus.AbstractPod[];
  /** The migration Job's Argo CD sync wave, when Argo CD options are set. */
  readonly argoCdWave?: number;
}

/**
 * Restricts egress, emits the admission policy (and the Pod Security Admission namespace), and
 * orders the output: the Namespace before everything in the chart, the policies before every
 * other object of the service.
 */
export function secureService(scope: Construct, t: ServiceSecurityTarget): { policy: SecurityPolicy; namespace?: PodSecurityNamespace } {
  const s = t.security;
  const dns = s.dns ?? defaultDns();
  for (const networkPolicy of t.networkPolicies) {
    networkPolicy.restrictEgress();
    for (const rule of [...dns.rules, ...(s.egressTo ?? [])]) networkPolicy.addEgressRule(rule);
  }
  const policy = new SecurityPolicy(scope, 'SecurityPolicy', {
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
  for (const workload of t.workloads) policy.addWorkload(workload);
  const namespace = s.podSecurityAdmission
    ? new PodSecurityNamespace(scope, 'Namespace', { name: t.identity.namespace!, level: s.podSecurityLevel })
    : undefined;

  const namespaceObjects = namespace ? [ApiObject.of(namespace.namespace)] : [];
  const policyObjects = [policy.policy, ...(policy.binding ? [policy.binding] : [])];
  emitBefore(policyObjects, scope, namespaceObjects);
  if (namespace) registerChartNamespace(Chart.of(scope), namespaceObjects[0]);
  if (t.argoCdWave !== undefined) {
    // File order helps only `kubectl apply -f`; Argo CD orders by phase, wave and kind.
    const waves = argoCdWaves(t.argoCdWave);
    addSyncWave(namespaceObjects, waves.namespace);
    addSyncWave(policyObjects, waves.policies);
  }
  return { policy, namespace };
}

let sharedDefaultDns: DnsEgress | undefined;

/** The default DNS egress, one instance for every service (so its rules are checked once). */
export function defaultDns(): DnsEgress {
  sharedDefaultDns ??= DnsEgress.kubeDns();
  return sharedDefaultDns;
}

/** Who may reach the service port. */
export function ingressPeers(security: PythonServiceSecurity | undefined, exposure: Exposure): NetworkPeer[] | undefined {
  if (security?.ingressFrom) return [...security.ingressFrom];
  // The proxy in front (ingress controller, Gateway data plane) runs there, and nothing else needs the port.
  if (exposure.proxyNamespace !== undefined) return [{ namespaceName: exposure.proxyNamespace }];
  if (!security) return undefined;
  // Behind a LoadBalancer, NodePort or Ingress the traffic comes from outside the namespace
  // (the controller or the internet); a cluster-internal service only serves its neighbours.
  return exposure.clusterInternal ? [{ podLabels: {} }] : undefined;
}
