import { KUBERNETES_VERSIONS, ManifestValidator, strictify } from './support/schema-validator';

// The strict validator is itself under test: a checker that accepts everything would let every
// other test pass for nothing.
describe.each(KUBERNETES_VERSIONS)('strict schema validation, Kubernetes %s', (version) => {
  const validator = ManifestValidator.forVersion(version);
  const service = () => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80, targetPort: 'http' }] } });

  test('accepts a valid object', () => {
    expect(validator.errorsOf(service())).toEqual([]);
  });

  test('rejects an unknown field', () => {
    const svc: any = service();
    svc.spec.ports[0].targetPorts = 8080;
    expect(validator.errorsOf(svc)).toEqual(['/spec/ports/0 must NOT have additional properties (targetPorts)']);
  });

  test('rejects a wrong type', () => {
    const svc: any = service();
    svc.spec.ports[0].port = '80';
    expect(validator.errorsOf(svc).join()).toMatch(/port must be integer/);
  });

  test('rejects an unknown kind', () => {
    expect(validator.errorsOf({ apiVersion: 'backup.example.com/v1', kind: 'Backup' })).toEqual([
      `backup.example.com/v1/Backup is not a kind known to Kubernetes ${version} or to the CRDs in shared/crds`,
    ]);
  });

  test('understands the Go regular expressions of CRD patterns, such as (?i)', () => {
    const rule = (strategy: string) => ({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'r' },
      spec: { groups: [{ name: 'g', partial_response_strategy: strategy, rules: [] }] },
    });
    expect(validator.errorsOf(rule('ABORT'))).toEqual([]);
    expect(validator.errorsOf(rule('ignore')).join()).toMatch(/partial_response_strategy must match pattern/);
  });

  test('validates custom resources against their CRD', () => {
    expect(validator.errorsOf({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'm' },
      spec: { selector: {}, endpoints: [{ port: 'http', scheme: 'gopher' }] },
    }).join()).toMatch(/scheme must be equal to one of the allowed values/);
  });
});

describe('strictify', () => {
  test('closes object schemas but leaves preserve-unknown-fields and combinator members open', () => {
    expect(strictify({ type: 'object', properties: { a: { type: 'string' } } }).additionalProperties).toBe(false);
    expect(strictify({ 'type': 'object', 'properties': {}, 'x-kubernetes-preserve-unknown-fields': true }).additionalProperties).toBeUndefined();
    expect(strictify({ allOf: [{ properties: { a: {} } }] }).allOf[0].additionalProperties).toBeUndefined();
  });

  test('maps int-or-string and nullable', () => {
    expect(strictify({ 'type': 'string', 'x-kubernetes-int-or-string': true }).anyOf).toEqual([{ type: 'integer' }, { type: 'string' }]);
    expect(strictify({ type: 'string', nullable: true }).type).toEqual(['string', 'null']);
  });
});

describe('Kubernetes version differences are real', () => {
  test('ValidatingAdmissionPolicy v1 exists in 1.35 but not in 1.28', () => {
    expect(ManifestValidator.forVersion('1.35').knows('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy')).toBe(true);
    expect(ManifestValidator.forVersion('1.28').knows('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy')).toBe(false);
  });
});
