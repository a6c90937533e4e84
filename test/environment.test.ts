import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import * as fc from 'fast-check';
import { PythonServer, PythonService, PythonServiceProps } from '../src';
import { appContainer, only, synth } from './support/manifests';
import { orderEnvironment, referencesOf } from '../src/core/environment';
import { PropValidator } from '../src/core/validation';

function envList(props: Partial<PythonServiceProps>): Array<{ name: string; value?: string; valueFrom?: any }> {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new PythonService(chart, 'api', { image: 'ghcr.io/acme/api:1', server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }), ...props });
  return appContainer(only(synth(chart), 'Deployment')).env;
}

/** Kubernetes' expansion: `$(NAME)` resolves only to a variable defined earlier; `$$` is a literal `$`. */
function expand(env: Array<{ name: string; value?: string }>): { [name: string]: string } {
  const seen: { [name: string]: string } = {};
  for (const { name, value } of env) {
    seen[name] = (value ?? '<from>').replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, ref) => {
      if (match === '$$') return '$';
      return ref in seen ? seen[ref] : match;
    });
  }
  return seen;
}

describe('environment variable order', () => {
  test('a reference to a variable that sorts later still resolves (OTEL_RESOURCE_ATTRIBUTES -> K8S_POD_NAME)', () => {
    const env = envList({
      env: { OTEL_RESOURCE_ATTRIBUTES: 'k8s.pod.name=$(K8S_POD_NAME),service.name=$(SERVICE)', SERVICE: 'shop' },
      envValues: { K8S_POD_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME) },
    });
    const names = env.map((e) => e.name);
    expect(names.indexOf('K8S_POD_NAME')).toBeLessThan(names.indexOf('OTEL_RESOURCE_ATTRIBUTES'));
    expect(names.indexOf('SERVICE')).toBeLessThan(names.indexOf('OTEL_RESOURCE_ATTRIBUTES'));
    expect(expand(env).OTEL_RESOURCE_ATTRIBUTES).toBe('k8s.pod.name=<from>,service.name=shop');
  });

  test('library defaults come first, then the user\'s variables by name', () => {
    const names = envList({ env: { ZED: '1', ALPHA: '2' } }).map((e) => e.name);
    expect(names).toEqual(['PYTHONUNBUFFERED', 'PYTHONDONTWRITEBYTECODE', 'PYTHON_CPU_COUNT', 'TMPDIR', 'WEB_CONCURRENCY', 'XDG_RUNTIME_DIR', 'ALPHA', 'ZED']);
  });

  test('overriding a library default keeps one entry, moved after what it refers to', () => {
    const env = envList({ env: { TMPDIR: '$(SCRATCH)/tmp', SCRATCH: '/scratch' } });
    expect(env.filter((e) => e.name === 'TMPDIR')).toHaveLength(1);
    expect(expand(env).TMPDIR).toBe('/scratch/tmp');
  });

  test('$$(NAME) is an escape, not a reference, and a self reference is left alone', () => {
    expect(referencesOf('$$(HOME) and $(USER) and $$$(PATH)')).toEqual(['USER', 'PATH']);
    const env = envList({ env: { A: 'literal $$(B)', B: 'x', C: '$(C)' } });
    expect(expand(env)).toMatchObject({ A: 'literal $(B)', C: '$(C)' });
  });

  test('a reference cycle is a clear error', () => {
    expect(() => envList({ env: { A: '$(B)', B: '$(C)', C: '$(A)' } }))
      .toThrow('PythonService \'api\': env "A -> B -> C -> A" is a cycle of $(NAME) references');
    expect(() => orderEnvironment(new PropValidator('X'), { D: kplus.EnvValue.fromValue('$(E)') }, { E: kplus.EnvValue.fromValue('$(D)') }))
      .toThrow('X: env "D -> E -> D"');
  });

  test('the order is stable: the same input gives the same list', () => {
    const props = { env: { B: '$(A)', A: '1', C: '3' } };
    expect(envList(props)).toEqual(envList(props));
  });

  test('any acyclic environment: each name once with the user\'s value, every reference after its target, and without references the plain order', () => {
    const variables: string[] = ['A', 'B', 'C', 'D', 'E', 'TMPDIR', 'PYTHONUNBUFFERED'];
    const name = fc.constantFrom(...variables);
    // A variable may refer only to names earlier in a random ranking, so there is never a cycle.
    const environment = fc.record({
      defaults: fc.uniqueArray(name, { maxLength: 3 }),
      user: fc.dictionary(name, fc.boolean(), { maxKeys: 6 }),
      ranking: fc.shuffledSubarray(variables, { minLength: variables.length, maxLength: variables.length }),
    });
    fc.assert(fc.property(environment, ({ defaults, user, ranking }) => {
      const valueOf = (n: string, refer: boolean, owner: string) => {
        const earlier = ranking.slice(0, ranking.indexOf(n)).filter((r) => r in user || defaults.includes(r));
        return refer && earlier.length > 0 ? `${owner}:$(${earlier[earlier.length - 1]})` : `${owner}:${n}`;
      };
      const ordered = Object.entries(orderEnvironment(new PropValidator('X'),
        Object.fromEntries(defaults.map((n) => [n, kplus.EnvValue.fromValue(valueOf(n, false, 'library'))])),
        Object.fromEntries(Object.entries(user).map(([n, refer]) => [n, kplus.EnvValue.fromValue(valueOf(n, refer, 'user'))]))));
      const names = ordered.map(([n]) => n);
      expect(new Set(names).size).toBe(names.length);
      expect([...names].sort()).toEqual([...new Set([...defaults, ...Object.keys(user)])].sort());
      for (const [n, value] of ordered) {
        expect(value.value!.startsWith(n in user ? 'user:' : 'library:')).toBe(true);
        for (const ref of referencesOf(value.value)) expect(names.indexOf(ref)).toBeLessThan(names.indexOf(n));
      }
      if (!Object.values(user).includes(true)) {
        expect(names).toEqual([...new Set([...defaults, ...Object.keys(user).sort()])]);
      }
    }));
  });
});
