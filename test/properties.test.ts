import { App, Chart } from 'cdk8s';
import * as fc from 'fast-check';
import { AdmissionPolicyApiVersion, PythonService, PythonServiceProps } from '../src';
import { corruption, validProps } from './support/arbitraries';
import { evaluatePolicy } from './support/cel';
import { allOf, crossObjectProblems, Manifest, podTemplateOf, strictProblems } from './support/manifests';
import { KubernetesVersion } from './support/schema-validator';

/** Cases per property; PROPERTY_RUNS=20000 for a longer hunt. */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 1000);

function synthesize(props: PythonServiceProps): Manifest[] {
  const app = new App({ outdir: '/dev/null' });
  const chart = new Chart(app, 'prop', { namespace: 'prop-ns' });
  new PythonService(chart, 'svc', props);
  // Run the construct validations (the security self-check) as `cdk8s synth` does.
  const errors = app.node.findAll().flatMap((c) => c.node.validate());
  if (errors.length > 0) throw new Error(`Validation failed with the following errors:\n  ${errors.join('\n  ')}`);
  return app.charts.flatMap((c) => c.toJson());
}

/** ServiceMonitors select one Service whose ports include the endpoint port. */
function monitoringProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  for (const sm of allOf(manifests, 'ServiceMonitor')) {
    const services = allOf(manifests, 'Service').filter((svc) => Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels?.[k] === v));
    if (services.length !== 1) problems.push(`ServiceMonitor selects ${services.length} Services`);
    else if (!services[0].spec.ports.some((p: any) => p.name === sm.spec.endpoints[0].port)) problems.push('ServiceMonitor port missing on the Service');
  }
  return problems;
}

/** The admission policy admits every workload (and pod) of the chart. */
function admissionProblems(manifests: Manifest[]): string[] {
  // The service's own policy and the namespace's: both must admit everything the chart runs.
  const policies = manifests.filter((m) => m.kind === 'ValidatingAdmissionPolicy' || m.kind === 'NamespacedValidatingPolicy');
  const problems: string[] = [];
  for (const w of manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'Job')) {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: podTemplateOf(w)!.metadata, spec: podTemplateOf(w)!.spec };
    for (const input of [w, pod]) {
      for (const policy of policies) {
        const decision = evaluatePolicy(policy.spec, input);
        if (!decision.allowed) problems.push(`${input.kind} ${w.metadata.name} not admitted by ${policy.metadata.name}: ${decision.message ?? decision.error}`);
      }
    }
  }
  return problems;
}

describe('properties', () => {
  test(`any valid props synthesize objects a cluster accepts (${RUNS} cases)`, () => {
    fc.assert(fc.property(validProps, (props) => {
      const manifests = synthesize(props);
      // Output for 1.28/1.29 (VAP v1beta1) must fit 1.28 as well as 1.35.
      const releases: KubernetesVersion[] = props.security?.admissionApiVersion === AdmissionPolicyApiVersion.V1BETA1 ? ['1.28', '1.35'] : ['1.35'];
      const problems = [...strictProblems(manifests, releases), ...crossObjectProblems(manifests), ...monitoringProblems(manifests), ...admissionProblems(manifests)];
      if (problems.length > 0) throw new Error(problems.join('\n'));
    }), { numRuns: RUNS });
  });

  test(`any single invalid prop fails with an error naming the construct and the prop, never a TypeError (${RUNS} cases)`, () => {
    fc.assert(fc.property(validProps, corruption, (props, c) => {
      let error: unknown;
      try {
        synthesize(c.apply(props));
      } catch (e) {
        error = e;
      }
      if (!(error instanceof Error)) throw new Error(`corrupting ${c.prop} did not fail`);
      if (error instanceof TypeError || error.constructor !== Error) throw new Error(`corrupting ${c.prop} gave ${error.constructor.name}: ${error.message}`);
      if (!error.message.startsWith("PythonService 'svc': ")) throw new Error(`the error does not name the construct: ${error.message}`);
      const named = error.message.includes(c.prop) || (c.prop === 'image' && error.message.includes('image'));
      if (!named) throw new Error(`the error for ${c.prop} does not name it: ${error.message}`);
    }), { numRuns: RUNS });
  });
});
