import { Chart, Size } from 'cdk8s';
import { Construct } from 'constructs';
import { ClaimSharing } from './claim-sharing';
import { NetworkRule, ServiceNetworkPolicy } from './network-policy';
import { kplus } from './plus';
import { setTopologySpread } from './plus-gaps';
import type { IPythonApplication, PythonApplicationContext } from './python-application';
import { PythonPodTemplate } from './python-pod-template';
import { emitBefore, emitChartNamespaceBefore } from './release-order';
import { ServiceIdentity } from './service-identity';
import { PropValidator } from './validation';
import { warnOnce } from './warnings';
import { ConnectionGroup } from '../features/connections/connections';
import { ServiceDisruptionBudget } from '../features/scaling/availability';
import { topologySpreadConstraints } from '../features/scaling/scaling';
import { PythonServiceSecurity, SecurityPolicy } from '../features/security/security-policy';
import { coverByNamespacePolicy, defaultDns } from '../features/security/service-security';

// The workload base: what every Python workload of an application is built with (the web
// Deployment, workers, scheduled jobs, the migration Job), the role `Workload` plays in
// cdk8s-plus. A workload kind resolves its own props into a context, builds its kplus workload
// on the pod template, and hands it to `WorkloadBase`, which builds the rest in one order. Internal.

/** Who a workload is and what it runs: its identity, name and pod template, and its application's settings. */
export interface WorkloadContext {
  /** How errors name the workload, e.g. `PythonService 'api' PythonWorker 'celery'`. */
  readonly label: string;
  readonly validator: PropValidator;
  readonly identity: ServiceIdentity;
  /** Its `app.kubernetes.io/component` label. */
  readonly component: string;
  /** Its objects' base name. */
  readonly name: string;
  /** `<name>-<suffix>`, checked against the limit for object names. */
  readonly objectName: (suffix: string) => string;
  readonly template: PythonPodTemplate;
  /** Memory one Python process needs (worker counts are sized by it). */
  readonly memoryPerProcess: Size;
  /** The application it belongs to, and what that shares; none for a standalone workload. */
  readonly application?: IPythonApplication;
  readonly shared?: PythonApplicationContext;
  /** Restricted egress and admission, when the workload (or its application) is secured. */
  readonly security?: PythonServiceSecurity;
  /** The admission policy that must admit the workload's pods, if any. */
  readonly securityPolicy?: SecurityPolicy;
  /** The namespace's policy the workload (or its application) joined, when secured (possibly another app's). */
  readonly namespacePolicy?: SecurityPolicy;
}

/** What a workload of an application names for itself; the rest comes from the application. */
export interface ApplicationWorkloadOptions {
  readonly label: string;
  readonly validator: PropValidator;
  readonly component: string;
  readonly name: string;
  readonly objectName: (suffix: string) => string;
  readonly template: PythonPodTemplate;
  /** @default - the application's */
  readonly memoryPerProcess?: Size;
}

/**
 * The context of a workload of `application` (its web pods, a worker, a scheduled job, its
 * migration Job): its identity, security and memory sizing come from the application's context.
 */
export function applicationWorkloadContext(
  application: IPythonApplication, shared: PythonApplicationContext, options: ApplicationWorkloadOptions,
): WorkloadContext {
  return Object.assign({}, options, {
    identity: application.identity,
    application,
    shared,
    memoryPerProcess: options.memoryPerProcess ?? shared.memoryPerProcess,
    security: shared.security,
    securityPolicy: shared.securityPolicy,
    namespacePolicy: shared.namespacePolicy,
  });
}

/** What a workload kind hands the base: its kplus workload and what decides its parts. */
export interface WorkloadParts {
  /** The kplus workload the kind built on the pod template. */
  readonly workload: kplus.AbstractPod;
  /** Its Python containers: `connectTo` and `use` give them their variables. */
  readonly containers: kplus.Container[];
  /** The most replicas it runs; above one it gets a topology spread and a PodDisruptionBudget (a Deployment or StatefulSet). */
  readonly maxReplicas?: number;
  /** The budget's `maxUnavailable`. */
  readonly maxUnavailable?: number;
  /** Egress of its own, beyond its application's. */
  readonly egressTo?: NetworkRule[];
  /** How connection errors name it, when not by its context's label. */
  readonly connectionLabel?: string;
  /** Whether `connectTo`/`use` on the workload itself reach it (false for a kind without them); its application's always do. */
  readonly ownConnections?: boolean;
}

/** The parts the base built for a workload, between `begin` and `finish`. */
export interface StartedWorkload {
  readonly parts: WorkloadParts;
  /** Its NetworkPolicy `<name>-netpol`. */
  readonly networkPolicy: ServiceNetworkPolicy;
  /** Its PodDisruptionBudget `<name>-pdb`, when it runs more than one replica. */
  readonly disruptionBudget?: ServiceDisruptionBudget;
}

/**
 * The workload base: builds the parts every Python workload has (the web Deployment, workers,
 * scheduled jobs, the migration Job, a kind of the user's), in `scope` (the workload's
 * construct, or the service for its web pods), always in one order: the spread and disruption
 * budget, the NetworkPolicy, then whatever the kind adds with them, then admission coverage
 * (which reads the pods' volumes as they are then) and last the registration for `connectTo`
 * and `use`. cdk8s writes objects in creation order, so the order is the file's. Internal.
 */
export class WorkloadBase {
  public constructor(private readonly scope: Construct, public readonly ctx: WorkloadContext) {}

  /** Builds a workload the kind adds nothing to between its NetworkPolicy and its coverage. */
  public build(parts: WorkloadParts): StartedWorkload {
    const started = this.begin(parts);
    this.finish(started);
    return started;
  }

  /** The spread and disruption budget, then the NetworkPolicy; the kind adds its own parts, then calls `finish`. */
  public begin(parts: WorkloadParts): StartedWorkload {
    const budget = parts.maxReplicas === undefined ? undefined : this.spreadReplicas(parts.workload, parts.maxReplicas, parts.maxUnavailable);
    return { parts, networkPolicy: this.networkPolicy(parts.egressTo), disruptionBudget: budget };
  }

  /** Admission coverage and the claims' sharing check, once the pods have every volume, then the registration for `connectTo` and `use`. */
  public finish(started: StartedWorkload): void {
    this.govern(started.parts.workload);
    ClaimSharing.of(this.scope).add(started.parts.connectionLabel ?? this.ctx.label, started.parts.workload, started.parts.maxReplicas ?? 1);
    this.register(started.networkPolicy, started.parts.containers, { label: started.parts.connectionLabel, ownGroup: started.parts.ownConnections });
  }

  /**
   * The workload's NetworkPolicy `<name>-netpol`: no ingress (but what its kind adds), egress open,
   * or restricted to DNS, the application's `egressTo` and the workload's own once secured.
   */
  private networkPolicy(egressTo?: NetworkRule[]): ServiceNetworkPolicy {
    const ctx = this.ctx;
    const policy = new ServiceNetworkPolicy(this.scope, 'NetworkPolicy', {
      metadata: ctx.identity.metadataOf(ctx.objectName('netpol'), ctx.component),
      podSelector: ctx.identity.selectorLabels(ctx.component),
      errorLabel: ctx.label,
    });
    if (ctx.security) {
      policy.restrictEgress();
      const dns = (ctx.security.dns ?? defaultDns()).rules;
      for (const rule of [...dns, ...(ctx.security.egressTo ?? []), ...(egressTo ?? [])]) policy.addEgressRule(rule);
      // Checked when the app is synthesized: connectTo() and use() add their rules after this.
      policy.node.addValidation({
        validate: () => {
          if (policy.egress.length <= dns.length) {
            warnOnce(`dns-only-egress:${ctx.label}`, `${ctx.label}: secured, and its NetworkPolicy lets it reach nothing but DNS (no security.egressTo, egressTo, `
              + 'connectTo() or use()): declare what it talks to (a database, a broker, another service), or those connections time out');
          }
          return [];
        },
      });
    } else if (egressTo !== undefined) {
      ctx.validator.fail('egressTo', egressTo, 'restricts egress only with security set (egress is open without it)');
    }
    return policy;
  }

  /**
   * A PodDisruptionBudget `<name>-pdb` and the spread over zones and nodes, when more than one
   * replica can run; none for a single replica, which a budget would only keep from draining.
   * The spread is a topology spread plus a soft host anti-affinity, which kube-score and
   * kube-linter look for and which keeps replicas apart where nodes lack zone labels.
   */
  private spreadReplicas(workload: kplus.AbstractPod, maxReplicas: number, maxUnavailable?: number): ServiceDisruptionBudget | undefined {
    if (maxReplicas <= 1) return undefined;
    if (!(workload instanceof kplus.Deployment || workload instanceof kplus.StatefulSet)) {
      throw new Error(`${this.ctx.label}: only a Deployment or StatefulSet spreads its replicas (${workload.node.path})`);
    }
    const ctx = this.ctx;
    const selector = ctx.identity.selectorLabels(ctx.component);
    const budget = new ServiceDisruptionBudget(this.scope, 'DisruptionBudget', {
      metadata: ctx.identity.metadataOf(ctx.objectName('pdb'), ctx.component), podSelector: selector, maxUnavailable, errorLabel: ctx.label,
    });
    setTopologySpread(workload, topologySpreadConstraints(selector));
    const peers = kplus.Pods.select(this.scope, 'Peers', { labels: selector });
    workload.scheduling.separate(peers, { topology: kplus.Topology.HOSTNAME, weight: 100 });
    return budget;
  }

  /**
   * Holds the workload to its admission policy and to its namespace's (checked when it renders:
   * a pod either would refuse fails the synthesis, not the deploy), and puts the policies and the
   * chart's Namespace before its objects in the file.
   */
  private govern(workload: kplus.AbstractPod): void {
    const policy = this.ctx.securityPolicy;
    if (policy) {
      // The library's own volumes are always allowed: read from the pod as built, not predicted.
      policy.allowVolumes(mountedVolumeNames(workload));
      policy.addWorkload(workload);
      // A workload under its application comes after the policy (built first) in the file
      // already; a policy in a platform chart comes first by chart dependency.
      const owner = policy.node.scope;
      const afterPolicy = owner !== undefined && this.scope.node.scopes.includes(owner);
      if (!afterPolicy && Chart.of(policy) === Chart.of(this.scope)) emitBefore(policy.apiObjects, this.scope);
    }
    coverByNamespacePolicy(this.scope, workload, this.ctx.namespacePolicy);
    emitChartNamespaceBefore(this.scope);
  }

  /**
   * Makes the workload's pods reachable by `connectTo`/`use` on its application, and on the
   * workload itself unless `ownGroup` is false (a kind without `connectTo`/`use` of its own).
   */
  private register(policy: ServiceNetworkPolicy, containers: kplus.Container[], options: { label?: string; ownGroup?: boolean }): void {
    const end = { scope: this.scope, label: options.label ?? this.ctx.label, policy, containers };
    if (options.ownGroup !== false || !this.ctx.application) ConnectionGroup.of(this.scope).add(end);
    if (this.ctx.application && this.ctx.application !== this.scope) ConnectionGroup.of(this.ctx.application).add(end);
  }
}

/** The names of the volumes a workload's pods have, its containers' mounts included. */
function mountedVolumeNames(workload: kplus.AbstractPod): string[] {
  const containers = [...workload.initContainers, ...workload.containers];
  return [...workload.volumes, ...containers.flatMap((c) => c.mounts.map((m) => m.volume))].map((v) => v.name);
}
