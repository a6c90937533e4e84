/**
 * ONE list of admission rules, each written twice on purpose: as a CEL expression for the
 * cluster (Kubernetes ValidatingAdmissionPolicy or Kyverno NamespacedValidatingPolicy, both
 * CEL) and as a TypeScript predicate for the synth-time self-check, so the chart fails to
 * synthesize instead of being rejected at deploy time. The tests evaluate the CEL with a real
 * CEL engine and check that both forms agree on generated and tampered workloads.
 *
 * The CEL keeps to the subset that cel-go (Kubernetes 1.28+, Kyverno) and the test engine agree
 * on: every optional field guarded with `.?f.orValue()`, every validation statically bool,
 * homogeneous literals, no regular expressions.
 *
 * Internal: not exported from the package root.
 */

/** Pod Security Standards levels (https://kubernetes.io/docs/concepts/security/pod-security-standards/). */
export enum PodSecurityLevel {
  /** Hardened: non-root, no privilege escalation, all capabilities dropped, seccomp. The default. */
  RESTRICTED = 'restricted',
  /** Prevents known privilege escalations; allows root and default capabilities. */
  BASELINE = 'baseline',
  /** Unrestricted. Only for workloads that really need it. */
  PRIVILEGED = 'privileged',
}

/** One rule in both forms. */
export interface AdmissionRule {
  /** Short kebab-case name, used in messages. */
  readonly name: string;
  /** The CEL validation; statically bool. */
  readonly expression: string;
  /** Static message, what is required. */
  readonly message: string;
  /** CEL that says what was rejected, starting with the rule name; `message` is the fallback. */
  readonly messageExpression?: string;
  /** Returns what in the pod spec breaks the rule (empty when it holds). */
  readonly check: (podSpec: any) => string[];
}

/** Variables both engines define before the validations. */
export const ADMISSION_VARIABLES: Array<{ name: string; expression: string }> = [
  {
    name: 'podSpec',
    expression: "object.kind == 'Pod' ? object.spec : object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec",
  },
  {
    name: 'containers',
    expression: 'variables.podSpec.containers + variables.podSpec.?initContainers.orValue([]) + variables.podSpec.?ephemeralContainers.orValue([])',
  },
];

export interface AdmissionRuleOptions {
  readonly allowedImages: string[];
  readonly allowedVolumes: string[];
  readonly level: PodSecurityLevel;
}

function containersOf(podSpec: any): any[] {
  return [...(podSpec?.containers ?? []), ...(podSpec?.initContainers ?? []), ...(podSpec?.ephemeralContainers ?? [])];
}

function celList(values: string[]): string {
  return `[${values.map((v) => `'${v}'`).join(', ')}]`;
}

/** Rule sets by options: services with the same policy share one set (and its strings). */
const ruleSets = new Map<string, AdmissionRule[]>();

/** The rules for a service, most specific first. */
export function admissionRules(options: AdmissionRuleOptions): AdmissionRule[] {
  const key = JSON.stringify([options.allowedImages, options.allowedVolumes, options.level]);
  let rules = ruleSets.get(key);
  if (!rules) {
    rules = buildRules(options);
    ruleSets.set(key, rules);
  }
  return rules;
}

function buildRules(options: AdmissionRuleOptions): AdmissionRule[] {
  const images = celList(options.allowedImages);
  const imageAllowed = (image: string) => options.allowedImages.some((prefix) => typeof image === 'string' && image.startsWith(prefix));
  const rules: AdmissionRule[] = [
    {
      name: 'allowed-images',
      expression: `variables.containers.all(c, ${images}.exists(p, c.image.startsWith(p)))`,
      message: `every container image must start with one of: ${options.allowedImages.join(', ')}`,
      messageExpression: `'allowed-images: images not allowed: ' + variables.containers.filter(c, !${images}.exists(p, c.image.startsWith(p))).map(c, c.image).join(', ') + ' (allowed prefixes: ${options.allowedImages.join(', ')})'`,
      check: (spec) => containersOf(spec).filter((c) => !imageAllowed(c.image)).map((c) => `container "${c.name}" image "${c.image}" is not under an allowed prefix (${options.allowedImages.join(', ')})`),
    },
    options.allowedVolumes.length > 0
      ? {
        name: 'allowed-volumes',
        expression: `variables.podSpec.?volumes.orValue([]).all(v, v.name in ${celList(options.allowedVolumes)})`,
        message: `only these volumes are allowed: ${options.allowedVolumes.join(', ')}`,
        messageExpression: `'allowed-volumes: volumes not allowed: ' + variables.podSpec.?volumes.orValue([]).filter(v, !(v.name in ${celList(options.allowedVolumes)})).map(v, v.name).join(', ') + ' (allowed: ${options.allowedVolumes.join(', ')})'`,
        check: (spec) => (spec?.volumes ?? []).filter((v: any) => !options.allowedVolumes.includes(v.name)).map((v: any) => `volume "${v.name}" is not in the allowed volumes (${options.allowedVolumes.join(', ')})`),
      }
      : {
        name: 'allowed-volumes',
        expression: 'variables.podSpec.?volumes.orValue([]).size() == 0',
        message: 'no volumes are allowed',
        check: (spec) => (spec?.volumes ?? []).map((v: any) => `volume "${v.name}" is not allowed (no volumes are)`),
      },
    {
      name: 'no-host-path',
      expression: 'variables.podSpec.?volumes.orValue([]).all(v, !has(v.hostPath))',
      message: 'hostPath volumes are forbidden',
      check: (spec) => (spec?.volumes ?? []).filter((v: any) => v.hostPath !== undefined).map((v: any) => `volume "${v.name}" is a hostPath volume`),
    },
  ];
  if (options.level === PodSecurityLevel.PRIVILEGED) return rules;

  rules.push(
    {
      name: 'no-host-namespaces',
      expression: 'variables.podSpec.?hostNetwork.orValue(false) == false && variables.podSpec.?hostPID.orValue(false) == false && variables.podSpec.?hostIPC.orValue(false) == false',
      message: 'hostNetwork, hostPID and hostIPC must not be true',
      check: (spec) => ['hostNetwork', 'hostPID', 'hostIPC'].filter((f) => spec?.[f] === true).map((f) => `${f} is true`),
    },
    {
      name: 'not-privileged',
      expression: 'variables.containers.all(c, c.?securityContext.?privileged.orValue(false) == false)',
      message: 'containers must not be privileged',
      check: (spec) => containersOf(spec).filter((c) => c.securityContext?.privileged === true).map((c) => `container "${c.name}" is privileged`),
    },
  );
  if (options.level === PodSecurityLevel.BASELINE) return rules;

  const podNonRoot = 'variables.podSpec.?securityContext.?runAsNonRoot.orValue(false)';
  const podSeccomp = "variables.podSpec.?securityContext.?seccompProfile.?type.orValue('')";
  rules.push(
    {
      name: 'run-as-non-root',
      expression: `variables.containers.all(c, c.?securityContext.?runAsNonRoot.orValue(${podNonRoot}) == true && c.?securityContext.?runAsUser.orValue(variables.podSpec.?securityContext.?runAsUser.orValue(1)) != 0)`,
      message: 'containers must run as non-root (runAsNonRoot true, runAsUser not 0)',
      check: (spec) => containersOf(spec).filter((c) => {
        const nonRoot = c.securityContext?.runAsNonRoot ?? spec?.securityContext?.runAsNonRoot ?? false;
        const user = c.securityContext?.runAsUser ?? spec?.securityContext?.runAsUser ?? 1;
        return nonRoot !== true || user === 0;
      }).map((c) => `container "${c.name}" may run as root`),
    },
    {
      name: 'no-privilege-escalation',
      expression: 'variables.containers.all(c, c.?securityContext.?allowPrivilegeEscalation.orValue(true) == false)',
      message: 'containers must set allowPrivilegeEscalation to false',
      check: (spec) => containersOf(spec).filter((c) => c.securityContext?.allowPrivilegeEscalation !== false).map((c) => `container "${c.name}" allows privilege escalation`),
    },
    {
      name: 'drop-all-capabilities',
      expression: "variables.containers.all(c, 'ALL' in c.?securityContext.?capabilities.?drop.orValue(['']) && c.?securityContext.?capabilities.?add.orValue(['NET_BIND_SERVICE']).all(a, a == 'NET_BIND_SERVICE'))",
      message: 'containers must drop ALL capabilities and may add only NET_BIND_SERVICE',
      check: (spec) => containersOf(spec).filter((c) => {
        const caps = c.securityContext?.capabilities ?? {};
        return !(caps.drop ?? []).includes('ALL') || (caps.add ?? []).some((a: string) => a !== 'NET_BIND_SERVICE');
      }).map((c) => `container "${c.name}" does not drop ALL capabilities or adds more than NET_BIND_SERVICE`),
    },
    {
      name: 'seccomp',
      expression: `variables.containers.all(c, c.?securityContext.?seccompProfile.?type.orValue(${podSeccomp}) in ['RuntimeDefault', 'Localhost'])`,
      message: 'containers must use the RuntimeDefault or a Localhost seccomp profile',
      check: (spec) => containersOf(spec).filter((c) => {
        const type = c.securityContext?.seccompProfile?.type ?? spec?.securityContext?.seccompProfile?.type ?? '';
        return type !== 'RuntimeDefault' && type !== 'Localhost';
      }).map((c) => `container "${c.name}" has no RuntimeDefault or Localhost seccomp profile`),
    },
  );
  return rules;
}
