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

/** Every cycle of the import graph `edges` describes, as `a -> b -> a`. */
function cyclesOf(edges: (file: string) => string[]): string[] {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (file: string, trail: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const next of edges(file)) visit(next, [...trail, file]);
    state.set(file, 'done');
  };
  for (const file of files) visit(file, []);
  return cycles;
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
    expect(cyclesOf(importsOf)).toEqual([]);
  });

  test('one module imports cdk8s-plus (moving to a newer one is an edit there and in plus-gaps.ts)', () => {
    const importers = [...source].filter(([, text]) => /from 'cdk8s-plus-\d+'/.test(text)).map(([file]) => file);
    expect(importers).toEqual(['plus.ts']);
  });

  test('no import cycle even counting type imports: components depend on IPythonApplication, not on PythonService', () => {
    // Type imports count here: they are how a worker, scheduled job or migration Job would
    // depend on the concrete class that builds them (the nine-file circle this replaced).
    const cycles = cyclesOf((f) => [...source.get(f)!.matchAll(/^import (?:type )?[^;]*? from '\.\/([^']+)';$/gms)].map((m) => `${m[1]}.ts`).filter((d) => source.has(d)));
    expect(cycles).toEqual([]);
    const componentFiles = ['python-component.ts', 'python-worker.ts', 'python-cron-job.ts', 'migrations.ts', 'connections.ts'];
    expect(componentFiles.filter((f) => /from '\.\/python-service'/.test(source.get(f)!))).toEqual([]);
  });

  test('the rule sets the checks above read are really there (the scan is not empty)', () => {
    expect(importsOf('python-service.ts')).toEqual(expect.arrayContaining(['python-pod-template.ts', 'service-identity.ts', 'resolve.ts']));
  });
});
