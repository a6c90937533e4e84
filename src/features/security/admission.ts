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
  /** Returns what in the pod spec (and its metadata's annotations) breaks the rule (empty when it holds). */
  readonly check: (podSpec: any, podAnnotations?: { [key: string]: string }) => string[];
}

/** Variables both engines define before the validations. */
export const ADMISSION_VARIABLES: Array<{ name: string; expression: string }> = [
  {
    name: 'podSpec',
    expression: "object.kind == 'Pod' ? object.spec : object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec",
  },
  {
    name: 'podMetadata',
    expression: "object.kind == 'Pod' ? object.metadata : object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.?metadata.orValue({}) : object.spec.template.?metadata.orValue({})",
  },
  {
    name: 'containers',
    expression: 'variables.podSpec.containers + variables.podSpec.?initContainers.orValue([]) + variables.podSpec.?ephemeralContainers.orValue([])',
  },
];

export interface AdmissionRuleOptions {
  readonly allowedImages: string[];
  /** Volume names allowed; undefined: any name (the volume types are still checked). */
  readonly allowedVolumes?: string[];
  readonly level: PodSecurityLevel;
}

/** The allowed images, by how they match. */
export interface ImageAllowlist {
  /** Prefixes ending in "/" (a registry or path), or the older ":"/"@" forms: `startsWith`. */
  readonly prefixes: string[];
  /** Exact references with a tag and/or digest: equality. */
  readonly exact: string[];
  /** Repositories without tag or digest: that repository with any tag or digest, never `repo-evil`. */
  readonly repositories: string[];
}

/**
 * Sorts allowlist entries by form. Matching is textual: `python-app:latest` is not
 * `docker.io/library/python-app:latest`, and `host:5000/app` is a repository (the `:5000` is a
 * registry port, not a tag).
 */
export function imageAllowlist(entries: string[]): ImageAllowlist {
  const prefixes: string[] = [];
  const exact: string[] = [];
  const repositories: string[] = [];
  for (const entry of entries) {
    if (/[/:@]$/.test(entry)) prefixes.push(entry);
    else if (/@/.test(entry) || /:[^/]*$/.test(entry)) exact.push(entry);
    else repositories.push(entry);
  }
  return { prefixes, exact, repositories };
}

/** Whether an image is allowed (the TypeScript twin of the CEL). */
export function imageAllowed(list: ImageAllowlist, image: string): boolean {
  if (typeof image !== 'string') return false;
  return list.prefixes.some((p) => image.startsWith(p))
    || list.exact.includes(image)
    || list.repositories.some((r) => image === r || image.startsWith(`${r}:`) || image.startsWith(`${r}@`));
}

/** Capabilities "baseline" lets containers add. */
export const BASELINE_CAPABILITIES = [
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
];
/** The sysctls Pod Security calls safe (policy version 1.29+ and before the 1.32 additions; stricter is safe). */
export const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
];
/** SELinux types "baseline" allows ('' is unset). */
export const SELINUX_TYPES = ['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'];
const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

function seLinuxProblems(options: any, who: string): string[] {
  if (!options) return [];
  return [
    ...(SELINUX_TYPES.includes(options.type ?? '') ? [] : [`${who} has SELinux type ${options.type}`]),
    ...(options.user ? [`${who} sets SELinux user ${options.user}`] : []),
    ...(options.role ? [`${who} sets SELinux role ${options.role}`] : []),
  ];
}

/** Volume types Pod Security "restricted" allows (the "Volume Types" control). */
export const RESTRICTED_VOLUME_TYPES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

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
  const list = imageAllowlist(options.allowedImages);
  const parts = [
    ...(list.prefixes.length > 0 ? [`${celList(list.prefixes)}.exists(p, c.image.startsWith(p))`] : []),
    ...(list.exact.length > 0 ? [`c.image in ${celList(list.exact)}`] : []),
    ...(list.repositories.length > 0 ? [`${celList(list.repositories)}.exists(r, c.image == r || c.image.startsWith(r + ':') || c.image.startsWith(r + '@'))`] : []),
  ];
  const celImageAllowed = parts.length === 1 ? parts[0] : `(${parts.join(' || ')})`;
  const described = options.allowedImages.join(', ');
  const volumes = options.allowedVolumes;
  const rules: AdmissionRule[] = [
    {
      name: 'allowed-images',
      expression: `variables.containers.all(c, ${celImageAllowed})`,
      message: `every container image must be one of, or under one of: ${described}`,
      // Parenthesized: in CEL `!` binds tighter than `in`, so `!c.image in [...]` is `(!c.image) in [...]`.
      messageExpression: `'allowed-images: images not allowed: ' + variables.containers.filter(c, !(${celImageAllowed})).map(c, c.image).join(', ') + ' (allowed: ${described})'`,
      check: (spec) => containersOf(spec).filter((c) => !imageAllowed(list, c.image)).map((c) => `container "${c.name}" image "${c.image}" is not allowed (${described})`),
    },
    ...(volumes === undefined ? [] : [{
      name: 'allowed-volumes',
      expression: `variables.podSpec.?volumes.orValue([]).all(v, v.name in ${celList(volumes)})`,
      message: `only these volumes are allowed: ${volumes.join(', ')}`,
      messageExpression: `'allowed-volumes: volumes not allowed: ' + variables.podSpec.?volumes.orValue([]).filter(v, !(v.name in ${celList(volumes)})).map(v, v.name).join(', ') + ' (allowed: ${volumes.join(', ')})'`,
      check: (spec: any) => (spec?.volumes ?? []).filter((v: any) => !volumes.includes(v.name)).map((v: any) =>
        `volume "${v.name}" is not in the allowed volumes (${volumes.join(', ')}); a volume added through the cdk8s-plus handles must be listed: security.allowedVolumes on the service, allowedVolumes on a SecurityPolicy`),
    }]),
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
    {
      name: 'no-host-process',
      expression: 'variables.podSpec.?securityContext.?windowsOptions.?hostProcess.orValue(false) == false'
        + ' && variables.containers.all(c, c.?securityContext.?windowsOptions.?hostProcess.orValue(false) == false)',
      message: 'Windows HostProcess pods and containers are forbidden',
      check: (spec) => [
        ...(spec?.securityContext?.windowsOptions?.hostProcess === true ? ['the pod is a Windows HostProcess pod'] : []),
        ...containersOf(spec).filter((c) => c.securityContext?.windowsOptions?.hostProcess === true).map((c) => `container "${c.name}" is a Windows HostProcess container`),
      ],
    },
    {
      name: 'no-host-ports',
      expression: 'variables.containers.all(c, c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0))',
      message: 'containers must not use host ports',
      check: (spec) => containersOf(spec).flatMap((c) => (c.ports ?? []).filter((p: any) => (p?.hostPort ?? 0) !== 0)
        .map((p: any) => `container "${c.name}" uses host port ${p.hostPort}`)),
    },
    ...(options.level === PodSecurityLevel.BASELINE ? [{
      name: 'baseline-capabilities',
      expression: `variables.containers.all(c, c.?securityContext.?capabilities.?add.orValue([]).all(a, a in ${celList(BASELINE_CAPABILITIES)}))`,
      message: `containers may add only these capabilities: ${BASELINE_CAPABILITIES.join(', ')}`,
      check: (spec: any) => containersOf(spec).flatMap((c) => (c.securityContext?.capabilities?.add ?? [])
        .filter((a: string) => !BASELINE_CAPABILITIES.includes(a))
        .map((a: string) => `container "${c.name}" adds ${a}`)),
    }] : []),
    {
      name: 'apparmor',
      expression: "variables.podSpec.?securityContext.?appArmorProfile.?type.orValue('') != 'Unconfined'"
        + " && variables.containers.all(c, c.?securityContext.?appArmorProfile.?type.orValue('') != 'Unconfined')"
        + ` && variables.podMetadata.?annotations.orValue({}).all(k, !k.startsWith('${APPARMOR_ANNOTATION}')`
        + " || variables.podMetadata.annotations[k] == 'runtime/default' || variables.podMetadata.annotations[k].startsWith('localhost/'))",
      message: 'AppArmor must not be Unconfined (profile type, or a container.apparmor.security.beta.kubernetes.io annotation other than runtime/default or localhost/*)',
      check: (spec, annotations = {}) => [
        ...(spec?.securityContext?.appArmorProfile?.type === 'Unconfined' ? ['the pod\'s AppArmor profile is Unconfined'] : []),
        ...containersOf(spec).filter((c) => c.securityContext?.appArmorProfile?.type === 'Unconfined').map((c) => `container "${c.name}" has an Unconfined AppArmor profile`),
        ...Object.entries(annotations).filter(([k, value]) => k.startsWith(APPARMOR_ANNOTATION) && value !== 'runtime/default' && !String(value).startsWith('localhost/'))
          .map(([k, value]) => `annotation ${k} is ${value}`),
      ],
    },
    {
      name: 'selinux',
      expression: '([variables.podSpec.?securityContext.?seLinuxOptions.orValue({})] + variables.containers.map(c, c.?securityContext.?seLinuxOptions.orValue({}))'
        + `).all(o, o.?type.orValue('') in ${celList(SELINUX_TYPES)} && o.?user.orValue('') == '' && o.?role.orValue('') == '')`,
      message: `SELinux type must be one of ${SELINUX_TYPES.filter((t) => t).join(', ')} (or unset), and user and role unset`,
      check: (spec) => [
        ...seLinuxProblems(spec?.securityContext?.seLinuxOptions, 'the pod'),
        ...containersOf(spec).flatMap((c) => seLinuxProblems(c.securityContext?.seLinuxOptions, `container "${c.name}"`)),
      ],
    },
    {
      name: 'proc-mount',
      expression: "variables.containers.all(c, c.?securityContext.?procMount.orValue('Default') == 'Default')",
      message: 'containers must use the Default /proc mount',
      check: (spec) => containersOf(spec).filter((c) => (c.securityContext?.procMount ?? 'Default') !== 'Default')
        .map((c) => `container "${c.name}" has procMount ${c.securityContext.procMount}`),
    },
    {
      name: 'sysctls',
      expression: `variables.podSpec.?securityContext.?sysctls.orValue([]).all(s, s.name in ${celList(SAFE_SYSCTLS)})`,
      message: `only the safe sysctls are allowed: ${SAFE_SYSCTLS.join(', ')}`,
      check: (spec) => (spec?.securityContext?.sysctls ?? []).filter((x: any) => !SAFE_SYSCTLS.includes(x?.name)).map((x: any) => `sysctl ${x?.name} is not in the safe set`),
    },
  );
  if (options.level === PodSecurityLevel.BASELINE) {
    rules.push({
      name: 'seccomp',
      expression: "variables.podSpec.?securityContext.?seccompProfile.?type.orValue('') != 'Unconfined'"
        + " && variables.containers.all(c, c.?securityContext.?seccompProfile.?type.orValue('') != 'Unconfined')",
      message: 'seccomp must not be Unconfined',
      check: (spec) => [
        ...(spec?.securityContext?.seccompProfile?.type === 'Unconfined' ? ['the pod\'s seccomp profile is Unconfined'] : []),
        ...containersOf(spec).filter((c) => c.securityContext?.seccompProfile?.type === 'Unconfined').map((c) => `container "${c.name}" has an Unconfined seccomp profile`),
      ],
    });
    return rules;
  }

  const podNonRoot = 'variables.podSpec.?securityContext.?runAsNonRoot.orValue(false)';
  const podSeccomp = "variables.podSpec.?securityContext.?seccompProfile.?type.orValue('')";
  rules.push(
    {
      // Set on the pod, it must not be false even where every container overrides it (as upstream).
      name: 'run-as-non-root',
      expression: `variables.podSpec.?securityContext.?runAsNonRoot.orValue(true) == true && variables.containers.all(c, c.?securityContext.?runAsNonRoot.orValue(${podNonRoot}) == true)`,
      message: 'containers must run as non-root (runAsNonRoot true on each container or the pod, and never false on the pod)',
      check: (spec) => [
        ...(spec?.securityContext?.runAsNonRoot === false ? ['the pod sets runAsNonRoot to false'] : []),
        ...containersOf(spec).filter((c) => (c.securityContext?.runAsNonRoot ?? spec?.securityContext?.runAsNonRoot ?? false) !== true)
          .map((c) => `container "${c.name}" may run as root (runAsNonRoot is not true)`),
      ],
    },
    {
      name: 'run-as-non-root-user',
      expression: 'variables.podSpec.?securityContext.?runAsUser.orValue(1) != 0 && variables.containers.all(c, c.?securityContext.?runAsUser.orValue(1) != 0)',
      message: 'runAsUser must not be 0, on the pod or any container',
      check: (spec) => [
        ...(spec?.securityContext?.runAsUser === 0 ? ['the pod sets runAsUser 0'] : []),
        ...containersOf(spec).filter((c) => c.securityContext?.runAsUser === 0).map((c) => `container "${c.name}" sets runAsUser 0`),
      ],
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
      // Set on the pod, it must be RuntimeDefault or Localhost even where every container overrides it.
      expression: `${podSeccomp} in ['', 'RuntimeDefault', 'Localhost']`
        + ` && variables.containers.all(c, c.?securityContext.?seccompProfile.?type.orValue(${podSeccomp}) in ['RuntimeDefault', 'Localhost'])`,
      message: 'containers must use the RuntimeDefault or a Localhost seccomp profile, and the pod must not set another',
      check: (spec) => [
        ...(['', 'RuntimeDefault', 'Localhost'].includes(spec?.securityContext?.seccompProfile?.type ?? '') ? [] : [`the pod's seccomp profile is ${spec.securityContext.seccompProfile.type}`]),
        ...containersOf(spec).filter((c) => {
          const type = c.securityContext?.seccompProfile?.type ?? spec?.securityContext?.seccompProfile?.type ?? '';
          return type !== 'RuntimeDefault' && type !== 'Localhost';
        }).map((c) => `container "${c.name}" has no RuntimeDefault or Localhost seccomp profile`),
      ],
    },
    {
      // A volume named like an allowed one but of another type (nfs, gitRepo, ...) is caught here.
      name: 'volume-types',
      expression: `variables.podSpec.?volumes.orValue([]).all(v, v.all(k, k == 'name' || k in ${celList(RESTRICTED_VOLUME_TYPES)}))`,
      message: `volumes must be of the types Pod Security "restricted" allows: ${RESTRICTED_VOLUME_TYPES.join(', ')}`,
      check: (spec) => (spec?.volumes ?? []).flatMap((v: any) => Object.keys(v).filter((k) => k !== 'name' && !RESTRICTED_VOLUME_TYPES.includes(k))
        .map((k) => `volume "${v.name}" is of type ${k}, which "restricted" does not allow`)),
    },
  );
  return rules;
}
