import { Chart } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { BackingService, resolveBacking } from '../../core/backing-service';
import { NetworkPeer, NetworkProtocol, NetworkRule, peerIn, ServiceNetworkPolicy } from '../../core/network-policy';
import { kplus } from '../../core/plus';
import type { IPythonWebService } from '../../core/python-application';
import { singletonChild } from '../../core/singleton';
import { PropValidator } from '../../core/validation';
import { warnOnce } from '../../core/warnings';
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
  if (envName !== undefined) v.variableName('connectTo envName', envName);
  const ports = [{ port: target.port, protocol: NetworkProtocol.TCP }];
  target.policy.addIngressRule({ peers: [peerIn(source.namespace, target.namespace, source.podLabels)], ports });
  const egress = { peers: [peerIn(target.namespace, source.namespace, target.podLabels)], ports };
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
