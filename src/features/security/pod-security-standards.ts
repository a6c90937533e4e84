/**
 * The Pod Security Standards' "baseline" and "restricted" checks, applied to a synthesized pod
 * spec (plain JSON as it appears in the manifest). Written from the published policy table,
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/ (policy version
 * v1.28+, unchanged through 1.35 for the fields checked here), and the reference
 * implementation's check names in k8s.io/pod-security-admission/policy.
 *
 * Internal: used by tests and by the synth-time self-check; not part of the public API.
 */
import { BASELINE_CAPABILITIES, RESTRICTED_VOLUME_TYPES, SAFE_SYSCTLS, SELINUX_TYPES } from './admission';

/** One failed check: which control, where, and why. */
export interface PodSecurityViolation {
  /** The control's name as in the policy table, e.g. "Privilege Escalation". */
  readonly control: string;
  /** Where in the pod spec, e.g. "containers[app].securityContext.allowPrivilegeEscalation". */
  readonly field: string;
  /** What is wrong. */
  readonly message: string;
}

const BASELINE_CAPABILITY_SET = new Set(BASELINE_CAPABILITIES);
const SAFE_SYSCTL_SET = new Set(SAFE_SYSCTLS);
const RESTRICTED_VOLUME_TYPE_SET = new Set(RESTRICTED_VOLUME_TYPES);
const SELINUX_TYPE_SET = new Set(SELINUX_TYPES);

interface ContainerRef {
  readonly label: string;
  readonly spec: any;
}

function containersOf(podSpec: any): ContainerRef[] {
  const refs: ContainerRef[] = [];
  for (const [field, list] of [['containers', podSpec?.containers], ['initContainers', podSpec?.initContainers], ['ephemeralContainers', podSpec?.ephemeralContainers]] as const) {
    for (const c of (list as any[] | undefined) ?? []) refs.push({ label: `${field}[${c?.name}]`, spec: c ?? {} });
  }
  return refs;
}

/** Violations of the "baseline" level. */
export function baselineViolations(podSpec: any, podAnnotations: { [key: string]: string } = {}): PodSecurityViolation[] {
  const out: PodSecurityViolation[] = [];
  const add = (control: string, field: string, message: string) => out.push({ control, field, message });
  const spec = podSpec ?? {};
  const psc = spec.securityContext ?? {};
  const containers = containersOf(spec);

  if (psc.windowsOptions?.hostProcess === true) add('HostProcess', 'securityContext.windowsOptions.hostProcess', 'must not be true');
  for (const c of containers) {
    if (c.spec.securityContext?.windowsOptions?.hostProcess === true) add('HostProcess', `${c.label}.securityContext.windowsOptions.hostProcess`, 'must not be true');
  }
  for (const ns of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (spec[ns] === true) add('Host Namespaces', ns, 'must not be true');
  }
  for (const c of containers) {
    const sc = c.spec.securityContext ?? {};
    if (sc.privileged === true) add('Privileged Containers', `${c.label}.securityContext.privileged`, 'must not be true');
    for (const cap of sc.capabilities?.add ?? []) {
      if (!BASELINE_CAPABILITY_SET.has(cap)) add('Capabilities', `${c.label}.securityContext.capabilities.add`, `adds ${cap}, which is not in the baseline set`);
    }
    for (const port of c.spec.ports ?? []) {
      if (port.hostPort !== undefined && port.hostPort !== 0) add('Host Ports', `${c.label}.ports[${port.name ?? port.containerPort}].hostPort`, `must be 0 or unset, not ${port.hostPort}`);
    }
    if (sc.procMount !== undefined && sc.procMount !== 'Default') add('/proc Mount Type', `${c.label}.securityContext.procMount`, `must be Default, not ${sc.procMount}`);
    if (sc.seccompProfile?.type === 'Unconfined') add('Seccomp', `${c.label}.securityContext.seccompProfile.type`, 'must not be Unconfined');
    checkSeLinux(sc.seLinuxOptions, `${c.label}.securityContext.seLinuxOptions`, add);
    if (sc.appArmorProfile?.type === 'Unconfined') add('AppArmor', `${c.label}.securityContext.appArmorProfile.type`, 'must not be Unconfined');
  }
  for (const v of spec.volumes ?? []) {
    if (v.hostPath !== undefined) add('HostPath Volumes', `volumes[${v.name}].hostPath`, 'hostPath volumes are forbidden');
  }
  if (psc.seccompProfile?.type === 'Unconfined') add('Seccomp', 'securityContext.seccompProfile.type', 'must not be Unconfined');
  if (psc.appArmorProfile?.type === 'Unconfined') add('AppArmor', 'securityContext.appArmorProfile.type', 'must not be Unconfined');
  checkSeLinux(psc.seLinuxOptions, 'securityContext.seLinuxOptions', add);
  for (const [key, value] of Object.entries(podAnnotations)) {
    if (key.startsWith('container.apparmor.security.beta.kubernetes.io/') && value !== 'runtime/default' && !value.startsWith('localhost/')) {
      add('AppArmor', `metadata.annotations["${key}"]`, `must be runtime/default or localhost/*, not ${value}`);
    }
  }
  for (const s of psc.sysctls ?? []) {
    if (!SAFE_SYSCTL_SET.has(s.name)) add('Sysctls', `securityContext.sysctls[${s.name}]`, 'is not in the safe set');
  }
  return out;
}

function checkSeLinux(options: any, field: string, add: (control: string, field: string, message: string) => void): void {
  if (!options) return;
  if (options.type !== undefined && !SELINUX_TYPE_SET.has(options.type)) add('SELinux', `${field}.type`, `must be one of container_t, container_init_t, container_kvm_t, container_engine_t, not ${options.type}`);
  if (options.user) add('SELinux', `${field}.user`, 'must not be set');
  if (options.role) add('SELinux', `${field}.role`, 'must not be set');
}

/** Violations of the "restricted" level (which includes "baseline"). */
export function restrictedViolations(podSpec: any, podAnnotations: { [key: string]: string } = {}): PodSecurityViolation[] {
  const out = baselineViolations(podSpec, podAnnotations);
  const add = (control: string, field: string, message: string) => out.push({ control, field, message });
  const spec = podSpec ?? {};
  const psc = spec.securityContext ?? {};
  const containers = containersOf(spec);

  for (const v of spec.volumes ?? []) {
    const types = Object.keys(v).filter((k) => k !== 'name');
    for (const t of types) {
      if (!RESTRICTED_VOLUME_TYPE_SET.has(t)) add('Volume Types', `volumes[${v.name}].${t}`, `volume type ${t} is not allowed`);
    }
  }
  for (const c of containers) {
    const sc = c.spec.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) add('Privilege Escalation', `${c.label}.securityContext.allowPrivilegeEscalation`, 'must be false');

    const podNonRoot = psc.runAsNonRoot === true;
    if (sc.runAsNonRoot === false || (sc.runAsNonRoot !== true && !podNonRoot)) {
      add('Running as Non-root', `${c.label}.securityContext.runAsNonRoot`, 'must be true (here or on the pod)');
    }
    if (sc.runAsUser === 0) add('Running as Non-root user', `${c.label}.securityContext.runAsUser`, 'must not be 0');

    const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
      add('Seccomp', `${c.label}.securityContext.seccompProfile.type`, 'must be RuntimeDefault or Localhost (here or on the pod)');
    }

    const drop: string[] = sc.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) add('Capabilities', `${c.label}.securityContext.capabilities.drop`, 'must include ALL');
    for (const cap of sc.capabilities?.add ?? []) {
      if (cap !== 'NET_BIND_SERVICE') add('Capabilities', `${c.label}.securityContext.capabilities.add`, `may only add NET_BIND_SERVICE, not ${cap}`);
    }
  }
  if (psc.runAsUser === 0) add('Running as Non-root user', 'securityContext.runAsUser', 'must not be 0');
  // Explicitly false on the pod is a violation even when every container sets true (as upstream).
  if (psc.runAsNonRoot === false) add('Running as Non-root', 'securityContext.runAsNonRoot', 'must not be false');
  const podSeccomp = psc.seccompProfile?.type;
  if (podSeccomp !== undefined && podSeccomp !== 'RuntimeDefault' && podSeccomp !== 'Localhost' && podSeccomp !== 'Unconfined') {
    add('Seccomp', 'securityContext.seccompProfile.type', `must be RuntimeDefault or Localhost, not ${podSeccomp}`);
  }
  return out;
}
