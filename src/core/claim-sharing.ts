import { ApiObject, Chart } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { podTemplateOfManifest } from './manifest';
import { kplus } from './plus';
import { singletonChild } from './singleton';

/** A workload whose pods may mount claims. */
interface ClaimUser {
  readonly label: string;
  readonly workload: kplus.AbstractPod;
  readonly replicas: number;
}

/** The claims a workload's pods mount (`<namespace>/<claim>`, and the pod's volume name), read from the workload as it renders. */
function claimsOf(workload: kplus.AbstractPod): Array<{ key: string; volume: string }> {
  const namespace = namespaceOf(workload, workload.metadata.namespace);
  const volumes: any[] = podTemplateOfManifest(ApiObject.of(workload).toJson())?.spec?.volumes ?? [];
  return volumes.filter((v) => typeof v.persistentVolumeClaim?.claimName === 'string').map((v) => ({ key: `${namespace}/${v.persistentVolumeClaim.claimName}`, volume: v.name }));
}

const SINGLE_NODE = kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE;
const SINGLE_POD = kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE_POD;

/** A workload's namespace as it renders: its chart's, or its own metadata's. */
function namespaceOf(scope: IConstruct, explicit?: string): string {
  return explicit ?? Chart.of(scope).namespace ?? 'default';
}

/**
 * The PersistentVolumeClaims the app's workloads mount, checked when the app is synthesized: a
 * claim that attaches to one node (ReadWriteOnce) or one pod (ReadWriteOncePod) cannot serve
 * several workloads, or a workload of several replicas; their pods would wait for the volume
 * forever. A ReadWriteOnce claim may, when the user pins those pods to one node
 * (`mounts[].pinnedToOneNode`). Only claims defined in the app are checked: the access mode of an
 * existing claim named by the user is not known here. Internal.
 */
export class ClaimSharing extends Construct {
  /** The app's one instance. */
  public static of(scope: IConstruct): ClaimSharing {
    return singletonChild(scope.node.root, 'ClaimSharing', (root, id) => new ClaimSharing(root, id));
  }

  private readonly users: ClaimUser[] = [];
  /** Volumes (by name, of a workload) whose claim the user pinned to one node. */
  private readonly pinnedVolumes: Array<{ workload: kplus.AbstractPod; volume: string }> = [];

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    this.node.addValidation({ validate: () => this.problems() });
  }

  /** Records a workload whose claims are checked when the app is synthesized. */
  public add(label: string, workload: kplus.AbstractPod, replicas: number): void {
    this.users.push({ label, workload, replicas });
  }

  /** The user states that every pod mounting `volume` (a claim's) runs on one node. */
  public pin(workload: kplus.AbstractPod, volume: kplus.Volume): void {
    this.pinnedVolumes.push({ workload, volume: volume.name });
  }

  private problems(): string[] {
    const claims = this.node.root.node.findAll().filter((c): c is kplus.PersistentVolumeClaim => c instanceof kplus.PersistentVolumeClaim);
    // Reading the workloads' volumes renders them: only when a claim could be shared wrongly.
    if (!claims.some((c) => (c.accessModes ?? []).length === 1 && [SINGLE_NODE, SINGLE_POD].includes(c.accessModes![0]))) return [];
    // Each workload is rendered once, however many of its volumes are pinned.
    const rendered = new Map<kplus.AbstractPod, Array<{ key: string; volume: string }>>();
    const claimsOfWorkload = (workload: kplus.AbstractPod) => {
      if (!rendered.has(workload)) rendered.set(workload, claimsOf(workload));
      return rendered.get(workload)!;
    };
    const uses = new Map<string, ClaimUser[]>();
    for (const user of this.users) {
      for (const { key } of claimsOfWorkload(user.workload)) uses.set(key, [...uses.get(key) ?? [], user]);
    }
    const pinnedClaims = this.pinnedVolumes.flatMap(({ workload, volume }) => claimsOfWorkload(workload).filter((c) => c.volume === volume));
    const pinned = new Set(pinnedClaims.map((c) => c.key));
    const problems: string[] = [];
    for (const [key, users] of uses) {
      const claim = claims.find((c) => `${namespaceOf(c, c.metadata.namespace)}/${c.name}` === key);
      const modes = claim?.accessModes ?? [];
      const mode = modes.length === 1 && [SINGLE_NODE, SINGLE_POD].includes(modes[0]) ? modes[0] : undefined;
      const pods = users.reduce((n, u) => n + u.replicas, 0);
      if (mode === undefined || pods <= 1 || (mode === SINGLE_NODE && pinned.has(key))) continue;
      const who = users.map((u) => u.replicas > 1 ? `${u.label} (up to ${u.replicas} replicas)` : u.label).join(', ');
      const oneWorkload = 'mount it in one workload of one replica (a component\'s own mounts, not the service\'s)';
      const fix = mode === SINGLE_POD
        ? `${oneWorkload}, or use a ReadWriteMany claim`
        : `use a ReadWriteMany claim, ${oneWorkload}, or pin those pods to one node and set pinnedToOneNode on its mounts`;
      problems.push(`PersistentVolumeClaim "${key}" (${mode}) is mounted by ${who}: a ${mode} claim attaches to one ${mode === SINGLE_POD ? 'pod' : 'node'}, `
        + `so the other pods wait for it forever; ${fix}`);
    }
    return problems;
  }
}
