// One measurement in a fresh process: node bench/worker.js <library|handwritten|raw> <N> [template.json]
const path = require('path');
const fs = require('fs');

const [mode, nArg, templateFile] = process.argv.slice(2);
const n = Number(nArg);
const t0 = process.hrtime.bigint();
const { App, Chart } = require('cdk8s');
let build;
if (mode === 'library') {
  const lib = require(path.join(__dirname, '..', 'lib'));
  const { libraryService } = require('./library');
  build = (chart, i) => libraryService(lib, chart, i);
} else if (mode === 'handwritten') {
  const { handwrittenService } = require('./handwritten');
  build = handwrittenService;
} else if (mode === 'raw') {
  const { rawService } = require('./raw');
  const template = JSON.parse(fs.readFileSync(templateFile, 'utf8'));
  build = (chart, i) => rawService(chart, i, template);
} else if (mode === 'template') {
  writeTemplate(templateFile);
  process.exit(0);
} else {
  throw new Error(`unknown mode ${mode}`);
}
const t1 = process.hrtime.bigint();
const app = new App({ outdir: '/dev/null' });
const chart = new Chart(app, 'bench', { namespace: 'bench' });
for (let i = 0; i < n; i++) build(chart, i);
// BENCH_LIVE (with node --expose-gc): the heap that stays after full collections, which unlike
// the peak does not depend on when the runtime chooses to collect. The collections change the
// timings and the peak, so those come from other processes.
const liveMb = () => {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed / 1048576;
};
const t2 = process.hrtime.bigint();
const liveAfterConstructMb = process.env.BENCH_LIVE ? liveMb() : undefined;
const yaml = app.synthYaml();
const t3 = process.hrtime.bigint();
const ms = (a, b) => Number(b - a) / 1e6;
const out = {
  mode, n, requireMs: ms(t0, t1), constructMs: ms(t1, t2), synthMs: ms(t2, t3), workMs: ms(t1, t3), maxRssKb: process.resourceUsage().maxRSS, bytes: yaml.length,
  liveAfterConstructMb,
};
if (process.env.BENCH_DUMP) fs.writeFileSync(process.env.BENCH_DUMP, yaml);
process.stdout.write(JSON.stringify(out));

/** The raw floor's template: every object of library service 0, with its construct path. */
function writeTemplate(file) {
  const { ApiObject, DependencyGraph } = require('cdk8s');
  const lib = require(path.join(__dirname, '..', 'lib'));
  const { libraryService } = require('./library');
  const app = new App({ outdir: '/dev/null' });
  const chart = new Chart(app, 'bench', { namespace: 'bench' });
  libraryService(lib, chart, 0);
  // In the order the chart emits them (dependencies first), which is the order raw creates them.
  const template = new DependencyGraph(chart.node).topology().filter((c) => c instanceof ApiObject).map((obj) => {
    const relative = obj.node.path.split('/').slice(1);
    const json = obj.toJson();
    const pod = json.spec && json.spec.template && json.spec.template.metadata;
    if (pod && pod.labels && pod.labels['cdk8s.io/metadata.addr']) {
      pod.labels['cdk8s.io/metadata.addr'] = `ADDR:${relative.slice(1, -1).join('/')}`;
    }
    return { path: relative, text: JSON.stringify(json) };
  });
  fs.writeFileSync(file, JSON.stringify(template));
}
