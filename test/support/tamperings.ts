import type { Manifest } from './manifests';

/**
 * Workloads tampered with, one admission rule broken by each: the cases on which the CEL (in
 * the JavaScript engine and in the real API server) and the TypeScript self-check must agree.
 */

// structuredClone would build arrays of another realm, which the CEL engine does not recognise.
export const deepCopy = <T>(value: T): T => JSON.parse(JSON.stringify(value));
export const podSpecOf = (m: Manifest) => (m.kind === 'Pod' ? m.spec : m.spec.template.spec);
export const podMetadataOf = (m: Manifest) => (m.kind === 'Pod' ? m.metadata : m.spec.template.metadata);

/** Tampered copies, each breaking one rule; `rule` is the rule that must deny it. */
export const TAMPERINGS: Array<[string, string, (m: Manifest) => void]> = [
  ['a foreign image', 'allowed-images', (m) => { podSpecOf(m).containers[0].image = 'docker.io/evil/miner:latest'; }],
  ['a foreign init container image', 'allowed-images', (m) => {
    const app = podSpecOf(m).containers[0];
    // Only what an init container may have (no probes, no lifecycle).
    podSpecOf(m).initContainers = [{ name: 'init', image: 'docker.io/evil/init:1', command: ['true'], securityContext: app.securityContext, volumeMounts: app.volumeMounts }];
  }],
  ['an extra volume', 'allowed-volumes', (m) => { podSpecOf(m).volumes.push({ name: 'cache', emptyDir: {} }); }],
  ['a hostPath volume named like an allowed one', 'no-host-path', (m) => { podSpecOf(m).volumes[0] = { name: podSpecOf(m).volumes[0].name, hostPath: { path: '/data' } }; }],
  ['host networking', 'no-host-namespaces', (m) => { podSpecOf(m).hostNetwork = true; }],
  // The API server refuses `privileged: true` beside `allowPrivilegeEscalation: false` as invalid.
  ['a privileged container', 'not-privileged', (m) => { podSpecOf(m).containers[0].securityContext.privileged = true; delete podSpecOf(m).containers[0].securityContext.allowPrivilegeEscalation; }],
  ['a root user', 'run-as-non-root-user', (m) => { podSpecOf(m).containers[0].securityContext.runAsUser = 0; }],
  ['a root user on the pod, hidden behind the container\'s own user', 'run-as-non-root-user', (m) => { podSpecOf(m).securityContext.runAsUser = 0; }],
  ['runAsNonRoot false on the pod, hidden behind the container\'s true', 'run-as-non-root', (m) => { podSpecOf(m).securityContext.runAsNonRoot = false; }],
  ['runAsNonRoot false on the container', 'run-as-non-root', (m) => { podSpecOf(m).containers[0].securityContext.runAsNonRoot = false; }],
  ['seccomp Unconfined on the pod, hidden behind the container\'s RuntimeDefault', 'seccomp', (m) => { podSpecOf(m).securityContext.seccompProfile = { type: 'Unconfined' }; }],
  ['a host port', 'no-host-ports', (m) => { podSpecOf(m).containers[0].ports = [{ containerPort: 8080, hostPort: 8080 }]; }],
  ['AppArmor Unconfined on a container', 'apparmor', (m) => { podSpecOf(m).containers[0].securityContext.appArmorProfile = { type: 'Unconfined' }; }],
  ['AppArmor Unconfined on the pod', 'apparmor', (m) => { podSpecOf(m).securityContext.appArmorProfile = { type: 'Unconfined' }; }],
  ['AppArmor unconfined through the beta annotation', 'apparmor', (m) => {
    const metadata = podMetadataOf(m);
    metadata.annotations = { ...metadata.annotations, [`container.apparmor.security.beta.kubernetes.io/${podSpecOf(m).containers[0].name}`]: 'unconfined' };
  }],
  ['SELinux type spc_t (a super-privileged container)', 'selinux', (m) => { podSpecOf(m).containers[0].securityContext.seLinuxOptions = { type: 'spc_t' }; }],
  ['an SELinux user on the pod', 'selinux', (m) => { podSpecOf(m).securityContext.seLinuxOptions = { user: 'system_u' }; }],
  ['an unsafe sysctl', 'sysctls', (m) => { podSpecOf(m).securityContext.sysctls = [{ name: 'kernel.msgmax', value: '65536' }]; }],
  // Valid only in a user namespace (`hostUsers: false`); the library denies it even there.
  ['an unmasked /proc', 'proc-mount', (m) => { podSpecOf(m).containers[0].securityContext.procMount = 'Unmasked'; podSpecOf(m).hostUsers = false; }],
  // The API server holds a HostProcess pod invalid unless it also uses the host network, which
  // the host-namespaces rule denies first; the HostProcess rule still fails on it (the self-check says both).
  ['a Windows HostProcess pod', 'no-host-namespaces', (m) => { podSpecOf(m).securityContext.windowsOptions = { hostProcess: true }; podSpecOf(m).hostNetwork = true; }],
  ['a Windows HostProcess container', 'no-host-namespaces', (m) => { podSpecOf(m).containers[0].securityContext.windowsOptions = { hostProcess: true }; podSpecOf(m).hostNetwork = true; }],
  ['runAsNonRoot removed everywhere', 'run-as-non-root', (m) => { delete podSpecOf(m).containers[0].securityContext.runAsNonRoot; delete podSpecOf(m).securityContext.runAsNonRoot; }],
  ['privilege escalation', 'no-privilege-escalation', (m) => { podSpecOf(m).containers[0].securityContext.allowPrivilegeEscalation = true; }],
  ['an added capability', 'drop-all-capabilities', (m) => { podSpecOf(m).containers[0].securityContext.capabilities.add = ['NET_ADMIN']; }],
  ['capabilities not dropped', 'drop-all-capabilities', (m) => { delete podSpecOf(m).containers[0].securityContext.capabilities; }],
  ['no seccomp profile', 'seccomp', (m) => { delete podSpecOf(m).containers[0].securityContext.seccompProfile; }],
  ['an nfs volume named like an allowed one', 'volume-types', (m) => { podSpecOf(m).volumes[0] = { name: podSpecOf(m).volumes[0].name, nfs: { server: 'nfs.example.com', path: '/' } }; }],
  ['a gitRepo volume named like an allowed one', 'volume-types', (m) => { podSpecOf(m).volumes[0] = { name: podSpecOf(m).volumes[0].name, gitRepo: { repository: 'https://example.com/x.git' } }; }],
  ['a debug container added through pods/ephemeralcontainers', 'allowed-images', (m) => {
    podSpecOf(m).ephemeralContainers = [{ name: 'debugger', image: 'docker.io/library/busybox:1', securityContext: podSpecOf(m).containers[0].securityContext }];
  }],
];
