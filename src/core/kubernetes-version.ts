import { IConstruct } from 'constructs';
import { PropValidator } from './validation';

/** The cdk8s context key that holds an app's oldest Kubernetes version, e.g. `"1.33"`. */
export const OLDEST_KUBERNETES_VERSION_CONTEXT = 'cdk8s-python-service:oldestKubernetesVersion';

const FIRST_SUPPORTED_MINOR = 28;
const DEFAULT_OLDEST_MINOR = 30;
const VERSION_TEXT = /^v?1\.([0-9]{1,3})$/;

/**
 * A Kubernetes minor version, such as 1.33.
 *
 * The oldest version an app's clusters run is stated once per app, as cdk8s context
 * (`KubernetesVersion.setOldest(app, KubernetesVersion.V1_33)`). Defaults follow it (the preStop
 * pause and the ValidatingAdmissionPolicy API version), and a prop that needs a newer version
 * than that is an error naming both, instead of a field the API server silently drops.
 */
export class KubernetesVersion {
  /** Kubernetes 1.28, the oldest this library renders for. */
  public static readonly V1_28 = new KubernetesVersion(28);
  /** Kubernetes 1.29: native sidecars on by default. */
  public static readonly V1_29 = new KubernetesVersion(29);
  /** Kubernetes 1.30, the default oldest version: the preStop `sleep` action, ValidatingAdmissionPolicy v1. */
  public static readonly V1_30 = new KubernetesVersion(30);
  /** Kubernetes 1.31: Service `trafficDistribution: PreferClose` on by default. */
  public static readonly V1_31 = new KubernetesVersion(31);
  /** Kubernetes 1.32. */
  public static readonly V1_32 = new KubernetesVersion(32);
  /** Kubernetes 1.33: user namespaces (`hostUsers: false`) and in-place resize on by default. */
  public static readonly V1_33 = new KubernetesVersion(33);
  /** Kubernetes 1.34: Service `trafficDistribution: PreferSameZone` and `PreferSameNode` on by default. */
  public static readonly V1_34 = new KubernetesVersion(34);
  /** Kubernetes 1.35: HorizontalPodAutoscaler `behavior` tolerances on by default. */
  public static readonly V1_35 = new KubernetesVersion(35);
  /** Kubernetes 1.36. */
  public static readonly V1_36 = new KubernetesVersion(36);
  /** Kubernetes 1.37. */
  public static readonly V1_37 = new KubernetesVersion(37);

  /**
   * A version from its text, `"1.33"` (a leading `v` and a patch release, `"v1.33.2"`, are
   * accepted; the patch is ignored).
   * @param version the version text, 1.28 or later
   */
  public static of(version: string): KubernetesVersion {
    const text = typeof version === 'string' ? version.trim().replace(/^(v?1\.[0-9]+)\.[0-9]+$/, '$1') : '';
    const match = VERSION_TEXT.exec(text);
    const minor = match ? Number(match[1]) : NaN;
    if (!(minor >= FIRST_SUPPORTED_MINOR)) {
      throw new Error(`KubernetesVersion: version ${JSON.stringify(version)} must be a Kubernetes minor version such as "1.33", 1.${FIRST_SUPPORTED_MINOR} or later`);
    }
    return new KubernetesVersion(minor);
  }

  /**
   * The oldest Kubernetes version `scope`'s app runs on: the context value
   * `cdk8s-python-service:oldestKubernetesVersion` of `scope` or the nearest scope above it,
   * 1.30 when no scope sets it.
   * @param scope any construct of the app
   */
  public static oldestOf(scope: IConstruct): KubernetesVersion {
    const value = scope.node.tryGetContext(OLDEST_KUBERNETES_VERSION_CONTEXT);
    if (value === undefined) return new KubernetesVersion(DEFAULT_OLDEST_MINOR);
    if (typeof value !== 'string') {
      throw new Error(`KubernetesVersion: context "${OLDEST_KUBERNETES_VERSION_CONTEXT}" ${JSON.stringify(value)} must be a string such as "1.33"`);
    }
    return KubernetesVersion.of(value);
  }

  /**
   * States the oldest Kubernetes version of every cluster `scope` (an App or a Chart) is deployed
   * to. Call it before adding constructs to `scope`: cdk8s context cannot change after that.
   * @param scope the App, or a Chart whose clusters differ from the rest of the app
   * @param version the oldest version, e.g. KubernetesVersion.V1_33
   */
  public static setOldest(scope: IConstruct, version: KubernetesVersion): void {
    if (!(version instanceof KubernetesVersion)) {
      throw new Error(`KubernetesVersion.setOldest: version ${JSON.stringify(version)} must be a KubernetesVersion, e.g. KubernetesVersion.V1_33`);
    }
    if (scope.node.children.length > 0) {
      throw new Error(`KubernetesVersion.setOldest: "${scope.node.path || 'the app'}" already has constructs; state the oldest Kubernetes version before adding charts or services`);
    }
    scope.node.setContext(OLDEST_KUBERNETES_VERSION_CONTEXT, version.version);
  }

  /** The minor version number, e.g. 33. */
  public readonly minor: number;

  private constructor(minor: number) {
    this.minor = minor;
  }

  /** The version as text, e.g. `"1.33"`. */
  public get version(): string {
    return `1.${this.minor}`;
  }

  /**
   * Whether this version is `other` or newer.
   * @param other the version to compare with
   */
  public isAtLeast(other: KubernetesVersion): boolean {
    return this.minor >= other.minor;
  }

  /** The version as text, e.g. `"1.33"`. */
  public toString(): string {
    return this.version;
  }
}

/** A field or value that needs a newer Kubernetes than 1.28. Internal. */
export interface KubernetesFeature {
  /** The first version where it is on by default. */
  readonly since: KubernetesVersion;
  /** What it is, e.g. "user namespaces". */
  readonly what: string;
}

/**
 * Fails when `scope`'s app may run on a Kubernetes older than `feature.since`; the error names the
 * prop, both versions and the two ways out. Internal.
 */
export function requireKubernetes(scope: IConstruct, v: PropValidator, prop: string, value: unknown, feature: KubernetesFeature): void {
  const oldest = KubernetesVersion.oldestOf(scope);
  if (oldest.isAtLeast(feature.since)) return;
  v.fail(prop, value, `needs Kubernetes ${feature.since} (${feature.what} is on by default from ${feature.since}), but this app's oldest `
    + `Kubernetes version is ${oldest}, where the API server drops or refuses the field; once every cluster runs ${feature.since}, say so with `
    + `KubernetesVersion.setOldest(app, KubernetesVersion.V1_${feature.since.minor}) (context "${OLDEST_KUBERNETES_VERSION_CONTEXT}"), or leave ${prop} unset`);
}

/** The features the library gates, with the first version where each is on by default. Internal. */
export const KUBERNETES_FEATURES = {
  nativeSidecars: { since: KubernetesVersion.V1_29, what: 'native sidecar containers (initContainers with restartPolicy Always)' },
  preStopSleepAction: { since: KubernetesVersion.V1_30, what: 'the preStop sleep action' },
  validatingAdmissionPolicyV1: { since: KubernetesVersion.V1_30, what: 'ValidatingAdmissionPolicy v1' },
  trafficDistributionPreferClose: { since: KubernetesVersion.V1_31, what: 'Service trafficDistribution PreferClose' },
  userNamespaces: { since: KubernetesVersion.V1_33, what: 'user namespaces (hostUsers: false)' },
  inPlaceResize: { since: KubernetesVersion.V1_33, what: 'in-place pod resize (resizePolicy)' },
  trafficDistributionSameZoneOrNode: { since: KubernetesVersion.V1_34, what: 'Service trafficDistribution PreferSameZone and PreferSameNode' },
  autoscalerTolerance: { since: KubernetesVersion.V1_35, what: 'HorizontalPodAutoscaler behavior tolerance' },
};
