import { Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { PythonPodTemplate } from '../src';
import { restrictedViolations } from '../src/pod-security-standards';
import { appContainer, envOf, expectStrictlyValid, only, podTemplateOf, synth } from './support/manifests';

function jobWith(template: (chart: Chart) => PythonPodTemplate) {
  const chart = new Chart(Testing.app(), 'jobs', { namespace: 'jobs' });
  const pod = template(chart);
  const job = new kplus.Job(chart, 'Job', { ...pod.podProps(), restartPolicy: kplus.RestartPolicy.NEVER });
  pod.addContainer(job, { name: 'task', command: ['python', '-m', 'reports'], derivedEnv: { WEB_CONCURRENCY: '1' } });
  return synth(chart);
}

describe('PythonPodTemplate', () => {
  const manifests = jobWith((chart) => new PythonPodTemplate({
    image: 'ghcr.io/acme/api:1.0.0',
    serviceAccount: new kplus.ServiceAccount(chart, 'Sa', { automountToken: false }),
    env: { WEB_CONCURRENCY: '4', DJANGO_SETTINGS_MODULE: 'shop.settings' },
    resources: { cpu: kplus.Cpu.millis(1500), memory: Size.mebibytes(384) },
  }));
  const job = only(manifests, 'Job');
  const pod = podTemplateOf(job)!;
  const container = appContainer(job);

  test('adds a Python container to any cdk8s-plus workload that passes Pod Security "restricted"', () => {
    expectStrictlyValid(manifests);
    expect(restrictedViolations(pod.spec, pod.metadata.annotations ?? {})).toEqual([]);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(pod.spec.serviceAccountName).toBeDefined();
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsUser: 10001 });
  });

  test('mounts a size-limited /tmp, since the root filesystem is read-only', () => {
    expect(container.volumeMounts).toEqual([{ mountPath: '/tmp', name: 'tmp' }]);
    expect(pod.spec.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }]);
  });

  test('the Python environment: defaults, then derived values, then the user\'s, which win', () => {
    expect(envOf(container)).toMatchObject({
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      TMPDIR: '/tmp',
      PYTHON_CPU_COUNT: '2', // ceil(1.5 CPU)
      WEB_CONCURRENCY: '4',
      DJANGO_SETTINGS_MODULE: 'shop.settings',
    });
    expect(container.resources).toMatchObject({ requests: { cpu: '1500m', memory: '384Mi' }, limits: { memory: '384Mi' } });
  });

  test.each([
    [{ image: '' }, 'PythonPodTemplate: image "" must be a non-empty container image reference'],
    [{ image: 'a:1', securityContext: { runAsUser: 0 } }, 'securityContext.runAsUser 0 must be a whole number from 1 to 2147483647'],
    [{ image: 'a:1', env: { '1X': 'y' } }, 'env name "1X" must be a valid variable name'],
    [{ image: 'a:1', resources: { memory: Size.kibibytes(100) } }, 'resources.memory "100Ki" must be a whole number of mebibytes'],
  ])('rejects %j clearly', (props, message) => {
    expect(() => new PythonPodTemplate({ ...props, errorLabel: undefined })).toThrow(message);
  });
});
