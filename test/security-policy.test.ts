import { ApiObject, App, Chart, JsonPatch, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import {
  AdmissionEngine, AdmissionPolicyApiVersion, DnsEgress, Exposure, NetworkProtocol, PodSecurityLevel, PodSecurityNamespace, PolicyEnforcement, PreStopMethod, PythonServer,
  PythonService, PythonServiceProps, PythonServiceSecurity, SecurityPolicy, WorkerProcess,
} from '../src';
import { evaluatePolicy, staticTypeOf } from './support/cel';
import { allOf, crossObjectProblems, expectStrictlyValid, Manifest, namespacePolicy, only, podTemplateOf, releasesServing, selects, servicePolicy, synth } from './support/manifests';
import { deepCopy, podMetadataOf, podSpecOf, TAMPERINGS } from './support/tamperings';
import { admissionRules } from '../src/features/security/admission';
import { restrictedViolations } from '../src/features/security/pod-security-standards';

const IMAGE = 'registry.example.com/shop/api:1.4.2';
const SECURITY = { allowedImages: ['registry.example.com/shop/'] };

/** A destination of egress traffic, as a NetworkPolicy implementation sees it. */
interface Destination {
  namespace?: string;
  podLabels?: { [key: string]: string };
  /** hostNetwork pods are matched by IP only, never by pod or namespace selectors. */
  hostNetwork?: boolean;
  ip: string;
  port: number;
  protocol: string;
}

function ipv4InCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const toNumber = (a: string) => a.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const block = 2 ** (32 - Number(bits));
  return Math.floor(toNumber(ip) / block) === Math.floor(toNumber(base) / block);
}

/** Whether the policy admits egress to `d` (the semantics of networking.k8s.io/v1 for matchLabels selectors). */
function egressAdmits(np: Manifest, d: Destination): boolean {
  return (np.spec.egress as any[]).some((rule) => {
    const portOk = !rule.ports || rule.ports.some((p: any) => p.port === d.port && (p.protocol ?? 'TCP') === d.protocol);
    const peerOk = !rule.to || rule.to.some((peer: any) => {
      if (peer.ipBlock) return ipv4InCidr(d.ip, peer.ipBlock.cidr);
      if (d.hostNetwork) return false;
      const nsOk = peer.namespaceSelector
        ? selects(peer.namespaceSelector.matchLabels ?? {}, { 'kubernetes.io/metadata.name': d.namespace! })
        : d.namespace === np.metadata.namespace;
      return nsOk && (!peer.podSelector || selects(peer.podSelector.matchLabels ?? {}, d.podLabels ?? {}));
    });
    return portOk && peerOk;
  });
}

function build(props: Partial<PythonServiceProps> = {}): { service: PythonService; manifests: Manifest[] } {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  const service = new PythonService(chart, 'api', {
    image: IMAGE,
    server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
    security: SECURITY,
    ...props,
  });
  return { service, manifests: synth(chart) };
}

/** The objects an admission engine sees for a workload: the workload itself and a pod from its template. */
function admissionInputs(manifests: Manifest[]): Manifest[] {
  const workloads = manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'Job');
  const pods = workloads.map((w) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...podTemplateOf(w)!.metadata, name: `${w.metadata.name}-pod`, namespace: w.metadata.namespace },
    spec: podTemplateOf(w)!.spec,
  }));
  return [...workloads, ...pods];
}

describe.each([
  ['ValidatingAdmissionPolicy', AdmissionEngine.VALIDATING_ADMISSION_POLICY],
  ['Kyverno NamespacedValidatingPolicy', AdmissionEngine.KYVERNO],
])('admission through %s', (_title, engine) => {
  const { manifests } = build({ migrations: { command: ['python', 'manage.py', 'migrate'] }, security: { ...SECURITY, admissionEngine: engine } });
  const policy = servicePolicy(manifests);
  const inputs = admissionInputs(manifests);

  test('every validation is statically bool, as the apiserver requires', () => {
    for (const v of policy.spec.validations) expect(staticTypeOf(v.expression)).toBe('bool');
    for (const v of policy.spec.validations.filter((x: any) => x.messageExpression)) expect(staticTypeOf(v.messageExpression)).toBe('string');
  });

  test('admits every workload this chart emits (Deployment, migration Job, and their pods)', () => {
    expect(inputs.map((m) => m.kind)).toEqual(['Deployment', 'Job', 'Pod', 'Pod']);
    for (const input of inputs) expect(evaluatePolicy(policy.spec, input)).toEqual({ allowed: true });
  });

  describe.each(TAMPERINGS)('denies %s', (_what, rule, tamper) => {
    test.each(['Deployment', 'Job', 'Pod'])('in a %s, with a false result (not an error) and a message naming the rule', (kind) => {
      const copy = deepCopy(inputs.find((m) => m.kind === kind)!);
      tamper(copy);
      const decision = evaluatePolicy(policy.spec, copy);
      expect(decision.error).toBeUndefined();
      expect(decision.allowed).toBe(false);
      expect(decision.message).toMatch(new RegExp(`^${rule}: `));
    });
  });

  test('says which image was rejected and why', () => {
    const copy = deepCopy(inputs[0]);
    podSpecOf(copy).containers[0].image = 'docker.io/evil/miner:latest';
    expect(evaluatePolicy(policy.spec, copy).message).toBe('allowed-images: images not allowed: docker.io/evil/miner:latest (allowed: registry.example.com/shop/)');
  });

  test('the TypeScript self-check agrees with the CEL on every tampered copy', () => {
    const rules = admissionRules({ allowedImages: SECURITY.allowedImages, allowedVolumes: ['prometheus-multiproc', 'tmp', 'worker-tmp'], level: PodSecurityLevel.RESTRICTED });
    for (const [, ruleName, tamper] of TAMPERINGS) {
      const copy = deepCopy(inputs[0]);
      tamper(copy);
      const failing = rules.filter((r) => r.check(podSpecOf(copy), podMetadataOf(copy).annotations).length > 0).map((r) => r.name);
      expect({ ruleName, failing }).toEqual({ ruleName, failing: expect.arrayContaining([ruleName]) });
      // Every Pod Security rule is also a finding of the Pod Security Standards check itself.
      if (!['allowed-images', 'allowed-volumes'].includes(ruleName)) {
        expect({ ruleName, pss: restrictedViolations(podSpecOf(copy), podMetadataOf(copy).annotations).length > 0 }).toEqual({ ruleName, pss: true });
      }
    }
    for (const input of inputs) expect(rules.flatMap((r) => r.check(podSpecOf(input), podMetadataOf(input).annotations))).toEqual([]);
  });

  test('is strictly valid', () => {
    expectStrictlyValid(manifests);
    expect(crossObjectProblems(manifests)).toEqual([]);
  });
});

describe('ValidatingAdmissionPolicy objects', () => {
  const { manifests } = build();
  const policy = servicePolicy(manifests);
  const binding = only(manifests, 'ValidatingAdmissionPolicyBinding', 'shop-api-policy');

  test('admissionregistration.k8s.io/v1 by default, valid on 1.35 (GA since 1.30)', () => {
    expect(policy.apiVersion).toBe('admissionregistration.k8s.io/v1');
    expect(releasesServing(policy)).toEqual(['1.35']);
  });

  test('cluster-scoped, named with the namespace, failing closed', () => {
    expect(policy.metadata.name).toBe('shop-api-policy');
    expect(policy.metadata.namespace).toBeUndefined();
    expect(binding.metadata.namespace).toBeUndefined();
    expect(policy.spec.failurePolicy).toBe('Fail');
  });

  test('applies to this service\'s pods and every controller that creates them, ephemeral containers included', () => {
    expect(policy.spec.matchConstraints.objectSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'api', 'app.kubernetes.io/instance': 'api' } });
    expect(policy.spec.matchConstraints.resourceRules.map((r: any) => [r.operations.join(','), ...r.resources])).toEqual([
      ['CREATE,UPDATE', 'deployments', 'replicasets', 'statefulsets', 'daemonsets'],
      ['CREATE,UPDATE', 'jobs', 'cronjobs'],
      ['CREATE,UPDATE', 'pods'],
      ['UPDATE', 'pods/ephemeralcontainers'],
    ]);
  });

  test('the binding is scoped to the app namespace and denies', () => {
    expect(binding.spec).toEqual({
      policyName: 'shop-api-policy',
      validationActions: ['Deny'],
      matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } },
    });
  });

  test('v1beta1 for Kubernetes 1.28/1.29: with the interpreter preStop pause, the whole output is valid on 1.28', () => {
    const beta = build({ security: { ...SECURITY, admissionApiVersion: AdmissionPolicyApiVersion.V1BETA1 }, shutdown: { preStopMethod: PreStopMethod.PYTHON_EXEC } }).manifests;
    const p = servicePolicy(beta);
    expect(p.apiVersion).toBe('admissionregistration.k8s.io/v1beta1');
    expect(releasesServing(p)).toEqual(['1.28']);
    expectStrictlyValid(beta, ['1.28', '1.35']);
  });

  test('audit enforcement audits and warns instead of denying', () => {
    const audit = only(build({ security: { ...SECURITY, enforcement: PolicyEnforcement.AUDIT } }).manifests, 'ValidatingAdmissionPolicyBinding', 'shop-api-policy');
    expect(audit.spec.validationActions).toEqual(['Audit', 'Warn']);
  });
});

describe('Kyverno NamespacedValidatingPolicy', () => {
  const { manifests } = build({ security: { ...SECURITY, admissionEngine: AdmissionEngine.KYVERNO, enforcement: PolicyEnforcement.AUDIT } });
  const policy = servicePolicy(manifests);

  test('policies.kyverno.io/v1 in the app namespace, never the deprecated kyverno.io/v1 kinds', () => {
    expect(policy.apiVersion).toBe('policies.kyverno.io/v1');
    expect(policy.metadata).toMatchObject({ name: 'api-policy', namespace: 'shop' });
    expect(manifests.some((m) => m.apiVersion.startsWith('kyverno.io/'))).toBe(false);
    expect(allOf(manifests, 'ValidatingAdmissionPolicy')).toEqual([]);
  });

  test('carries the enforcement and fails closed', () => {
    expect(policy.spec.validationActions).toEqual(['Audit', 'Warn']);
    expect(policy.spec.failurePolicy).toBe('Fail');
  });
});

describe('network policies with security', () => {
  test('default-deny with explicit allows: the app port from the namespace, DNS and declared egress', () => {
    const { manifests } = build({
      monitoring: {},
      security: { ...SECURITY, egressTo: [{ peers: [{ cidr: '10.20.0.0/16' }], ports: [{ port: 5432 }] }] },
    });
    const np = only(manifests, 'NetworkPolicy', 'api-netpol');
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toEqual([
      { from: [{ podSelector: {} }], ports: [{ port: 8080, protocol: 'TCP' }] },
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 8080, protocol: 'TCP' }] },
    ]);
    const kubeSystem = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } };
    expect(np.spec.egress).toEqual([
      {
        to: [
          { ...kubeSystem, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
          { ...kubeSystem, podSelector: { matchLabels: { 'k8s-app': 'node-local-dns' } } },
          { ...kubeSystem, podSelector: { matchLabels: { 'k8s-app': 'nodelocaldns' } } },
          { ipBlock: { cidr: '169.254.20.10/32' } },
          { ipBlock: { cidr: '169.254.25.10/32' } },
        ],
        ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }],
      },
      { to: [{ ipBlock: { cidr: '10.20.0.0/16' } }], ports: [{ port: 5432, protocol: 'TCP' }] },
    ]);
    expectStrictlyValid(manifests);
  });

  describe('DNS on the clusters people run', () => {
    const egressOf = (security: Partial<PythonServiceSecurity>) => only(build({ security: { ...SECURITY, ...security } }).manifests, 'NetworkPolicy', 'api-netpol');
    const byDefault = egressOf({});
    const query = (port = 53) => [{ port, protocol: 'UDP' }, { port, protocol: 'TCP' }];

    test('CoreDNS/kube-dns pods answer', () => {
      for (const q of query()) expect(egressAdmits(byDefault, { namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' }, ip: '10.244.1.5', ...q })).toBe(true);
    });

    test('NodeLocal DNSCache (hostNetwork: only its link-local address can match), upstream and kubespray addresses', () => {
      for (const ip of ['169.254.20.10', '169.254.25.10']) {
        for (const q of query()) expect(egressAdmits(byDefault, { hostNetwork: true, ip, ...q })).toBe(true);
      }
      expect(egressAdmits(byDefault, { namespace: 'kube-system', podLabels: { 'k8s-app': 'node-local-dns' }, ip: '10.0.0.4', port: 53, protocol: 'UDP' })).toBe(true);
    });

    test('iptables mode with NodeLocal DNSCache answers on the kube-dns Service IP: admitted once given', () => {
      const answer = { hostNetwork: true, ip: '10.96.0.10', port: 53, protocol: 'UDP' };
      expect(egressAdmits(byDefault, answer)).toBe(false);
      expect(egressAdmits(egressOf({ dns: DnsEgress.kubeDns({ serviceIp: '10.96.0.10' }) }), answer)).toBe(true);
    });

    test('OpenShift DNS listens on 5353 in openshift-dns', () => {
      const pod = { namespace: 'openshift-dns', podLabels: { 'dns.operator.openshift.io/daemonset-dns': 'default' }, ip: '10.128.0.10' };
      expect(egressAdmits(byDefault, { ...pod, port: 5353, protocol: 'UDP' })).toBe(false);
      const openShift = egressOf({ dns: DnsEgress.openShift() });
      for (const q of query(5353)) expect(egressAdmits(openShift, { ...pod, ...q })).toBe(true);
    });

    test('custom peers replace the default', () => {
      const custom = egressOf({ dns: DnsEgress.custom([{ peers: [{ cidr: '10.0.0.53/32' }], ports: [{ port: 53, protocol: NetworkProtocol.UDP }] }]) });
      expect(egressAdmits(custom, { ip: '10.0.0.53', port: 53, protocol: 'UDP' })).toBe(true);
      expect(egressAdmits(custom, { namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' }, ip: '10.244.1.5', port: 53, protocol: 'UDP' })).toBe(false);
      expectStrictlyValid([custom]);
    });
  });

  test('ingressFrom narrows who reaches the port', () => {
    const { manifests } = build({ security: { ...SECURITY, ingressFrom: [{ namespaceName: 'frontend', podLabels: { app: 'web' } }] } });
    expect(only(manifests, 'NetworkPolicy', 'api-netpol').spec.ingress).toEqual([{
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'frontend' } }, podSelector: { matchLabels: { app: 'web' } } }],
      ports: [{ port: 8080, protocol: 'TCP' }],
    }]);
  });

  test('exposed through an Ingress or LoadBalancer, the port stays open to all (traffic comes via the controller)', () => {
    for (const expose of [Exposure.ingress({ host: 'shop.example.com' }), Exposure.loadBalancer()]) {
      const ingress = only(build({ expose }).manifests, 'NetworkPolicy', 'api-netpol').spec.ingress;
      expect(ingress).toEqual([{ ports: [{ port: 8080, protocol: 'TCP' }] }]);
    }
  });

  test('the migration Job is held to the same egress', () => {
    const { manifests } = build({ migrations: { command: ['migrate'] }, security: { ...SECURITY, egressTo: [{ peers: [{ cidr: '10.20.0.0/16' }], ports: [{ port: 5432 }] }] } });
    const np = only(manifests, 'NetworkPolicy', 'api-migrate-netpol');
    expect(np.spec.ingress).toBeUndefined();
    expect(np.spec.egress).toHaveLength(2);
  });
});

describe('Pod Security Admission', () => {
  test('opting in emits the namespace labelled restricted for enforce, audit and warn', () => {
    const ns = only(build({ security: { ...SECURITY, podSecurityAdmission: true } }).manifests, 'Namespace');
    expect(ns.metadata).toEqual({
      name: 'shop',
      labels: {
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/audit': 'restricted',
        'pod-security.kubernetes.io/audit-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/warn-version': 'latest',
      },
    });
    expectStrictlyValid([ns]);
  });

  test('two services cannot both emit the namespace', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'api', { image: IMAGE, security: { ...SECURITY, podSecurityAdmission: true } });
    expect(() => new PythonService(chart, 'web', { image: IMAGE, security: { ...SECURITY, podSecurityAdmission: true } }))
      .toThrow(/PythonService 'web': security.podSecurityAdmission true would emit Namespace "shop" a second time \(the PythonService at "shop\/api" already does\)/);
  });

  test('PodSecurityNamespace works alone at any level', () => {
    const chart = Testing.chart();
    new PodSecurityNamespace(chart, 'ns', { name: 'legacy', level: PodSecurityLevel.BASELINE });
    expect(only(synth(chart), 'Namespace').metadata.labels['pod-security.kubernetes.io/enforce']).toBe('baseline');
  });
});

describe('self-check at synth', () => {
  test('a workload changed through an escape hatch to break the policy fails synthesis, listing each violation', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'shop', { namespace: 'shop' });
    const service = new PythonService(chart, 'api', { image: IMAGE, security: SECURITY });
    service.deployment.addVolume(kplus.Volume.fromHostPath(chart, 'host', 'host', { path: '/var/run' }));
    expect(() => app.synth()).toThrow(/Deployment "api" breaks its security policy \(allowed-volumes\): volume "host" is not in the allowed volumes/);
    expect(() => app.synth()).toThrow(/Deployment "api" breaks its security policy \(no-host-path\): volume "host" is a hostPath volume/);
    expect(() => app.synth()).toThrow(/Deployment "api" is not Pod Security "restricted" \(HostPath Volumes\)/);
  });

  test('the documented opt-out lowers the level: baseline admits what only restricted forbids', () => {
    const withEscalation = (level: PodSecurityLevel) => {
      const app = Testing.app();
      const chart = new Chart(app, 'shop', { namespace: 'shop' });
      const service = new PythonService(chart, 'api', { image: IMAGE, security: { ...SECURITY, podSecurityLevel: level } });
      ApiObject.of(service.deployment).addJsonPatch(JsonPatch.replace('/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation', true));
      return { app, chart };
    };
    expect(() => withEscalation(PodSecurityLevel.RESTRICTED).app.synth()).toThrow(/\(no-privilege-escalation\): container "app" allows privilege escalation/);
    const { app, chart } = withEscalation(PodSecurityLevel.BASELINE);
    expect(() => app.synth()).not.toThrow();
    const policy = servicePolicy(synth(chart));
    expect(policy.spec.validations.map((v: any) => v.message.split(':')[0])).toEqual([
      'allowed-images', 'allowed-volumes', 'no-host-path', 'no-host-namespaces', 'not-privileged', 'no-host-process', 'no-host-ports', 'baseline-capabilities',
      'apparmor', 'selinux', 'proc-mount', 'sysctls', 'seccomp',
    ]);
  });

  describe('"baseline" in CEL is all of baseline', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'api', { image: IMAGE, security: { ...SECURITY, podSecurityLevel: PodSecurityLevel.BASELINE } });
    const manifests = synth(chart);
    const policy = servicePolicy(manifests);
    const deployment = only(manifests, 'Deployment');
    const rules = admissionRules({ allowedImages: SECURITY.allowedImages, level: PodSecurityLevel.BASELINE });
    const decide = (tamper: (m: Manifest) => void) => {
      const copy = deepCopy(deployment);
      tamper(copy);
      return { cel: evaluatePolicy(policy.spec, copy), typescript: rules.flatMap((r) => r.check(podSpecOf(copy), podMetadataOf(copy).annotations).map(() => r.name)) };
    };

    test.each([
      ['SYS_ADMIN added', 'baseline-capabilities', (m: Manifest) => { podSpecOf(m).containers[0].securityContext.capabilities.add = ['SYS_ADMIN']; }],
      ['NET_RAW added (not in the baseline set)', 'baseline-capabilities', (m: Manifest) => { podSpecOf(m).containers[0].securityContext.capabilities.add = ['NET_RAW']; }],
      ['seccomp Unconfined on the pod', 'seccomp', (m: Manifest) => { podSpecOf(m).securityContext.seccompProfile = { type: 'Unconfined' }; }],
      ['seccomp Unconfined on a container', 'seccomp', (m: Manifest) => { podSpecOf(m).containers[0].securityContext.seccompProfile = { type: 'Unconfined' }; }],
      ['a host port', 'no-host-ports', (m: Manifest) => { podSpecOf(m).containers[0].ports = [{ containerPort: 8080, hostPort: 80 }]; }],
      ['an unsafe sysctl', 'sysctls', (m: Manifest) => { podSpecOf(m).securityContext.sysctls = [{ name: 'net.core.somaxconn', value: '4096' }]; }],
    ])('denies %s, on both forms', (_what, rule, tamper) => {
      const { cel, typescript } = decide(tamper);
      expect(cel.error).toBeUndefined();
      expect(cel.message).toMatch(new RegExp(`^${rule}: `));
      expect(typescript).toEqual([rule]);
    });

    test.each([
      ['CHOWN added', (m: Manifest) => { podSpecOf(m).containers[0].securityContext.capabilities.add = ['CHOWN']; }],
      ['root', (m: Manifest) => { podSpecOf(m).containers[0].securityContext.runAsUser = 0; podSpecOf(m).securityContext.runAsNonRoot = false; delete podSpecOf(m).containers[0].securityContext.runAsNonRoot; }],
      ['no seccomp profile', (m: Manifest) => { delete podSpecOf(m).containers[0].securityContext.seccompProfile; }],
      ['a safe sysctl', (m: Manifest) => { podSpecOf(m).securityContext.sysctls = [{ name: 'net.ipv4.tcp_keepalive_time', value: '60' }]; }],
    ])('admits %s, which only "restricted" forbids, on both forms', (_what, tamper) => {
      const { cel, typescript } = decide(tamper);
      expect(cel).toEqual({ allowed: true });
      expect(typescript).toEqual([]);
    });
  });

  test('SecurityPolicy alone checks any workload it is given', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'legacy', { namespace: 'legacy' });
    const deployment = new kplus.Deployment(chart, 'web', { containers: [{ image: 'docker.io/library/nginx:1.27', portNumber: 80 }] });
    const policy = new SecurityPolicy(chart, 'policy', { name: 'web', namespace: 'legacy', matchLabels: { app: 'web' }, allowedImages: ['registry.example.com/'] });
    policy.addWorkload(deployment);
    const problems = policy.selfCheck();
    expect(problems).toContainEqual(expect.stringMatching(/breaks its security policy \(allowed-images\): container ".*" image "docker.io\/library\/nginx:1.27" is not allowed/));
    expect(problems).toContainEqual(expect.stringMatching(/is not Pod Security "restricted" \(Capabilities\)/));
  });
});

describe('bad security props', () => {
  const cases: Array<[string, Partial<PythonServiceProps>, RegExp]> = [
    ['an empty allowed-image list', { security: { allowedImages: [] } }, /PythonService 'api': security.allowedImages \[\] must list at least one image prefix/],
    ['a prefix with whitespace', { security: { allowedImages: ['registry.example.com/ shop/'] } }, /security.allowedImages\[0\] "registry.example.com\/ shop\/" must not contain whitespace/],
    ['a prefix with a scheme', { security: { allowedImages: ['https://registry.example.com/shop/'] } }, /security.allowedImages\[0\] "https:\/\/registry.example.com\/shop\/" must not have a scheme/],
    ['an allowlist entry that is no image reference', { security: { allowedImages: ['Registry.example.com/Shop'] } }, /security.allowedImages\[0\] "Registry.example.com\/Shop" must be an exact image reference/],
    ['a repository entry never admits a look-alike', { security: { allowedImages: ['registry.example.com/shop/ap'] } }, /image "registry.example.com\/shop\/api:1.4.2" is not allowed by security.allowedImages/],
    ['an image outside the allowed prefixes', { image: 'docker.io/acme/api:1', security: SECURITY }, /PythonService 'api': image "docker.io\/acme\/api:1" is not allowed by security.allowedImages \(registry.example.com\/shop\/\)/],
    ['a peer with an invalid CIDR', { security: { ...SECURITY, ingressFrom: [{ cidr: '10.0.0.0/40' }] } }, /security.ingressFrom\[0\].peers\[0\].cidr "10.0.0.0\/40" must be an IPv4 or IPv6 CIDR/],
    ['an egress port out of range', { security: { ...SECURITY, egressTo: [{ ports: [{ port: 70000 }] }] } }, /security.egressTo\[0\].ports\[0\].port 70000 must be a whole number from 1 to 65535/],
    ['an empty ingressFrom', { security: { ...SECURITY, ingressFrom: [] } }, /security.ingressFrom \[\] is empty, which would make the service unreachable/],
    ['an invalid volume name', { security: { ...SECURITY, allowedVolumes: ['Data'] } }, /security.allowedVolumes\[0\] "Data" must be a DNS-1123 label/],
  ];
  test.each(cases)('%s', (_title, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('no namespace on the chart', () => {
    expect(() => new PythonService(new Chart(new App(), 'c'), 'api', { image: IMAGE, security: SECURITY }))
      .toThrow(/PythonService 'api': security .* needs the app namespace/);
  });

  test('persistence volumes are allowed by default', () => {
    const { manifests } = build({ replicas: 1, persistence: { size: Size.gibibytes(1) } });
    const policy = servicePolicy(manifests);
    expect(policy.spec.validations[1].expression).toContain("['data', 'tmp', 'worker-tmp']");
  });
});

describe('allowed images say what the user means', () => {
  const decide = (allowedImages: string[], image: string) => {
    const rules = admissionRules({ allowedImages, level: PodSecurityLevel.RESTRICTED });
    const rule = rules.find((r) => r.name === 'allowed-images')!;
    const spec = { validations: [{ expression: rule.expression, message: rule.message, messageExpression: rule.messageExpression }], variables: [{ name: 'containers', expression: 'object.spec.containers' }] };
    const decision = evaluatePolicy(spec, { kind: 'Pod', spec: { containers: [{ name: 'app', image }] } });
    const cel = decision.allowed;
    if (!cel) expect(decision.message).toBe(`allowed-images: images not allowed: ${image} (allowed: ${allowedImages.join(', ')})`);
    const ts = rule.check({ containers: [{ name: 'app', image }] }).length === 0;
    expect(ts).toBe(cel);
    return cel;
  };

  test.each([
    // The article's own allowlist: exactly one image.
    [['python-app:latest'], 'python-app:latest', true],
    [['python-app:latest'], 'python-app:1.0', false],
    [['python-app:latest'], 'docker.io/library/python-app:latest', false],
    // A repository: any tag or digest of exactly it, never a look-alike.
    [['ghcr.io/acme/api'], 'ghcr.io/acme/api:1.4.2', true],
    [['ghcr.io/acme/api'], 'ghcr.io/acme/api@sha256:' + 'a'.repeat(64), true],
    [['ghcr.io/acme/api'], 'ghcr.io/acme/api-evil:1', false],
    [['ghcr.io/acme/api'], 'ghcr.io/acme/api/sub:1', false],
    // A registry port is not a tag.
    [['registry.local:5000/app'], 'registry.local:5000/app:2', true],
    [['registry.local:5000/app'], 'registry.local:5000/application:2', false],
    // An exact digest pin.
    [['ghcr.io/acme/api@sha256:' + 'b'.repeat(64)], 'ghcr.io/acme/api@sha256:' + 'b'.repeat(64), true],
    [['ghcr.io/acme/api:1@sha256:' + 'b'.repeat(64)], 'ghcr.io/acme/api:1@sha256:' + 'b'.repeat(64), true],
    // Prefixes: "/" for a path; the older ":" and "@" forms keep working.
    [['ghcr.io/acme/'], 'ghcr.io/acme/anything/deep:1', true],
    [['ghcr.io/acme/'], 'ghcr.io/acme-evil/x:1', false],
    [['ghcr.io/acme/api:'], 'ghcr.io/acme/api:2', true],
    // Mixed forms in one list.
    [['ghcr.io/acme/', 'python-app:latest', 'docker.io/library/redis'], 'docker.io/library/redis:7', true],
    [['ghcr.io/acme/', 'python-app:latest', 'docker.io/library/redis'], 'python-app:1', false],
    [['python-app:latest', 'ghcr.io/acme/api@sha256:' + 'b'.repeat(64)], 'ghcr.io/acme/api:1', false],
  ])('%j admits %s: %s (CEL and TypeScript agree)', (allowed, image, expected) => {
    expect(decide(allowed as string[], image as string)).toBe(expected);
  });

  test('the article\'s exact allowlist deploys', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new PythonService(chart, 'python-app', { image: 'python-app:latest', security: { allowedImages: ['python-app:latest'] } });
    const manifests = synth(chart);
    expectStrictlyValid(manifests);
    expect(evaluatePolicy(servicePolicy(manifests).spec, only(manifests, 'Deployment'))).toEqual({ allowed: true });
  });
});

describe('allowed volumes say what the user means', () => {
  test('the library\'s own volumes are always allowed; allowedVolumes adds more', () => {
    const { manifests } = build({ server: PythonServer.gunicorn({ app: 'a:b' }), security: { ...SECURITY, allowedVolumes: ['cache'] } });
    const policy = servicePolicy(manifests);
    expect(policy.spec.validations.find((v: any) => v.message.startsWith('allowed-volumes')).expression).toContain("['cache', 'tmp', 'worker-tmp']");
    expectStrictlyValid(manifests);
  });

  test('a standalone SecurityPolicy without allowedVolumes checks the types only, so pods with volumes deploy', () => {
    const chart = new Chart(Testing.app(), 'legacy', { namespace: 'legacy' });
    const policy = new SecurityPolicy(chart, 'policy', { name: 'web', namespace: 'legacy', matchLabels: {}, allowedImages: ['registry.example.com/'] });
    expect(policy.ruleNames).not.toContain('allowed-volumes');
    expect(policy.ruleNames).toContain('volume-types');
    // An empty matchLabels covers the whole namespace: a pod that leaves the labels off is checked too.
    const rendered = synth(chart);
    expect(only(rendered, 'ValidatingAdmissionPolicy').spec.matchConstraints.objectSelector).toBeUndefined();
    expectStrictlyValid(rendered);
  });
});

describe('the namespace policy: no way around it by leaving labels off', () => {
  const SHOP_IMAGE = 'registry.example.com/shop/api:1.4.2';
  const BLOG_IMAGE = 'ghcr.io/acme/blog:2.0.1';
  /** A pod as `kubectl run` creates it: none of the service's labels, restricted settings, any image. */
  const bareRestrictedPod = (image: string): Manifest => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'x', namespace: 'shop', labels: { run: 'x' } },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'x', image, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    },
  });

  function twoServices(blogLevel?: PodSecurityLevel) {
    const app = Testing.app();
    const chart = new Chart(app, 'shop', { namespace: 'shop' });
    const shop = new PythonService(chart, 'api', { image: SHOP_IMAGE, security: { allowedImages: ['registry.example.com/shop/'] } });
    const blog = new PythonService(chart, 'blog', { image: BLOG_IMAGE, security: { allowedImages: ['ghcr.io/acme/blog'], podSecurityLevel: blogLevel } });
    return { app, chart, shop, blog };
  }

  test('binds by namespace only, for every pod-creating object and ephemeral containers', () => {
    const { manifests } = build();
    const policy = namespacePolicy(manifests);
    expect(policy.metadata.name).toBe('shop-namespace-policy');
    expect(policy.spec.matchConstraints.objectSelector).toBeUndefined();
    expect(policy.spec.matchConstraints.resourceRules.map((r: any) => r.resources).flat()).toEqual([
      'deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs', 'pods', 'pods/ephemeralcontainers',
    ]);
    expect(only(manifests, 'ValidatingAdmissionPolicyBinding', 'shop-namespace-policy').spec.matchResources)
      .toEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } });
    // Emitted before anything it governs.
    expect(manifests.findIndex((m) => m.metadata.name === 'shop-namespace-policy')).toBeLessThan(manifests.findIndex((m) => m.kind === 'Deployment'));
  });

  test('`kubectl run x --image=docker.io/evil/miner` without the service labels is denied', () => {
    const { manifests } = build();
    const decision = evaluatePolicy(namespacePolicy(manifests).spec, bareRestrictedPod('docker.io/evil/miner:latest'));
    expect(decision.error).toBeUndefined();
    expect(decision.message).toBe('allowed-images: images not allowed: docker.io/evil/miner:latest (allowed: registry.example.com/shop/)');
  });

  test.each([
    ['privileged', 'not-privileged', (pod: Manifest) => { pod.spec.containers[0].securityContext.privileged = true; }],
    ['root', 'run-as-non-root-user', (pod: Manifest) => { pod.spec.securityContext.runAsUser = 0; }],
    ['hostPath', 'no-host-path', (pod: Manifest) => { pod.spec.volumes = [{ name: 'host', hostPath: { path: '/' } }]; }],
  ])('an unlabelled %s pod with an allowed image is denied by the Pod Security rules', (_what, rule, tamper) => {
    const { manifests } = build();
    const pod = bareRestrictedPod(SHOP_IMAGE);
    tamper(pod);
    expect(evaluatePolicy(namespacePolicy(manifests).spec, pod).message).toMatch(new RegExp(`^${rule}: `));
  });

  test('two services with different allowlists share the namespace: one namespace policy allows both, each service policy only its own', () => {
    const { chart } = twoServices();
    const manifests = synth(chart);
    const nsPolicy = namespacePolicy(manifests);
    const deployments = allOf(manifests, 'Deployment');
    expect(deployments.map((d) => d.metadata.name)).toEqual(['api', 'blog']);
    for (const d of deployments) expect(evaluatePolicy(nsPolicy.spec, d)).toEqual({ allowed: true });
    for (const name of ['api', 'blog']) {
      const own = only(manifests, 'ValidatingAdmissionPolicy', `shop-${name}-policy`);
      expect(evaluatePolicy(own.spec, only(manifests, 'Deployment', name))).toEqual({ allowed: true });
    }
    // The blog's image in the shop's pods: the namespace allows it, the shop's own policy does not.
    const swapped = deepCopy(only(manifests, 'Deployment', 'api'));
    podSpecOf(swapped).containers[0].image = BLOG_IMAGE;
    expect(evaluatePolicy(nsPolicy.spec, swapped)).toEqual({ allowed: true });
    expect(evaluatePolicy(only(manifests, 'ValidatingAdmissionPolicy', 'shop-api-policy').spec, swapped).message).toMatch(/^allowed-images: /);
    expect(allOf(manifests, 'ValidatingAdmissionPolicy').map((m) => m.metadata.name)).toEqual(['shop-namespace-policy', 'shop-api-policy', 'shop-blog-policy']);
    expectStrictlyValid(manifests);
  });

  test('a service below the level the namespace enforces is an error that says how to declare the level', () => {
    expect(() => twoServices(PodSecurityLevel.BASELINE)).toThrow(
      /PythonService 'blog': security.podSecurityLevel "baseline" is below the level the namespace "shop" enforces for every pod, "restricted" \(set by the first secured service of the namespace, shop\/api\/NamespacePolicy\); declare the namespace's level before the services: new SecurityPolicy\(chart, 'shop', \{ name: 'namespace', namespace: 'shop', allowedImages: \[\.\.\.\], podSecurityLevel: PodSecurityLevel.BASELINE \}\)/,
    );
  });

  test('a namespace policy declared first sets the level; services add their images to it', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const declared = new SecurityPolicy(chart, 'shop', { name: 'namespace', namespace: 'shop', allowedImages: ['registry.example.com/platform/'], podSecurityLevel: PodSecurityLevel.BASELINE });
    const shop = new PythonService(chart, 'api', { image: SHOP_IMAGE, security: { allowedImages: ['registry.example.com/shop/'] } });
    new PythonService(chart, 'blog', { image: BLOG_IMAGE, security: { allowedImages: ['ghcr.io/acme/blog'], podSecurityLevel: PodSecurityLevel.BASELINE } });
    expect(shop.namespaceSecurityPolicy).toBe(declared);
    expect(declared.allowedImages).toEqual(['registry.example.com/platform/', 'registry.example.com/shop/', 'ghcr.io/acme/blog']);
    const manifests = synth(chart);
    expect(namespacePolicy(manifests).spec.validations[0].messageExpression).toContain('(allowed: registry.example.com/platform/, registry.example.com/shop/, ghcr.io/acme/blog)');
    expect(namespacePolicy(manifests).spec.validations.map((v: any) => v.message.split(':')[0])).toContain('baseline-capabilities');
    expectStrictlyValid(manifests);
  });

  test('one namespace has one namespace policy per app', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    new SecurityPolicy(chart, 'a', { name: 'a', namespace: 'shop', allowedImages: ['registry.example.com/'] });
    expect(() => new SecurityPolicy(chart, 'b', { name: 'b', namespace: 'shop', allowedImages: ['registry.example.com/'] }))
      .toThrow("SecurityPolicy 'b': matchLabels {} leaves the policy covering the whole namespace \"shop\", which shop/a already covers; one namespace has one such policy (add images to it with allowImages())");
  });

  describe('a namespace policy owned by the platform, in another app', () => {
    const platformPolicy = () => {
      const platform = new Chart(Testing.app(), 'platform');
      return new SecurityPolicy(platform, 'shop', { name: 'namespace', namespace: 'shop', allowedImages: ['registry.example.com/'] });
    };

    test('is not changed and not emitted here; the app is checked against it', () => {
      const policy = platformPolicy();
      const { manifests } = build({ security: { ...SECURITY, namespacePolicy: policy } });
      expect(allOf(manifests, 'ValidatingAdmissionPolicy').map((m) => m.metadata.name)).toEqual(['shop-api-policy']);
      expect(policy.allowedImages).toEqual(['registry.example.com/']);
    });

    test('an image it does not allow fails synthesis, naming it', () => {
      const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
      new PythonService(chart, 'blog', { image: BLOG_IMAGE, security: { allowedImages: ['ghcr.io/acme/'], namespacePolicy: platformPolicy() } });
      expect(() => synth(chart)).toThrow(/platform\/shop: the workload does not pass the policy of namespace "shop", which the cluster applies to every pod there:\n {2}Deployment "blog" breaks its security policy \(allowed-images\): container "app" image "ghcr.io\/acme\/blog:2.0.1" is not allowed/);
    });

    test('must cover the whole namespace, and be of this namespace', () => {
      const chart = new Chart(Testing.app(), 'platform');
      const labelled = new SecurityPolicy(chart, 'labelled', { name: 'x', namespace: 'shop', matchLabels: { team: 'a' }, allowedImages: ['registry.example.com/'] });
      const other = new SecurityPolicy(chart, 'other', { name: 'x', namespace: 'blog', allowedImages: ['registry.example.com/'] });
      expect(() => build({ security: { ...SECURITY, namespacePolicy: labelled } })).toThrow(/security.namespacePolicy "platform\/labelled" must cover the whole namespace/);
      expect(() => build({ security: { ...SECURITY, namespacePolicy: other } })).toThrow(/security.namespacePolicy "platform\/other" is the policy of namespace "blog", not of this service's namespace "shop"/);
    });
  });
});

describe('containers added through the handles', () => {
  test('a sidecar gets the restricted settings it leaves unset and passes the policy', () => {
    const { service } = build();
    service.deployment.addContainer({ name: 'proxy', image: 'registry.example.com/shop/proxy:1', portNumber: 9000 });
    const manifests = synth(Chart.of(service));
    const sidecar = podTemplateOf(only(manifests, 'Deployment'))!.spec.containers[1];
    expect(sidecar.securityContext).toEqual({
      allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, privileged: false, readOnlyRootFilesystem: true, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(evaluatePolicy(servicePolicy(manifests).spec, only(manifests, 'Deployment'))).toEqual({ allowed: true });
    expectStrictlyValid(manifests);
  });

  test('a setting made explicitly is kept, and the self-check names it', () => {
    const { service } = build();
    service.deployment.addContainer({ name: 'proxy', image: 'registry.example.com/shop/proxy:1', securityContext: { allowPrivilegeEscalation: true } });
    expect(() => synth(Chart.of(service))).toThrow(/\(no-privilege-escalation\): container "proxy" allows privilege escalation/);
  });

  test('without security the defaults apply too (the output is restricted either way)', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const service = new PythonService(chart, 'api', { image: IMAGE });
    service.deployment.addInitContainer({ name: 'wait', image: 'busybox:1' });
    const init = podTemplateOf(only(synth(chart), 'Deployment'))!.spec.initContainers[0];
    expect(init.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect(init.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  });
});

describe('platform-owned objects in a chart of their own', () => {
  function split() {
    const app = Testing.app();
    const platform = new Chart(app, 'platform');
    const chart = new Chart(app, 'shop', { namespace: 'shop' });
    const service = new PythonService(chart, 'api', {
      image: IMAGE,
      platformChart: platform,
      backup: { schedule: '0 0 * * *' },
      security: { ...SECURITY, podSecurityAdmission: true },
    });
    service.addWorker('worker', { process: WorkerProcess.celery({ app: 'shop' }) });
    return { app, platform, chart, service };
  }

  test('the admission policies, the Namespace and the Velero Schedule go to the platform chart; the app chart keeps only namespaced app objects', () => {
    const { platform, chart } = split();
    const platformObjects = synth(platform);
    const appObjects = synth(chart);
    expect(platformObjects.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'Namespace/shop', 'Schedule/shop-api-backup',
      'ValidatingAdmissionPolicy/shop-api-policy', 'ValidatingAdmissionPolicy/shop-namespace-policy',
      'ValidatingAdmissionPolicyBinding/shop-api-policy', 'ValidatingAdmissionPolicyBinding/shop-namespace-policy',
    ]);
    expect(platformObjects[0].kind).toBe('Namespace');
    expect(appObjects.filter((m) => ['Namespace', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'Schedule'].includes(m.kind))).toEqual([]);
    expect(appObjects.every((m) => m.metadata.namespace === 'shop')).toBe(true);
    expect(only(platformObjects, 'Schedule').metadata.namespace).toBe('velero');
    expectStrictlyValid([...platformObjects, ...appObjects]);
  });

  test('the app chart depends on the platform chart, so the platform file is applied first', () => {
    const { platform, chart } = split();
    expect(chart.node.dependencies).toContain(platform);
  });

  test('the self-check still holds every workload of the service to its policy', () => {
    const { chart, service } = split();
    ApiObject.of(service.deployment).addJsonPatch(JsonPatch.replace('/spec/template/spec/containers/0/image', 'docker.io/evil/miner:1'));
    expect(() => synth(chart)).toThrow(/\(allowed-images\): container "app" image "docker.io\/evil\/miner:1" is not allowed/);
  });

  test('must be a chart of the same app', () => {
    const other = new Chart(Testing.app(), 'platform');
    expect(() => build({ platformChart: other })).toThrow("PythonService 'api': platformChart \"platform\" must be a chart of the same app, or its objects would never be synthesized");
  });
});
