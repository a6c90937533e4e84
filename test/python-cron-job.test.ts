import { Chart, Duration, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { PythonCronJob } from '../src';
import { appContainer, expectStrictlyValid, only, podTemplateOf, synth } from './support/manifests';

describe('PythonCronJob alone', () => {
  const chart = new Chart(Testing.app(), 'reports', { namespace: 'reports' });
  new PythonCronJob(chart, 'weekly-report', {
    image: 'ghcr.io/acme/reports:3.1',
    schedule: '30 6 * * 1',
    command: ['python', '-m', 'reports.weekly'],
    concurrencyPolicy: kplus.ConcurrencyPolicy.REPLACE,
    activeDeadline: Duration.minutes(20),
    backoffLimit: 0,
    successfulJobsHistory: 1,
    suspend: true,
  });
  const manifests = synth(chart);
  const cron = only(manifests, 'CronJob');

  test('a batch/v1 CronJob with its own ServiceAccount, restricted and strictly valid', () => {
    expect(cron.apiVersion).toBe('batch/v1');
    expect(cron.metadata.name).toBe('weekly-report');
    expect(podTemplateOf(cron)!.spec.serviceAccountName).toBe('weekly-report');
    expect(podTemplateOf(cron)!.spec.automountServiceAccountToken).toBe(false);
    expectStrictlyValid(manifests);
  });

  test('schedule, policies and history as given', () => {
    expect(cron.spec).toMatchObject({ schedule: '30 6 * * 1', concurrencyPolicy: 'Replace', suspend: true, successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 3 });
    expect(cron.spec.jobTemplate.spec).toMatchObject({ activeDeadlineSeconds: 1200, backoffLimit: 0 });
    expect(appContainer(cron).command).toEqual(['python', '-m', 'reports.weekly']);
    expect(cron.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'weekly-report', 'app.kubernetes.io/component': 'cronjob', 'app.kubernetes.io/version': '3.1' });
  });
});

describe('what every component kind offers, like a worker', () => {
  test('a native sidecar (a proxy to the database) runs beside each job, restricted, and the job\'s policy admits its image', () => {
    const chart = new Chart(Testing.app(), 'reports', { namespace: 'reports' });
    const cron = new PythonCronJob(chart, 'nightly', {
      image: 'ghcr.io/acme/reports:2.0',
      schedule: '0 3 * * *',
      command: ['python', '-m', 'reports.nightly'],
      security: { allowedImages: ['ghcr.io/acme/', 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1'] },
    });
    const sidecar = cron.addSidecar('cloud-sql-proxy', { image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1', args: ['--port=5432', 'acme:europe-west1:reports'] });
    expect(sidecar.name).toBe('cloud-sql-proxy');
    const manifests = synth(chart);
    const pod = podTemplateOf(only(manifests, 'CronJob', 'nightly'))!.spec;
    expect(pod.initContainers).toEqual([expect.objectContaining({
      name: 'cloud-sql-proxy',
      restartPolicy: 'Always',
      securityContext: expect.objectContaining({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }),
    })]);
    expectStrictlyValid(manifests);
  });

  test('a sidecar image outside the job\'s allowed images fails the synthesis, naming it', () => {
    const chart = new Chart(Testing.app(), 'reports', { namespace: 'reports' });
    const cron = new PythonCronJob(chart, 'nightly', {
      image: 'ghcr.io/acme/reports:2.0', schedule: '0 3 * * *', command: ['python', '-m', 'reports.nightly'], security: { allowedImages: ['ghcr.io/acme/'] },
    });
    cron.addSidecar('proxy', { image: 'docker.io/library/haproxy:3.1' });
    expect(() => synth(chart)).toThrow(/docker\.io\/library\/haproxy:3\.1/);
  });
});
