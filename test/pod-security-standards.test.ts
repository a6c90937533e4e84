import { baselineViolations, restrictedViolations } from '../src/features/security/pod-security-standards';

/** A pod spec that meets "restricted", the way PythonService emits it. */
function restrictedPod(): any {
  return {
    securityContext: { runAsNonRoot: true, runAsUser: 10001 },
    containers: [{
      name: 'app',
      image: 'x:1',
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      },
    }],
    volumes: [{ name: 'tmp', emptyDir: {} }],
  };
}

function controlsOf(spec: any, annotations?: any): string[] {
  return restrictedViolations(spec, annotations).map((v) => v.control);
}

describe('Pod Security Standards "restricted"', () => {
  test('admits a compliant pod', () => {
    expect(restrictedViolations(restrictedPod())).toEqual([]);
  });

  test('seccomp and runAsNonRoot may come from the pod level', () => {
    const pod = restrictedPod();
    delete pod.containers[0].securityContext.seccompProfile;
    pod.securityContext.seccompProfile = { type: 'Localhost', localhostProfile: 'p.json' };
    expect(restrictedViolations(pod)).toEqual([]);
  });

  const tampered: Array<[string, (pod: any) => void, string]> = [
    ['privilege escalation allowed', (p) => { p.containers[0].securityContext.allowPrivilegeEscalation = true; }, 'Privilege Escalation'],
    ['privilege escalation unset', (p) => { delete p.containers[0].securityContext.allowPrivilegeEscalation; }, 'Privilege Escalation'],
    ['runAsNonRoot missing', (p) => { delete p.securityContext.runAsNonRoot; }, 'Running as Non-root'],
    ['container runAsNonRoot false', (p) => { p.containers[0].securityContext.runAsNonRoot = false; }, 'Running as Non-root'],
    ['root user', (p) => { p.containers[0].securityContext.runAsUser = 0; }, 'Running as Non-root user'],
    ['pod root user', (p) => { p.securityContext.runAsUser = 0; }, 'Running as Non-root user'],
    ['pod runAsNonRoot false behind a container\'s true', (p) => { p.securityContext.runAsNonRoot = false; p.containers[0].securityContext.runAsNonRoot = true; }, 'Running as Non-root'],
    ['pod seccomp Unconfined behind a container\'s RuntimeDefault', (p) => { p.securityContext.seccompProfile = { type: 'Unconfined' }; }, 'Seccomp'],
    ['AppArmor Unconfined on a container', (p) => { p.containers[0].securityContext.appArmorProfile = { type: 'Unconfined' }; }, 'AppArmor'],
    ['ephemeral debug container with the sysadmin profile', (p) => { p.ephemeralContainers = [{ name: 'debugger', image: 'busybox', securityContext: { privileged: true } }]; }, 'Privileged Containers'],
    ['no seccomp', (p) => { delete p.containers[0].securityContext.seccompProfile; }, 'Seccomp'],
    ['unconfined seccomp', (p) => { p.containers[0].securityContext.seccompProfile.type = 'Unconfined'; }, 'Seccomp'],
    ['capabilities not dropped', (p) => { p.containers[0].securityContext.capabilities.drop = []; }, 'Capabilities'],
    ['added capability', (p) => { p.containers[0].securityContext.capabilities.add = ['NET_ADMIN']; }, 'Capabilities'],
    ['privileged', (p) => { p.containers[0].securityContext.privileged = true; }, 'Privileged Containers'],
    ['hostPath volume', (p) => { p.volumes.push({ name: 'data', hostPath: { path: '/data' } }); }, 'HostPath Volumes'],
    ['nfs volume', (p) => { p.volumes.push({ name: 'nfs', nfs: { server: 'a', path: '/' } }); }, 'Volume Types'],
    ['host network', (p) => { p.hostNetwork = true; }, 'Host Namespaces'],
    ['host PID', (p) => { p.hostPID = true; }, 'Host Namespaces'],
    ['host port', (p) => { p.containers[0].ports = [{ containerPort: 80, hostPort: 80 }]; }, 'Host Ports'],
    ['unsafe sysctl', (p) => { p.securityContext.sysctls = [{ name: 'kernel.msgmax', value: '1' }]; }, 'Sysctls'],
    ['unmasked /proc', (p) => { p.containers[0].securityContext.procMount = 'Unmasked'; }, '/proc Mount Type'],
    ['custom SELinux type', (p) => { p.securityContext.seLinuxOptions = { type: 'spc_t' }; }, 'SELinux'],
    ['Windows host process', (p) => { p.securityContext.windowsOptions = { hostProcess: true }; }, 'HostProcess'],
    ['non-compliant init container', (p) => { p.initContainers = [{ name: 'init', image: 'x', securityContext: {} }]; }, 'Privilege Escalation'],
  ];

  test.each(tampered)('rejects %s', (_title, tamper, control) => {
    const pod = restrictedPod();
    tamper(pod);
    expect(controlsOf(pod)).toContain(control);
  });

  test('rejects an unconfined AppArmor annotation', () => {
    expect(controlsOf(restrictedPod(), { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' })).toContain('AppArmor');
  });

  test('NET_BIND_SERVICE is the one capability restricted allows to add', () => {
    const pod = restrictedPod();
    pod.containers[0].securityContext.capabilities.add = ['NET_BIND_SERVICE'];
    expect(restrictedViolations(pod)).toEqual([]);
  });
});

describe('Pod Security Standards "baseline"', () => {
  test('allows what only restricted forbids', () => {
    const pod = { containers: [{ name: 'app', image: 'x', securityContext: { capabilities: { add: ['CHOWN'] } } }], volumes: [{ name: 'n', nfs: {} }] };
    expect(baselineViolations(pod)).toEqual([]);
    expect(restrictedViolations(pod).length).toBeGreaterThan(0);
  });
});
