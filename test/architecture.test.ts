import * as fs from 'fs';
import * as path from 'path';

// The layout rules of DESIGN.md §3, checked on the source so a later change cannot quietly undo them.
const SRC = path.join(__dirname, '..', 'src');

/** Every source file, as its path under src/ (the generated CRD types in imports/ aside). */
function sourceFiles(dir = ''): string[] {
  return fs.readdirSync(path.join(SRC, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return rel === 'imports' ? [] : sourceFiles(rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  }).sort();
}
const files = sourceFiles();
const source = new Map(files.map((f) => [f, fs.readFileSync(path.join(SRC, f), 'utf8')]));
/** A file by its name, wherever it lives (names are unique across the folders). */
const fileNamed = (name: string) => files.find((f) => path.posix.basename(f) === name)!;

/** The src files `file` imports; type-only imports too when `withTypes` (they vanish at run time and cannot form cycles). */
function importsOf(file: string, withTypes = false): string[] {
  const pattern = withTypes ? /^(?:import|export) (?:type )?[^;]*? from '(\.{1,2}\/[^']+)';$/gms : /^(?:import|export) (?!type )[^;]*? from '(\.{1,2}\/[^']+)';$/gms;
  return [...source.get(file)!.matchAll(pattern)]
    .map((m) => path.posix.normalize(path.posix.join(path.posix.dirname(file), `${m[1]}.ts`)))
    .filter((f) => source.has(f));
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

/**
 * The module-level state the source may hold, and why. Anything an app, a chart or a construct
 * shares lives in the construct tree instead (a child found with `node.tryFindChild`, see
 * singleton.ts), so it is found from the construct and goes away with the app.
 */
const MODULE_STATE: { [site: string]: string } = {
  'admission.ts ruleSets': 'memo of a pure function: the admission rules of one set of inputs',
  'schedules.ts cronVerdicts': 'memo of a pure function: the verdict on one cron expression',
  'network-policy.ts checkedRules': 'memo: a rule object is checked once, however many policies it is added to',
  'security-policy.ts validationSets': 'memo of a pure function: the CEL validations of one rule list',
  'validation.ts qualifiedNames': 'memo of a pure function: the verdict on one label key',
  'pod-security-standards.ts BASELINE_CAPABILITY_SET': 'a constant lookup table',
  'pod-security-standards.ts SAFE_SYSCTL_SET': 'a constant lookup table',
  'pod-security-standards.ts RESTRICTED_VOLUME_TYPE_SET': 'a constant lookup table',
  'pod-security-standards.ts SELINUX_TYPE_SET': 'a constant lookup table',
  'warnings.ts printed': 'per process by design: a warning is printed once per synthesis run',
  'service-security.ts sharedDefaultDns': 'an immutable default every service shares, so its rules are checked once',
  'after-render.ts hooksByObject': 'the one render hook of an object cdk8s-plus creates: its typed overlay, content edits and checks',
  'backing-service.ts backingInternals': 'private state of the public BackingService, kept off its jsii surface',
  'queue-scaling.ts resolvers': 'private state of the public QueueScaling, kept off its jsii surface',
};

describe('architecture', () => {
  test('no module-level registry but the listed ones, each with its reason', () => {
    const found: string[] = [];
    for (const [file, text] of source) {
      for (const m of text.matchAll(/^(?:const (\w+) = new (?:WeakMap|WeakSet|Map|Set)\b|let (\w+))/gm)) found.push(`${path.posix.basename(file)} ${m[1] ?? m[2]}`);
    }
    expect(found.sort()).toEqual(Object.keys(MODULE_STATE).sort());
  });

  test('each pod prop is declared once, in the image-level or the process-level interface, and composed from there', () => {
    // The interfaces a Python pod's props reach a service, a component or a pod template through.
    const podInterfaces = [
      'PythonImageOptions', 'PythonProcessOptions', 'PythonPodOptions', 'PythonPodTemplateProps', 'PythonPodOverrides', 'PythonServiceProps',
      'PythonComponentOptions', 'StandalonePythonOptions', 'PythonWorkerOptions', 'PythonWorkerProps', 'PythonCronJobOptions', 'PythonCronJobProps',
    ];
    const podProps = ['imagePullPolicy', 'securityContext', 'tmpSize', 'imagePullSecrets', 'hostUsers', 'resizePolicy', 'resources', 'env', 'envValues', 'envFrom'];
    const declared = new Map<string, string[]>();
    for (const [file, text] of source) {
      for (const block of text.matchAll(/^export interface (\w+)[^{]*\{([\s\S]*?)^\}/gm)) {
        for (const prop of block[2].matchAll(/^ {2}readonly (\w+)\??:/gm)) {
          if (podProps.includes(prop[1]) && podInterfaces.includes(block[1])) declared.set(prop[1], [...(declared.get(prop[1]) ?? []), `${path.posix.basename(file)} ${block[1]}`]);
        }
      }
    }
    expect(podInterfaces.filter((name) => ![...source.values()].some((text) => text.includes(`export interface ${name} `)))).toEqual([]);
    const owners = (names: string[]) => names.map((n) => declared.get(n));
    expect(owners(podProps.slice(0, 6))).toEqual(podProps.slice(0, 6).map(() => ['python-pod-template.ts PythonImageOptions']));
    expect(owners(podProps.slice(6))).toEqual(podProps.slice(6).map(() => ['python-pod-template.ts PythonProcessOptions']));
  });

  test('one toJson is replaced, by the render hook; render-time edits are only the content-derived name and the self-checks', () => {
    const replacements = [...source].flatMap(([file, text]) => [...text.matchAll(/\.toJson = /g)].map(() => path.posix.basename(file)));
    expect(replacements).toEqual(['after-render.ts']);
    const sites = (call: string) => [...source].filter(([file, text]) => !file.endsWith('after-render.ts') && new RegExp(`\\b${call}[(<]`).test(text)).map(([file]) => path.posix.basename(file)).sort();
    expect(sites('afterRender')).toEqual(['migrations.ts']);
    expect(sites('checkRendered')).toEqual(['python-service.ts', 'security-policy.ts']);
    expect(sites('overlayOf')).toEqual(['plus-gaps.ts']);
  });

  test('the folders show the architecture: the core, the workload kinds, one folder per feature, the Python runtime', () => {
    const folders = [...new Set(files.map((f) => path.posix.dirname(f)))].sort();
    expect(folders).toEqual([
      '.', 'core', 'features/backup', 'features/config', 'features/connections', 'features/exposure', 'features/monitoring', 'features/scaling',
      'features/security', 'kinds', 'python',
    ]);
    expect(files.filter((f) => path.posix.dirname(f) === '.')).toEqual(['index.ts']);
  });

  test('no feature imports another feature (type imports count): what two features share lives in the core', () => {
    const featureOf = (f: string) => /^features\/([^/]+)\//.exec(f)?.[1];
    const crossings = files.filter(featureOf).flatMap((f) => importsOf(f, true)
      .filter((dep) => featureOf(dep) !== undefined && featureOf(dep) !== featureOf(f))
      .map((dep) => `${f} -> ${dep}`));
    expect(crossings).toEqual([]);
    const coreToKinds = files.filter((f) => f.startsWith('core/')).flatMap((f) => importsOf(f, true).filter((d) => d.startsWith('kinds/')).map((d) => `${f} -> ${d}`));
    expect(coreToKinds).toEqual([]);
  });

  test('PythonService only wires: its file stays within 400 lines', () => {
    expect(source.get(fileNamed('python-service.ts'))!.trimEnd().split('\n').length).toBeLessThanOrEqual(400);
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
    expect(importers).toEqual(['core/plus.ts']);
  });

  test('no import cycle even counting type imports: components depend on IPythonApplication, not on PythonService', () => {
    // Type imports count here: they are how a worker, scheduled job or migration Job would
    // depend on the concrete class that builds them (the nine-file circle this replaced).
    const cycles = cyclesOf((f) => importsOf(f, true));
    expect(cycles).toEqual([]);
    const componentFiles = ['python-component.ts', 'python-worker.ts', 'python-cron-job.ts', 'migrations.ts', 'connections.ts'].map(fileNamed);
    expect(componentFiles.filter((f) => importsOf(f, true).includes(fileNamed('python-service.ts')))).toEqual([]);
  });

  test('the rule sets the checks above read are really there (the scan is not empty)', () => {
    expect(importsOf(fileNamed('python-service.ts'))).toEqual(expect.arrayContaining(['core/python-pod-template.ts', 'core/service-identity.ts', 'kinds/resolve.ts']));
    expect(importsOf('features/security/service-security.ts', true)).toEqual(expect.arrayContaining(['features/security/security-policy.ts', 'core/release-order.ts']));
  });
});
