import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as cdk8s from 'cdk8s';
import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import * as ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import * as library from '../src';
import { GranianInterface, PythonServer, PythonService } from '../src';
import { synthExampleWithCli } from './support/cluster-apps';
import { appContainer, envOf, expectStrictlyValid, Manifest } from './support/manifests';
import { PodView, reachable, workloadPods } from './support/network-policy-evaluator';

const README = fs.readFileSync(path.resolve(__dirname, '..', 'README.md'), 'utf8');

/** The fenced block after each `<!-- <marker>: <name> -->` line, by name. */
function markedBlocks(marker: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const [, name, text] of README.matchAll(new RegExp(`<!-- ${marker}: (\\S+) -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\`\`\`\\n`, 'g'))) blocks.set(name, text);
  return blocks;
}

/**
 * Where an excerpt differs from the real value, as paths; empty when every field it shows is there
 * as shown. A list item `...` stands for any number of left-out items (the others keep their order);
 * a list without one must match item for item.
 */
function excerptDifferences(excerpt: unknown, real: unknown, at = ''): string[] {
  if (Array.isArray(excerpt)) {
    if (!Array.isArray(real)) return [`${at}: not a list in the output`];
    const shown = excerpt.filter((item) => item !== '...');
    if (shown.length === excerpt.length) {
      if (real.length !== excerpt.length) return [`${at}: ${real.length} items in the output, ${excerpt.length} shown without "..."`];
      return excerpt.flatMap((item, i) => excerptDifferences(item, real[i], `${at}[${i}]`));
    }
    // Subsequence: each shown item matches a later item of the output than the one before.
    let from = 0;
    for (const item of shown) {
      const found = real.findIndex((r, i) => i >= from && excerptDifferences(item, r).length === 0);
      if (found < 0) return [`${at}: ${JSON.stringify(item)} is not in the output after item ${from}`];
      from = found + 1;
    }
    return [];
  }
  if (excerpt !== null && typeof excerpt === 'object') {
    if (real === null || typeof real !== 'object' || Array.isArray(real)) return [`${at}: not a map in the output`];
    return Object.entries(excerpt).flatMap(([k, v]) => excerptDifferences(v, (real as any)[k], at ? `${at}.${k}` : k));
  }
  return excerpt === real ? [] : [`${at}: ${JSON.stringify(excerpt)} shown, ${JSON.stringify(real)} in the output`];
}

/** The example block named `name`. */
function exampleBlock(name: string): string {
  const block = markedBlocks('example').get(name);
  if (block === undefined) throw new Error(`README: no <!-- example: ${name} --> block`);
  return block;
}

/** The files the comment after `app.synth();` names. */
function filesNamedIn(source: string): string[] {
  return /app\.synth\(\); \/\/ (.*)$/m.exec(source)![1].match(/dist\/[\w.-]+\.k8s\.yaml/g)!.map((f) => f.slice('dist/'.length)).sort();
}

/** Runs a README example against the library's source; returns the files its `app.synth()` writes. */
function runExample(source: string): { files: { [name: string]: string } } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-example-'));
  const previous = process.env.CDK8S_OUTDIR;
  process.env.CDK8S_OUTDIR = outdir;
  try {
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const modules: { [name: string]: unknown } = { 'cdk8s': cdk8s, 'cdk8s-python-service': library };
    new Function('require', 'exports', js)((name: string) => modules[name], {});
    return { files: Object.fromEntries(fs.readdirSync(outdir).sort().map((f) => [f, fs.readFileSync(path.join(outdir, f), 'utf8')])) };
  } finally {
    if (previous === undefined) delete process.env.CDK8S_OUTDIR; else process.env.CDK8S_OUTDIR = previous;
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

describe('the README shows what the library writes', () => {
  test('the excerpt checker is strict: a changed value, a missing field and a reordered list are differences', () => {
    const real = { a: { b: 1, c: [1, 2, 3] } };
    expect(excerptDifferences({ a: { c: ['...', 2, 3] } }, real)).toEqual([]);
    expect(excerptDifferences({ a: { b: 2 } }, real)).toEqual(['a.b: 2 shown, 1 in the output']);
    expect(excerptDifferences({ a: { d: 1 } }, real)).toEqual(['a.d: 1 shown, undefined in the output']);
    expect(excerptDifferences({ a: { c: [3, 2, '...'] } }, real)).toEqual(['a.c: 2 is not in the output after item 3']);
    expect(excerptDifferences({ a: { c: [1, 2] } }, real)).toEqual(['a.c: 3 items in the output, 2 shown without "..."']);
  });

  test('the article mapping\'s YAML excerpt is in the synthesized example app, field for field', () => {
    const [[file, excerpt]] = [...markedBlocks('excerpt-of')];
    expect(file).toBe('examples/dist/shop.k8s.yaml');
    const output = synthExampleWithCli().manifests;
    const documents = parseAllDocuments(excerpt).map((d) => d.toJS() as Manifest);
    expect(documents.map((d) => d.kind)).toEqual(['Deployment', 'Schedule']);
    for (const shown of documents) {
      const real = output.find((m) => m.kind === shown.kind && m.metadata.name === shown.metadata.name);
      expect({ object: `${shown.kind}/${shown.metadata.name}`, differences: real ? excerptDifferences(shown, real) : ['not in the output'] })
        .toEqual({ object: `${shown.kind}/${shown.metadata.name}`, differences: [] });
    }
  });

  test('the Python servers table gives each preset\'s command as rendered, up to its "..."', () => {
    const table = README.slice(README.indexOf('<!-- server-commands -->'));
    const row = (preset: string) => new RegExp(`^\\| \`${preset.replace(/[(){}.]/g, '\\$&')}\` \\| \`([^\`]+)\` \\|`, 'm').exec(table)?.[1];
    const rendered = (server: PythonServer) => {
      const chart = new Chart(Testing.app(), 'c', { namespace: 'n' });
      new PythonService(chart, 'a', { image: 'ghcr.io/acme/a:1.0', server, port: 8080 });
      return Testing.synth(chart).find((m) => m.kind === 'Deployment')!.spec.template.spec.containers[0].command.join(' ');
    };
    for (const [preset, server, app] of [
      ['PythonServer.gunicorn({ app })', PythonServer.gunicorn({ app: 'shop.wsgi:application' }), 'shop.wsgi:application'],
      ['PythonServer.uvicorn({ app })', PythonServer.uvicorn({ app: 'api.main:app' }), 'api.main:app'],
      ['PythonServer.granian({ app, interface })', PythonServer.granian({ app: 'api.main:app', interface: GranianInterface.ASGI }), 'api.main:app'],
    ] as const) {
      const shown = row(preset);
      expect({ preset, shown: shown !== undefined }).toEqual({ preset, shown: true });
      const prefix = shown!.replace(/ \.\.\.$/, '').replace('<app>', app).replace('<port>', '8080').replace('<interface>', 'asgi').replace('<workers>', '1');
      expect(rendered(server).startsWith(prefix)).toBe(true);
    }
  });

  test('the platform chart example writes the files its comment names, in the order to apply them', () => {
    const source = exampleBlock('platform-chart');
    const { files } = runExample(source);
    expect(Object.keys(files)).toEqual(filesNamedIn(source));
    expect(Object.keys(files)).toEqual(['0000-platform.k8s.yaml', '0001-shop.k8s.yaml']);
  });

  describe('the Connections example', () => {
    const source = exampleBlock('connections');
    const { files } = runExample(source);
    const manifests = Object.values(files).flatMap((text) => parseAllDocuments(text).map((d) => d.toJS() as Manifest).filter(Boolean));
    const pods = workloadPods(manifests);
    const pod = (what: string) => pods.find((p) => p.what === what)!;

    test('writes the files its comment names, valid against the strict schemas and the CRDs', () => {
      expect(Object.keys(files)).toEqual(filesNamedIn(source));
      expectStrictlyValid(manifests);
    });

    test('storefront reaches pricing on its container port, and does not without connectTo', () => {
      expect(reachable(manifests, pod('Deployment/storefront'), pod('Deployment/pricing'), 8080)).toBe(true);
      expect(envOf(appContainer(manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === 'storefront')!)).PRICING_URL).toBe('http://pricing.web.svc:80');
      const without = runExample(source.replace(/^storefront\.connectTo\(.*\n/m, '')).files;
      const unconnected = Object.values(without).flatMap((text) => parseAllDocuments(text).map((d) => d.toJS() as Manifest).filter(Boolean));
      const unconnectedPods = workloadPods(unconnected);
      expect(reachable(unconnected, unconnectedPods.find((p) => p.what === 'Deployment/storefront')!, unconnectedPods.find((p) => p.what === 'Deployment/pricing')!, 8080)).toBe(false);
    });

    test('every component of the Django app reaches its database and broker, and nothing else there', () => {
      const database: PodView = { what: 'db', namespace: 'shop', labels: { 'cnpg.io/cluster': 'shop-db' } };
      const redis: PodView = { what: 'redis', namespace: 'redis', labels: { 'app.kubernetes.io/name': 'redis' } };
      const shopPods = pods.filter((p) => p.namespace === 'shop');
      expect(shopPods).toHaveLength(5);
      for (const from of shopPods) {
        expect({ from: from.what, db: reachable(manifests, from, database, 5432), redis: reachable(manifests, from, redis, 6379) }).toEqual({ from: from.what, db: true, redis: true });
        expect({ from: from.what, other: reachable(manifests, from, { what: 'x', namespace: 'redis', labels: { app: 'other' } }, 6379) }).toEqual({ from: from.what, other: false });
      }
    });
  });

  describe('every TypeScript block runs against the library as written', () => {
    // Blocks are whole programs (they import), prop fragments (`expose: ...`), or statements on the
    // names the README's examples use (app, chart, broker, api, web). The quick starts and the
    // snapshot-test block run elsewhere (consumer and Python package tests, a user's jest).
    const blocks = [...README.matchAll(/(<!-- [^>]+ -->\n)?```ts\n([\s\S]*?)```\n/g)]
      .filter(([, marker, text]) => !marker?.includes('quickstart-') && !/^\s*test\(/m.test(text))
      .map(([, , text]) => text);
    const names = Object.keys(library).filter((n) => n !== 'default');
    // What a block refers to without defining it, defined as the README's examples do.
    const DEFINITIONS: Array<[string, string]> = [
      ['app', 'const app = cdk8s.Testing.app();'],
      ['chart', "const chart = new cdk8s.Chart(app, 'readme', { namespace: 'shop' });"],
      ['broker', "const broker = new kplus.Secret(chart, 'Broker', { metadata: { name: 'broker' }, stringData: { url: 'redis://redis:6379/0' } });"],
      ['api', "const api = new PythonService(chart, 'api', { image: 'ghcr.io/acme/shop-api:1.4.2', server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }) });"],
      ['web', "const web = new PythonService(chart, 'shop', { image: 'ghcr.io/acme/shop:1.4.2' });"],
    ];
    const preludeFor = (block: string) => {
      const needed = new Set<string>();
      const need = (name: string) => {
        if (needed.has(name) || new RegExp(`const ${name}\\b`).test(block)) return;
        if (name !== 'app') need(name === 'chart' ? 'app' : 'chart');
        needed.add(name);
      };
      for (const [name] of DEFINITIONS) if (new RegExp(`\\b${name}\\b`).test(block)) need(name);
      return DEFINITIONS.filter(([name]) => needed.has(name)).map(([, line]) => line).join('\n');
    };

    test('there are blocks of each form', () => {
      expect(blocks.filter((b) => /^import /m.test(b) && /app\.synth\(\)/.test(b)).length).toBeGreaterThanOrEqual(2);
      expect(blocks.filter((b) => /^[a-zA-Z]+: /.test(b)).length).toBeGreaterThanOrEqual(2);
    });

    test.each(blocks.map((b) => [b.split('\n')[0], b] as const))('%s', (_first, block) => {
      let body: string;
      if (/^import /m.test(block) && /app\.synth\(\)/.test(block)) body = block;
      else if (/^[a-zA-Z]+: /.test(block)) body = `${preludeFor('chart')}\nnew PythonService(chart, 'fragment', { image: 'ghcr.io/acme/shop:1.4.2',\n${block}\n});\ncdk8s.Testing.synth(chart);`;
      else body = `${preludeFor(block)}\n${block}\n${/\bchart\b/.test(block) ? 'cdk8s.Testing.synth(chart);' : ''}`;
      const written: string[] = [];
      const fakeFs = { writeFileSync: (file: string) => { written.push(file); } };
      const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-block-'));
      const previous = process.env.CDK8S_OUTDIR;
      process.env.CDK8S_OUTDIR = outdir;
      try {
        const js = ts.transpileModule(body, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
        const modules: { [name: string]: unknown } = { 'cdk8s': cdk8s, 'cdk8s-plus-28': kplus, 'cdk8s-python-service': library, 'fs': fakeFs };
        new Function('require', 'exports', 'cdk8s', 'kplus', 'App', 'Chart', 'Duration', 'Size', ...names, js)(
          (name: string) => modules[name], {}, cdk8s, kplus, cdk8s.App, cdk8s.Chart, cdk8s.Duration, cdk8s.Size, ...names.map((n) => (library as any)[n]));
      } finally {
        if (previous === undefined) delete process.env.CDK8S_OUTDIR; else process.env.CDK8S_OUTDIR = previous;
        fs.rmSync(outdir, { recursive: true, force: true });
      }
    });
  });

  test('the build outputs the quick starts name are the ones projen\'s package tasks write', () => {
    // jsii-pacmak names the JavaScript tarball <name>@<version>.jsii.tgz; npm pack names it <name>-<version>.tgz.
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'package.json'), 'utf8'));
    expect(README).toContain(`dist/js/${pkg.name}@${pkg.version}.jsii.tgz`);
    expect(README).toContain(`as \`${pkg.name}-${pkg.version}.tgz\``);
    expect(README).not.toMatch(new RegExp(`dist/js/${pkg.name}-${pkg.version.replace(/\./g, '\\.')}\\.tgz`));
  });
});
