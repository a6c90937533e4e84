import type { Environment as CelEnvironment } from '@marcbachmann/cel-js' with { 'resolution-mode': 'import' };

// The engine is ESM-only; jest turns it into CommonJS (see transformIgnorePatterns in .projenrc.ts).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Environment } = require('@marcbachmann/cel-js') as { Environment: typeof CelEnvironment };

/**
 * A CEL environment declared the way Kubernetes' ValidatingAdmissionPolicy and Kyverno's
 * ValidatingPolicy declare theirs: `object`, `oldObject`, `request`, `namespaceObject` and
 * `variables` as dyn, optional types on, homogeneous literals (the engine's default).
 */
export const celEnvironment = new Environment({ enableOptionalTypes: true })
  .registerVariable('object', 'dyn')
  .registerVariable('oldObject', 'dyn')
  .registerVariable('request', 'dyn')
  .registerVariable('namespaceObject', 'dyn')
  .registerVariable('variables', 'dyn');

/** JSON → CEL input as the apiserver sees it: whole numbers become int (BigInt), undefined keys go. */
export function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(value)) if (x !== undefined) out[k] = toCel(x);
    return out;
  }
  return value;
}

export interface PolicySpecLike {
  readonly variables?: Array<{ name: string; expression: string }>;
  readonly matchConditions?: Array<{ name: string; expression: string }>;
  readonly validations: Array<{ expression: string; message?: string; messageExpression?: string }>;
}

export interface Decision {
  /** True when every validation returned true. */
  readonly allowed: boolean;
  /** The failing validation's message (messageExpression when it evaluates). */
  readonly message?: string;
  /** Set when a validation threw instead of returning a bool: the apiserver would apply failurePolicy. */
  readonly error?: string;
  /** The failing validation's expression. */
  readonly expression?: string;
}

/**
 * Evaluates a policy the way the apiserver does: lazily evaluated `spec.variables` in order,
 * then each validation; the first that is not `true` decides. An error is reported as such,
 * never as a plain denial, so tests can tell "denied by a false result" from "broke".
 */
export function evaluatePolicy(spec: PolicySpecLike, object: unknown): Decision {
  // The apiserver compiles every expression when the policy is written and refuses the policy
  // when one does not type-check: a broken messageExpression is an error here too, never a
  // silent fallback to `message` (that fallback is only for errors while evaluating).
  for (const validation of spec.validations) {
    expectType(validation.expression, 'bool');
    if (validation.messageExpression) expectType(validation.messageExpression, 'string');
  }
  const variables: Record<string, unknown> = {};
  const ctx = {
    object: toCel(object),
    oldObject: null,
    request: toCel({ operation: 'CREATE' }),
    namespaceObject: null,
    variables,
  };
  for (const v of spec.variables ?? []) {
    let cached: { ok: boolean; value?: unknown; error?: unknown } | undefined;
    Object.defineProperty(variables, v.name, {
      enumerable: true,
      get() {
        cached ??= (() => {
          try {
            return { ok: true, value: celEnvironment.evaluate(v.expression, ctx) };
          } catch (error) {
            return { ok: false, error };
          }
        })();
        if (!cached.ok) throw cached.error;
        return cached.value;
      },
    });
  }
  for (const mc of spec.matchConditions ?? []) {
    if (celEnvironment.evaluate(mc.expression, ctx) !== true) return { allowed: true };
  }
  for (const validation of spec.validations) {
    let result: unknown;
    try {
      result = celEnvironment.evaluate(validation.expression, ctx);
    } catch (e) {
      return { allowed: false, error: (e as Error).message, expression: validation.expression };
    }
    if (result !== true) {
      let message = validation.message;
      if (validation.messageExpression) {
        try {
          message = String(celEnvironment.evaluate(validation.messageExpression, ctx));
        } catch {
          // The apiserver falls back to `message` when messageExpression fails.
        }
      }
      return { allowed: false, message, expression: validation.expression };
    }
  }
  return { allowed: true };
}

const checkedTypes = new Map<string, string>();

/** Throws unless the expression compiles to the type the apiserver requires of its field. */
function expectType(expression: string, type: 'bool' | 'string'): void {
  let found = checkedTypes.get(expression);
  if (found === undefined) {
    found = staticTypeOf(expression);
    checkedTypes.set(expression, found);
  }
  if (found !== type && found !== 'dyn') throw new Error(`CEL has type ${found}, not ${type}: ${expression}`);
}

/** The static type of an expression (the apiserver rejects validations that are not exactly bool). */
export function staticTypeOf(expression: string): string {
  const result = celEnvironment.check(expression);
  if (!result.valid) throw new Error(`CEL does not type-check: ${expression}: ${String((result as any).error?.message ?? result)}`);
  return String(result.type);
}
