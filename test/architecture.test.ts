import * as fs from 'fs';
import * as path from 'path';

// The layout rules of DESIGN.md §3, checked on the source so a later change cannot quietly undo them.
const SRC = path.join(__dirname, '..', 'src');
const files = fs.readdirSync(SRC).filter((f) => f.endsWith('.ts'));
const source = new Map(files.map((f) => [f, fs.readFileSync(path.join(SRC, f), 'utf8')]));

/** Value imports between src files (type-only imports vanish at run time and cannot form cycles). */
function importsOf(file: string): string[] {
  const found = [...source.get(file)!.matchAll(/^import (?!type )[^;]*? from '\.\/([^']+)';$/gms)].map((m) => `${m[1]}.ts`);
  return found.filter((f) => source.has(f));
}

describe('architecture', () => {
  test('PythonService only wires: its file stays within 400 lines', () => {
    expect(source.get('python-service.ts')!.trimEnd().split('\n').length).toBeLessThanOrEqual(400);
  });

  test('no construct reaches into another file\'s underscore members', () => {
    const offenders: string[] = [];
    for (const [file, text] of source) {
      for (const m of text.matchAll(/\b(\w+)\._([a-zA-Z]\w*)/g)) {
        if (m[1] === 'this') continue;
        offenders.push(`${file}: ${m[0]}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test('no import cycle among the source files', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const next of importsOf(file)) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  test('one module imports cdk8s-plus (moving to a newer one is an edit there and in plus-gaps.ts)', () => {
    const importers = [...source].filter(([, text]) => /from 'cdk8s-plus-\d+'/.test(text)).map(([file]) => file);
    expect(importers).toEqual(['plus.ts']);
  });

  test('the type-level import cycle through PythonService does not grow (components still name the concrete class)', () => {
    // Type imports count here: they are how a component depends on PythonService. The goal is no
    // cycle at all (components depending on an interface of their application); until then, no
    // file may join the nine.
    const graph = new Map(files.map((f) => [f, [...source.get(f)!.matchAll(/^import (?:type )?[^;]*? from '\.\/([^']+)';$/gms)]
      .map((m) => `${m[1]}.ts`).filter((d) => source.has(d))]));
    const reaches = (from: string, to: string) => {
      const seen = new Set<string>();
      const stack = [from];
      while (stack.length > 0) {
        const f = stack.pop()!;
        for (const next of graph.get(f) ?? []) {
          if (next === to) return true;
          if (!seen.has(next)) { seen.add(next); stack.push(next); }
        }
      }
      return false;
    };
    const inCycleWithService = files.filter((f) => f === 'python-service.ts' || (reaches(f, 'python-service.ts') && reaches('python-service.ts', f))).sort();
    const KNOWN = ['migration-options.ts', 'migrations.ts', 'python-component.ts', 'python-cron-job.ts', 'python-service-props.ts', 'python-service.ts',
      'python-worker.ts', 'resolve.ts', 'service-security.ts'];
    expect(inCycleWithService.filter((f) => !KNOWN.includes(f))).toEqual([]);
    expect(inCycleWithService.length).toBeLessThanOrEqual(KNOWN.length);
    expect(inCycleWithService).toContain('python-worker.ts'); // the scan sees type imports
  });

  test('the rule sets the checks above read are really there (the scan is not empty)', () => {
    expect(importsOf('python-service.ts')).toEqual(expect.arrayContaining(['python-pod-template.ts', 'service-identity.ts', 'resolve.ts']));
  });
});
