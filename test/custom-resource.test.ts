import { App, Chart, Lazy } from 'cdk8s';
import { customResource, plainJson } from '../src/core/custom-resource';
import * as monitoring from '../src/imports/monitoring.coreos.com';

describe('plainJson: typed custom-resource props as JSON', () => {
  test('drops undefined values at every depth and copies arrays and objects', () => {
    const props = { a: 1, b: undefined, c: { d: undefined, e: [{ f: 'x', g: undefined }] } };
    const copy = plainJson(props) as any;
    expect(copy).toEqual({ a: 1, c: { e: [{ f: 'x' }] } });
    expect(Object.keys(copy)).toEqual(['a', 'c']);
    expect(copy.c.e).not.toBe(props.c.e);
  });

  test('a generated union class becomes its value, as the generated toJson does', () => {
    const rule = { alert: 'Down', expr: monitoring.PrometheusRuleSpecGroupsRulesExpr.fromString('up == 0'), for: '5m' };
    expect(plainJson(rule)).toEqual(monitoring.toJson_PrometheusRuleSpecGroupsRules(rule));
    expect(plainJson({ port: monitoring.ServiceMonitorSpecEndpointsTargetPort.fromNumber(9090) })).toEqual({ port: 9090 });
  });

  test('a cdk8s token is kept for cdk8s to resolve', () => {
    const token = Lazy.any({ produce: () => 'later' });
    expect((plainJson({ spec: { value: token } }) as any).spec.value).toBe(token);
  });
});

describe('every custom resource of the test suite is checked against its generated converter', () => {
  test('a converter that renames a field fails the test that builds it', () => {
    const chart = new Chart(new App(), 'test');
    const renaming = (props: { keepFiringFor?: string }) => ({ keep_firing_for: props.keepFiringFor });
    expect(() => customResource(chart, 'Rule', { apiVersion: 'example.com/v1', kind: 'Rule' }, renaming, { keepFiringFor: '5m' }))
      .toThrow('the library\'s copy differs from the generated renaming for Rule \'Rule\'');
  });
});
