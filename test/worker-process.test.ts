import { Duration } from 'cdk8s';
import { CeleryPool, WorkerProcess, WorkerProcessBindOptions, WorkerProcessKind } from '../src';
import { stderrOf } from './support/stderr';

const pod = (cpuMillis: number, processesThatFit = 16): WorkerProcessBindOptions => ({
  cpuMillis, processesThatFit, taskTimeLimit: Duration.minutes(2), stateDir: '/tmp', constructLabel: "PythonWorker 'w'",
});

describe('WorkerProcess', () => {
  test.each([[250, 1], [1000, 1], [1500, 2], [4000, 4]])('Celery prefork at %i m CPU runs %i processes (never the node\'s cores)', (millis, processes) => {
    const config = WorkerProcess.celery({ app: 'shop' }).bind(pod(millis));
    expect(config.processes).toBe(processes);
    expect(config.command).toEqual(['celery', '-A', 'shop', 'worker', '--loglevel', 'INFO', '--concurrency', String(processes), '--pool', 'prefork']);
  });

  test('Celery has no hard time limit unless one is asked for: the app\'s own task_time_limit applies, and hours-long tasks are not killed', () => {
    expect(WorkerProcess.celery({ app: 'shop' }).bind(pod(1000)).command).not.toContain('--time-limit');
    expect(WorkerProcess.celery({ app: 'shop', timeLimit: Duration.minutes(2) }).bind(pod(1000)).command).toEqual(expect.arrayContaining(['--pool', 'prefork', '--time-limit', '120']));
  });

  test('a hard time limit needs the prefork pool, and one longer than the shutdown time warns that a task running at shutdown is killed first', () => {
    expect(() => WorkerProcess.celery({ app: 'shop', pool: CeleryPool.THREADS, timeLimit: Duration.minutes(1) }).bind(pod(1000)))
      .toThrow("PythonWorker 'w': process.timeLimit (1 minute) needs the prefork pool: the threads pool cannot kill a running task; leave timeLimit unset or use CeleryPool.PREFORK");
    expect(() => WorkerProcess.celery({ app: 'shop', timeLimit: Duration.seconds(0) }).bind(pod(1000))).toThrow(/process.timeLimit .* must be longer than zero/);
    const warnings = stderrOf(() => WorkerProcess.celery({ app: 'shop', timeLimit: Duration.hours(2) }).bind(Object.assign(pod(1000), { constructLabel: "PythonWorker 'long'" })));
    expect(warnings.join('')).toContain("PythonWorker 'long': process.timeLimit (7200s) is longer than shutdown.taskTimeLimit (120s)");
  });

  test('memory caps the prefork count; an explicit count that does not fit is an error', () => {
    expect(WorkerProcess.celery({ app: 'shop' }).bind(pod(4000, 3)).processes).toBe(3);
    expect(() => WorkerProcess.celery({ app: 'shop', concurrency: 6 }).bind(pod(4000, 3))).toThrow("PythonWorker 'w': process.concurrency 6 does not fit in the pod's memory: 3 prefork processes do");
  });

  test('solo runs one task; queues and extra args go through', () => {
    expect(WorkerProcess.celery({ app: 'shop.celery:app', pool: CeleryPool.SOLO, queues: ['a', 'b'], extraArgs: ['-O', 'fair'] }).bind(pod(2000)).command)
      .toEqual(['celery', '-A', 'shop.celery:app', 'worker', '--loglevel', 'INFO', '--concurrency', '1', '--pool', 'solo', '--queues', 'a,b', '-O', 'fair']);
  });

  test('beat is a singleton with a file schedule on the state dir, or a scheduler class', () => {
    const beat = WorkerProcess.celeryBeat({ app: 'shop' }).bind(pod(250));
    expect(beat).toMatchObject({ kind: WorkerProcessKind.CELERY_BEAT, singleton: true, processes: 1 });
    expect(WorkerProcess.celeryBeat({ app: 'shop', scheduler: 'django_celery_beat.schedulers:DatabaseScheduler' }).bind(pod(250)).command)
      .toEqual(['celery', '-A', 'shop', 'beat', '--loglevel', 'INFO', '--scheduler', 'django_celery_beat.schedulers:DatabaseScheduler']);
  });

  test('Dramatiq gets the task time limit to finish messages after SIGTERM, in milliseconds', () => {
    expect(WorkerProcess.dramatiq({ module: 'shop.tasks', processes: 2, threads: 4 }).bind(pod(4000)).command)
      .toEqual(['dramatiq', 'shop.tasks', '--processes', '2', '--threads', '4', '--worker-shutdown-timeout', '120000']);
  });

  test.each([
    [() => WorkerProcess.celery({ app: '' }), 'process.app "" must be a Celery app'],
    [() => WorkerProcess.celery({ app: 'shop', pool: 'eventlet' as CeleryPool }), 'process.pool "eventlet" must be one of prefork, threads, gevent, solo'],
    [() => WorkerProcess.celery({ app: 'shop', queues: ['a b'] }), 'process.queues[0] "a b" must be a queue name'],
    [() => WorkerProcess.dramatiq({ module: 'shop/tasks' }), 'process.module "shop/tasks" must be a Python module'],
    [() => WorkerProcess.command([]), 'process.command [] must be a non-empty list of strings'],
  ])('rejects bad options clearly (%#)', (make, message) => {
    expect(() => make().bind(pod(1000))).toThrow(`PythonWorker 'w': ${message}`);
  });

  test('django-rq\'s worker sets up Django before the jobs run: manage.py rqworker with the queues, one process, like RQ', () => {
    const config = WorkerProcess.djangoRq({ queues: ['high', 'default'] }).bind(pod(2000));
    expect(config).toMatchObject({ kind: WorkerProcessKind.RQ, command: ['python', 'manage.py', 'rqworker', 'high', 'default'], processes: 1, singleton: false });
    expect(() => WorkerProcess.djangoRq({ queues: [] }).bind(pod(1000))).toThrow("PythonWorker 'w': process.queues [] must list at least one queue");
  });
});
