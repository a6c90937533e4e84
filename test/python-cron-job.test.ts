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
