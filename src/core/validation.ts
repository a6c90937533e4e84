import { Duration, Size, SizeRoundingBehavior } from 'cdk8s';

/**
 * Builds errors that name the construct, the prop, the value and the rule, so a bad prop is
 * reported at construction instead of surfacing as invalid YAML or a TypeError inside cdk8s.
 *
 * Internal: not exported from the package root.
 */
export class PropValidator {
  constructor(private readonly constructLabel: string) {}

  /** Who is asking, e.g. `PythonService 'api'`. */
  public get label(): string {
    return this.constructLabel;
  }

  /** Throws `<Construct> '<id>': <prop> <value> <rule>`. */
  public fail(prop: string, value: unknown, rule: string): never {
    throw new Error(`${this.constructLabel}: ${prop} ${describeValue(value)} ${rule}`);
  }

  public integerInRange(prop: string, value: number | undefined, min: number, max: number): void {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(prop, value, `must be a whole number from ${min} to ${max}`);
    }
  }

  public nonEmptyString(prop: string, value: string | undefined): void {
    if (value === undefined) return;
    if (typeof value !== 'string' || value.trim().length === 0) {
      this.fail(prop, value, 'must be a non-empty string');
    }
  }

  public dnsLabel(prop: string, value: string | undefined, maxLength = 63): void {
    if (value === undefined) return;
    if (typeof value !== 'string' || !DNS_1123_LABEL.test(value)) {
      this.fail(prop, value, 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit');
    }
    if (value.length > maxLength) {
      this.fail(prop, value, `is ${value.length} characters long; the limit is ${maxLength}`);
    }
  }

  public dnsSubdomain(prop: string, value: string | undefined): void {
    if (value === undefined) return;
    if (typeof value !== 'string' || value.length > 253 || !value.split('.').every((part) => DNS_1123_LABEL.test(part))) {
      this.fail(prop, value, 'must be a DNS-1123 subdomain: dot-separated lower-case labels of letters, digits and "-", at most 253 characters');
    }
  }

  /** An environment variable's name, as the kubelet and a shell accept it. */
  public variableName(prop: string, name: unknown): void {
    if (typeof name !== 'string' || !VARIABLE_NAME.test(name)) {
      this.fail(prop, name, 'must be a valid variable name: letters, digits and "_", not starting with a digit');
    }
  }

  public httpPath(prop: string, value: string | undefined): void {
    if (value === undefined) return;
    if (typeof value !== 'string' || !value.startsWith('/') || /\s/.test(value)) {
      this.fail(prop, value, 'must be an HTTP path that starts with "/" and has no whitespace');
    }
  }

  public positiveDuration(prop: string, value: Duration | undefined, options: { allowZero?: boolean } = {}): void {
    if (value === undefined) return;
    if (!(value instanceof Duration)) {
      this.fail(prop, value, 'must be a cdk8s Duration');
    }
    const millis = value.toMilliseconds();
    if (!(millis > 0 || (options.allowZero && millis === 0))) {
      this.fail(prop, value, options.allowZero ? 'must not be negative' : 'must be longer than zero');
    }
    if (millis % 1000 !== 0) {
      this.fail(prop, value, 'must be a whole number of seconds (Kubernetes counts these in seconds)');
    }
  }

  /**
   * A size larger than zero and a whole number of `unit` ("Mi" or "Gi"): cdk8s-plus-28 writes
   * memory and emptyDir limits in Mi, ephemeral storage and volume sizes in Gi, and fails at
   * synth on a fraction.
   */
  public wholeSize(prop: string, size: Size, unit: 'Mi' | 'Gi'): void {
    if (!(size instanceof Size)) this.fail(prop, size, 'must be a cdk8s Size');
    const kib = size.toKibibytes({ rounding: SizeRoundingBehavior.NONE });
    if (!(kib > 0)) this.fail(prop, size.asString(), 'must be larger than zero');
    if (!Number.isInteger(kib / (unit === 'Mi' ? 1024 : 1024 * 1024))) {
      this.fail(prop, size.asString(), `must be a whole number of ${unit === 'Mi' ? 'mebibytes' : 'gibibytes'} (cdk8s-plus-28 writes it in ${unit})`);
    }
  }

  public labelMap(prop: string, labels: { [key: string]: string } | undefined): void {
    if (labels === undefined) return;
    for (const key of Object.keys(labels)) {
      const value = labels[key];
      if (!isQualifiedName(key)) {
        this.fail(`${prop} key`, key, 'must be a qualified name: an optional DNS subdomain prefix and "/", then 1-63 letters, digits, "-", "_" or "." starting and ending with a letter or digit');
      }
      if (typeof value !== 'string' || !isLabelValue(value)) {
        this.fail(`${prop}["${key}"]`, value, 'must be a label value: at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit (or empty)');
      }
    }
  }
}

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A Kubernetes label value: empty, or ≤ 63 alphanumerics, '-', '_', '.', alphanumeric at both ends. */
export function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && LABEL_NAME.test(value));
}

/** A Kubernetes qualified name (label or annotation key). */
export function isQualifiedName(key: string): boolean {
  // The same few keys (app.kubernetes.io/...) are checked for every object of every service.
  let verdict = qualifiedNames.get(key);
  if (verdict === undefined) {
    verdict = checkQualifiedName(key);
    if (qualifiedNames.size < 10_000) qualifiedNames.set(key, verdict);
  }
  return verdict;
}

const qualifiedNames = new Map<string, boolean>();

function checkQualifiedName(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1];
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) return false;
  if (parts.length === 2) {
    const prefix = parts[0];
    return prefix.length > 0 && prefix.length <= 253 && prefix.split('.').every((p) => DNS_1123_LABEL.test(p));
  }
  return true;
}

export function isDnsLabel(value: string): boolean {
  return DNS_1123_LABEL.test(value) && value.length <= 63;
}

function describeValue(value: unknown): string {
  if (value instanceof Duration) return `(${value.toHumanString()})`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return '(undefined)';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
