import { ApiObjectMetadata } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import {
  LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, LABEL_PART_OF, LABEL_VERSION, MANAGED_BY,
} from './labels';
import { singletonChild } from './singleton';
import { PropValidator } from './validation';

/**
 * Props for `ServiceIdentity`.
 */
export interface ServiceIdentityProps {
  /**
   * Base name of every object: a DNS-1035 label.
   */
  readonly name: string;

  /**
   * The namespace the objects go to.
   * @default - the namespace of the kubeconfig context at apply time
   */
  readonly namespace?: string;

  /**
   * `app.kubernetes.io/version`.
   */
  readonly version: string;

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
   * Who is asking, for error messages (e.g. `PythonService 'api'`).
   * @default "ServiceIdentity '<name>'"
   */
  readonly errorLabel?: string;
}

/**
 * Names and labels of every object of one Python application: the web server, workers,
 * scheduled jobs and the migration Job share a name, an instance and a version, and differ in
 * their `app.kubernetes.io/component` label.
 *
 * A plain class (not a construct): it owns no Kubernetes objects.
 */
export class ServiceIdentity {
  /** Base name of every object. */
  public readonly name: string;
  /** The namespace, if the chart has one. */
  public readonly namespace?: string;
  /** Labels on every object: name, instance, version, part-of, managed-by and the user's labels (no component). */
  public readonly commonLabels: { [key: string]: string };
  /** Labels that select every object of this application and nothing of another: name and instance. */
  public readonly instanceLabels: { [key: string]: string };

  private readonly validator: PropValidator;
  private readonly userLabels: { [key: string]: string };
  private readonly releaseLabels: { [key: string]: string };

  constructor(props: ServiceIdentityProps) {
    this.validator = new PropValidator(props.errorLabel ?? `ServiceIdentity '${props.name}'`);
    this.name = props.name;
    this.namespace = props.namespace;
    this.instanceLabels = { [LABEL_NAME]: props.name, [LABEL_INSTANCE]: props.name };
    this.userLabels = { ...(props.labels ?? {}) };
    this.releaseLabels = {
      [LABEL_VERSION]: props.version,
      [LABEL_PART_OF]: props.partOf ?? props.name,
      [LABEL_MANAGED_BY]: MANAGED_BY,
    };
    this.commonLabels = Object.assign({}, this.userLabels, this.instanceLabels, this.releaseLabels);
  }

  /**
   * Labels that select exactly the pods of one component: name, instance and component.
   * The version is never part of a selector (selectors are immutable).
   * @param component the `app.kubernetes.io/component` value, e.g. `server` or a worker's id
   */
  public selectorLabels(component: string): { [key: string]: string } {
    return Object.assign({}, this.instanceLabels, { [LABEL_COMPONENT]: component });
  }

  /**
   * Labels on the objects and pods of one component, in the order every object carries them.
   * @param component the `app.kubernetes.io/component` value
   */
  public labelsOf(component: string): { [key: string]: string } {
    return Object.assign({}, this.userLabels, this.selectorLabels(component), this.releaseLabels);
  }

  /**
   * `<name>-<suffix>`, checked against the 63-character limit for object names.
   * @param suffix what the object is, e.g. `netpol`
   * @param maxLength the limit for this kind of object (52 for a CronJob, whose Jobs add 11 characters)
   */
  public objectName(suffix: string, maxLength: number = 63): string {
    const full = `${this.name}-${suffix}`;
    if (full.length > maxLength) {
      this.validator.fail('name', this.name, `is too long: the derived object name "${full}" has ${full.length} characters; the limit is ${maxLength}`);
    }
    return full;
  }

  /**
   * Metadata for an object of one component: its name and that component's labels.
   * @param name the object's name
   * @param component the `app.kubernetes.io/component` value
   */
  public metadataOf(name: string, component: string): ApiObjectMetadata {
    return { name, labels: this.labelsOf(component) };
  }
}

/**
 * Which construct of a cdk8s app claimed which name, per kind of name (e.g. a service's
 * `<namespace>/<name>`, or a Namespace it emits), so two constructs that would overwrite each
 * other's objects fail clearly instead of emitting one object twice.
 */
export class NameRegistry extends Construct {
  /** The registry of `kind` for the app that `scope` belongs to. */
  public static of(scope: IConstruct, kind: string): NameRegistry {
    return singletonChild(scope.node.root, `NameRegistry-${kind}`, (root, id) => new NameRegistry(root, id));
  }

  private readonly owners = new Map<string, string>();

  /** The construct path that claimed `key`, if any. */
  public ownerOf(key: string): string | undefined {
    return this.owners.get(key);
  }

  /** Records that the construct at `path` owns `key`. */
  public claim(key: string, path: string): void {
    this.owners.set(key, path);
  }
}

/** "ShopApi" → "shop-api"; "api_v2" → "api-v2". */
export function kebabCase(id: string): string {
  return id
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();
}
