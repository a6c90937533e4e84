import { kplus } from './plus';
import { PropValidator } from './validation';

// Kubernetes expands `$(NAME)` in a variable's value only from variables defined earlier in the
// same container (and leaves it literal otherwise); `$$` is an escaped `$`. Internal.

const REFERENCE = /\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g;

function mayRefer(value: string | undefined): boolean {
  return typeof value === 'string' && value.includes('$(');
}

/** The names a value refers to with `$(NAME)`, ignoring `$$(NAME)` escapes. */
export function referencesOf(value: string | undefined): string[] {
  if (typeof value !== 'string') return [];
  const names: string[] = [];
  for (const match of value.matchAll(REFERENCE)) {
    if (match[1] !== undefined) names.push(match[1]);
  }
  return names;
}

/** A container's variables by name, in the order Kubernetes defines them. */
export type OrderedEnvironment = { [name: string]: kplus.EnvValue };

/**
 * Orders a container's variables so every `$(NAME)` reference to another of them resolves:
 * `defaults` (the library's, in their order) first, then the user's variables by name, each
 * moved only as far as a reference needs. A variable in both stays one entry, in the default's
 * place, with the user's value. A reference cycle is an error naming the variables.
 */
export function orderEnvironment(
  v: PropValidator,
  defaults: { [name: string]: kplus.EnvValue },
  user: { [name: string]: kplus.EnvValue },
): OrderedEnvironment {
  const userNames = Object.keys(user).sort();
  const defaultNames = Object.keys(defaults);
  const valueOf = (name: string) => (Object.hasOwn(user, name) ? user[name] : defaults[name]);
  // Most environments refer to nothing: then the priority order is the answer, built directly
  // (this runs for every container of every service).
  let refers = false;
  for (const name of defaultNames) refers ||= mayRefer(valueOf(name).value);
  for (const name of userNames) refers ||= mayRefer(user[name].value);
  if (!refers) {
    const result: OrderedEnvironment = {};
    for (const name of defaultNames) result[name] = valueOf(name);
    for (const name of userNames) if (!Object.hasOwn(defaults, name)) result[name] = user[name];
    return result;
  }

  const names = new Set([...defaultNames, ...userNames]);
  const priority = [...names];
  const dependsOn = new Map(priority.map((name) => [
    name,
    referencesOf(valueOf(name).value).filter((ref) => ref !== name && names.has(ref)),
  ]));
  const ordered: OrderedEnvironment = {};
  const placed = new Set<string>();
  while (placed.size < priority.length) {
    const next = priority.find((name) => !placed.has(name) && dependsOn.get(name)!.every((ref) => placed.has(ref)));
    if (next === undefined) {
      const cycle = findCycle(priority.filter((name) => !placed.has(name)), dependsOn);
      v.fail('env', cycle.join(' -> '), 'is a cycle of $(NAME) references: Kubernetes expands a reference only to a variable defined earlier, so one of them would stay literal');
    }
    placed.add(next);
    ordered[next] = valueOf(next);
  }
  return ordered;
}

function findCycle(remaining: string[], dependsOn: Map<string, string[]>): string[] {
  const left = new Set(remaining);
  let current = remaining[0];
  const trail: string[] = [];
  while (!trail.includes(current)) {
    trail.push(current);
    current = dependsOn.get(current)!.find((ref) => left.has(ref))!;
  }
  return [...trail.slice(trail.indexOf(current)), current];
}
