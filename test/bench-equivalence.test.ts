import { App, Chart } from 'cdk8s';
import * as lib from '../src';

// The benchmark compares the library with the same objects written by hand; this keeps the two
// honest: they must synthesize byte-identical YAML. (bench/run.js also checks the raw floor.)
/* eslint-disable @typescript-eslint/no-require-imports */
const { handwrittenService } = require('../bench/handwritten.js');
const { libraryService } = require('../bench/library.js');
/* eslint-enable @typescript-eslint/no-require-imports */

function yamlOf(build: (chart: Chart, i: number) => void): string {
  const app = new App({ outdir: '/dev/null' });
  const chart = new Chart(app, 'bench', { namespace: 'bench' });
  for (let i = 0; i < 3; i++) build(chart, i);
  return app.synthYaml();
}

test('the benchmark\'s hand-written cdk8s-plus-28 services equal the library\'s, byte for byte', () => {
  const library = yamlOf((chart, i) => libraryService(lib, chart, i));
  expect(library.length).toBeGreaterThan(60_000);
  expect(yamlOf(handwrittenService)).toBe(library);
});
