import { Chart, Testing } from 'cdk8s';
import { PythonService, QueueScaling, WorkerProcess } from '../src';
import { expectStrictlyValid, Manifest, only, synth } from './support/manifests';

function worker(queueScaling: QueueScaling): Manifest[] {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new PythonService(chart, 'shop', { image: 'ghcr.io/acme/shop:1' }).addWorker('worker', { process: WorkerProcess.celery({ app: 'shop' }), queueScaling });
  return synth(chart);
}

describe('QueueScaling', () => {
  test('RabbitMQ by queue length, the AMQP URI from a Secret', () => {
    const manifests = worker(QueueScaling.rabbitmq({ queueName: 'celery', targetLength: 50, maxReplicas: 8, host: { secretName: 'rabbitmq', key: 'uri' } }));
    expect(only(manifests, 'ScaledObject').spec.triggers).toEqual([{
      type: 'rabbitmq', metadata: { protocol: 'amqp', queueName: 'celery', mode: 'QueueLength', value: '50' }, authenticationRef: { name: 'shop-worker-keda' },
    }]);
    expect(only(manifests, 'TriggerAuthentication').spec.secretTargetRef).toEqual([{ parameter: 'host', name: 'rabbitmq', key: 'uri' }]);
    expectStrictlyValid(manifests);
  });

  test('Redis without a password needs no TriggerAuthentication; TLS, database and activation are passed on', () => {
    const manifests = worker(QueueScaling.redisList({ address: 'redis:6380', listName: 'celery', targetLength: 10, maxReplicas: 4, enableTls: true, databaseIndex: 2, activationListLength: 1 }));
    expect(manifests.some((m) => m.kind === 'TriggerAuthentication')).toBe(false);
    expect(only(manifests, 'ScaledObject').spec.triggers[0].metadata).toEqual({
      address: 'redis:6380', listName: 'celery', listLength: '10', activationListLength: '1', databaseIndex: '2', enableTLS: 'true',
    });
    expect(only(manifests, 'ScaledObject').spec).toMatchObject({ minReplicaCount: 1, pollingInterval: 30 });
  });

  test('any other trigger through custom()', () => {
    const manifests = worker(QueueScaling.custom({
      type: 'aws-sqs-queue', metadata: { queueURL: 'https://sqs.eu-central-1.amazonaws.com/1/shop', queueLength: '5', awsRegion: 'eu-central-1' }, maxReplicas: 3,
    }));
    expect(only(manifests, 'ScaledObject').spec.triggers[0]).toEqual({ type: 'aws-sqs-queue', metadata: { queueURL: 'https://sqs.eu-central-1.amazonaws.com/1/shop', queueLength: '5', awsRegion: 'eu-central-1' } });
    expectStrictlyValid(manifests);
  });

  test.each([
    [() => QueueScaling.redisList({ address: 'redis:6379', listName: '', targetLength: 1, maxReplicas: 1 }), 'queueScaling.listName "" must be a non-empty string'],
    [() => QueueScaling.rabbitmq({ queueName: 'q', targetLength: 0, maxReplicas: 1, host: { secretName: 'r', key: 'uri' } }), 'queueScaling.targetLength 0 must be a whole number from 1'],
    [() => QueueScaling.custom({ type: 'Kafka', metadata: {}, maxReplicas: 1 }), 'queueScaling.type "Kafka" must be a KEDA scaler type'],
    [() => QueueScaling.redisList({ address: 'redis:6379', listName: 'q', targetLength: 1, maxReplicas: 1, password: { secretName: 'Redis', key: 'p' } }), 'queueScaling.password.secretName "Redis" must be a DNS-1123 subdomain'],
  ])('rejects bad options clearly (%#)', (make, message) => {
    expect(() => worker(make())).toThrow(`PythonService 'shop' PythonWorker 'worker': ${message}`);
  });
});
