import { Duration } from 'cdk8s';
import { BackingService, redisTargetOf } from '../../core/backing-service';
import { PropValidator } from '../../core/validation';

/**
 * A key of a Secret in the app namespace.
 */
export interface SecretKeySelector {
  /** The Secret's name. */
  readonly secretName: string;
  /** The key inside it. */
  readonly key: string;
}

/**
 * Replica bounds and pacing shared by every queue trigger.
 */
export interface QueueScalingLimits {
  /**
   * The fewest replicas; 0 scales to zero when the queue is empty (and KEDA wakes the worker up).
   * @default 1
   */
  readonly minReplicas?: number;

  /**
   * The most replicas.
   */
  readonly maxReplicas: number;

  /**
   * How long the queue must stay below its activation threshold before KEDA scales to zero
   * (`cooldownPeriod`; only with `minReplicas: 0`).
   * @default Duration.minutes(5)
   */
  readonly cooldownPeriod?: Duration;

  /**
   * How often KEDA reads the queue (`pollingInterval`).
   * @default Duration.seconds(30)
   */
  readonly pollingInterval?: Duration;

  /**
   * How long the queue must stay short before replicas are removed; then one pod a minute at most,
   * so a short lull does not terminate many busy workers at once.
   * @default Duration.minutes(5)
   */
  readonly scaleDownStabilization?: Duration;
}

/**
 * Options for `QueueScaling.redisListOf()`: the list, the target and the limits; the address,
 * database and password come from the broker's declaration.
 */
export interface BrokerListScalingOptions extends QueueScalingLimits {
  /** The list (Celery: the queue name, `celery` by default; RQ: `rq:queue:<name>`). */
  readonly listName: string;

  /** The list length per replica KEDA aims for. */
  readonly targetLength: number;

  /**
   * The length below which the worker stays at `minReplicas` (with `minReplicas: 0`, the wake-up threshold).
   * @default 0
   */
  readonly activationListLength?: number;

  /**
   * Connect with TLS.
   * @default false
   */
  readonly enableTls?: boolean;
}

/**
 * Options for `QueueScaling.redisList()`.
 */
export interface RedisListScalingOptions extends QueueScalingLimits {
  /**
   * The Redis address, `host:port` (e.g. `redis-master.redis:6379`).
   */
  readonly address: string;

  /**
   * The list the worker consumes (Celery's default queue is the list `celery`).
   */
  readonly listName: string;

  /**
   * Messages per replica the autoscaler aims for (`listLength`).
   */
  readonly targetLength: number;

  /**
   * Messages that wake a scaled-to-zero worker (`activationListLength`).
   * @default 0
   */
  readonly activationListLength?: number;

  /**
   * The Redis database (`databaseIndex`).
   * @default 0
   */
  readonly databaseIndex?: number;

  /**
   * Connect with TLS (`enableTLS`).
   * @default false
   */
  readonly enableTls?: boolean;

  /**
   * The Secret key that holds the Redis password, passed to KEDA through a TriggerAuthentication.
   * @default - no password
   */
  readonly password?: SecretKeySelector;
}

/**
 * Options for `QueueScaling.rabbitmq()`.
 */
export interface RabbitMqScalingOptions extends QueueScalingLimits {
  /**
   * The queue the worker consumes.
   */
  readonly queueName: string;

  /**
   * Messages per replica the autoscaler aims for (`mode: QueueLength`, `value`).
   */
  readonly targetLength: number;

  /**
   * Messages that wake a scaled-to-zero worker (`activationValue`).
   * @default 0
   */
  readonly activationLength?: number;

  /**
   * The Secret key that holds the AMQP URI with credentials (`amqp://user:password@host:5672/vhost`),
   * passed to KEDA through a TriggerAuthentication as `host`.
   */
  readonly host: SecretKeySelector;
}

/**
 * A Secret key a custom trigger authenticates with.
 */
export interface TriggerSecret {
  /** The trigger parameter, e.g. `password` or `connection`. */
  readonly parameter: string;
  /** The Secret's name. */
  readonly secretName: string;
  /** The key inside it. */
  readonly key: string;
}

/**
 * Options for `QueueScaling.custom()`.
 */
export interface CustomQueueScalingOptions extends QueueScalingLimits {
  /**
   * The KEDA scaler type, e.g. `aws-sqs-queue`, `kafka`, `postgresql`.
   */
  readonly type: string;

  /**
   * The scaler's metadata, as KEDA documents it for that type.
   */
  readonly metadata: { [key: string]: string };

  /**
   * Secret keys the trigger needs, passed through a TriggerAuthentication.
   * @default - none
   */
  readonly secrets?: TriggerSecret[];
}

/** A queue trigger after validation. Internal. */
export interface ResolvedQueueScaling {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cooldownPeriod: Duration;
  readonly pollingInterval: Duration;
  readonly scaleDownStabilization: Duration;
  readonly type: string;
  readonly metadata: { [key: string]: string };
  readonly secrets: TriggerSecret[];
}

/**
 * Scales a worker on the length of its queue with KEDA (`keda.sh/v1alpha1` ScaledObject, plus a
 * TriggerAuthentication when a Secret holds credentials). KEDA owns the replica count (it creates
 * the HorizontalPodAutoscaler), so the Deployment omits `replicas`.
 */
export class QueueScaling {
  /**
   * A Redis list (Celery with a Redis broker, RQ).
   */
  public static redisList(options: RedisListScalingOptions): QueueScaling {
    return new QueueScaling((v) => {
      if (typeof options.address !== 'string' || !/^[A-Za-z0-9.-]+:[0-9]{1,5}$/.test(options.address)) {
        v.fail('queueScaling.address', options.address, 'must be "host:port", e.g. "redis-master.redis:6379"');
      }
      v.nonEmptyString('queueScaling.listName', options.listName);
      v.integerInRange('queueScaling.targetLength', options.targetLength, 1, 1_000_000);
      v.integerInRange('queueScaling.activationListLength', options.activationListLength, 0, 1_000_000);
      v.integerInRange('queueScaling.databaseIndex', options.databaseIndex, 0, 1_000);
      const secrets = options.password ? [secretOf(v, 'queueScaling.password', 'password', options.password)] : [];
      return resolveLimits(v, options, 'redis', {
        address: options.address,
        listName: options.listName,
        listLength: String(options.targetLength),
        ...(options.activationListLength !== undefined ? { activationListLength: String(options.activationListLength) } : {}),
        ...(options.databaseIndex !== undefined ? { databaseIndex: String(options.databaseIndex) } : {}),
        ...(options.enableTls ? { enableTLS: 'true' } : {}),
      }, secrets);
    });
  }

  /**
   * A Redis list on the broker a service `use()`s: KEDA's address, database and password (its
   * own `password` parameter, from the same Secret key) come from that one declaration.
   * @param broker a `BackingService.redis()`
   * @param options the list, the target length and the limits
   */
  public static redisListOf(broker: BackingService, options: BrokerListScalingOptions): QueueScaling {
    return new QueueScaling((v) => {
      const target = redisTargetOf(v, broker, 'queueScaling broker');
      const scaling = QueueScaling.redisList(Object.assign({}, options, {
        address: `${target.host}:${target.port}`,
        databaseIndex: target.database === 0 ? undefined : target.database,
        password: target.password,
      }));
      return resolvers.get(scaling)!(v);
    });
  }

  /**
   * A RabbitMQ queue (Celery or Dramatiq with a RabbitMQ broker), by queue length.
   */
  public static rabbitmq(options: RabbitMqScalingOptions): QueueScaling {
    return new QueueScaling((v) => {
      v.nonEmptyString('queueScaling.queueName', options.queueName);
      v.integerInRange('queueScaling.targetLength', options.targetLength, 1, 1_000_000);
      v.integerInRange('queueScaling.activationLength', options.activationLength, 0, 1_000_000);
      if (options.host === undefined) v.fail('queueScaling.host', options.host, 'must name the Secret key that holds the AMQP URI');
      return resolveLimits(v, options, 'rabbitmq', {
        protocol: 'amqp',
        queueName: options.queueName,
        mode: 'QueueLength',
        value: String(options.targetLength),
        ...(options.activationLength !== undefined ? { activationValue: String(options.activationLength) } : {}),
      }, [secretOf(v, 'queueScaling.host', 'host', options.host)]);
    });
  }

  /**
   * Any other KEDA trigger.
   */
  public static custom(options: CustomQueueScalingOptions): QueueScaling {
    return new QueueScaling((v) => {
      if (typeof options.type !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(options.type)) v.fail('queueScaling.type', options.type, 'must be a KEDA scaler type such as "aws-sqs-queue"');
      for (const [key, value] of Object.entries(options.metadata ?? {})) {
        if (typeof value !== 'string') v.fail(`queueScaling.metadata.${key}`, value, 'must be a string (KEDA metadata values are strings)');
      }
      const secrets = (options.secrets ?? []).map((s, i) => {
        v.nonEmptyString(`queueScaling.secrets[${i}].parameter`, s.parameter);
        return secretOf(v, `queueScaling.secrets[${i}]`, s.parameter, s);
      });
      return resolveLimits(v, options, options.type, { ...(options.metadata ?? {}) }, secrets);
    });
  }

  private constructor(resolver: (v: PropValidator) => ResolvedQueueScaling) {
    resolvers.set(this, resolver);
  }
}

const resolvers = new WeakMap<QueueScaling, (v: PropValidator) => ResolvedQueueScaling>();

/** Checks a queue trigger (errors name the validator's construct) and applies its defaults. Internal. */
export function resolveQueueScaling(v: PropValidator, scaling: QueueScaling): ResolvedQueueScaling {
  const resolver = resolvers.get(scaling);
  if (!resolver) v.fail('queueScaling', scaling, 'must come from QueueScaling.redisList(), .rabbitmq() or .custom()');
  return resolver(v);
}

function secretOf(v: PropValidator, prop: string, parameter: string, s: { secretName: string; key: string }): TriggerSecret {
  v.dnsSubdomain(`${prop}.secretName`, s?.secretName);
  if (typeof s?.secretName !== 'string') v.fail(`${prop}.secretName`, s?.secretName, 'must name a Secret in the app namespace');
  if (typeof s.key !== 'string' || !/^[-._a-zA-Z0-9]+$/.test(s.key)) v.fail(`${prop}.key`, s.key, 'must be a Secret key (letters, digits, "-", "_", ".")');
  return { parameter, secretName: s.secretName, key: s.key };
}

function resolveLimits(
  v: PropValidator, o: QueueScalingLimits, type: string, metadata: { [key: string]: string }, secrets: TriggerSecret[],
): ResolvedQueueScaling {
  const minReplicas = o.minReplicas ?? 1;
  v.integerInRange('queueScaling.minReplicas', minReplicas, 0, 10_000);
  v.integerInRange('queueScaling.maxReplicas', o.maxReplicas, 1, 10_000);
  if (minReplicas > o.maxReplicas) v.fail('queueScaling.minReplicas', minReplicas, `must not exceed queueScaling.maxReplicas (${o.maxReplicas})`);
  const cooldownPeriod = o.cooldownPeriod ?? Duration.minutes(5);
  const pollingInterval = o.pollingInterval ?? Duration.seconds(30);
  const scaleDownStabilization = o.scaleDownStabilization ?? Duration.minutes(5);
  v.positiveDuration('queueScaling.cooldownPeriod', cooldownPeriod);
  v.positiveDuration('queueScaling.pollingInterval', pollingInterval);
  v.positiveDuration('queueScaling.scaleDownStabilization', scaleDownStabilization, { allowZero: true });
  if (scaleDownStabilization.toSeconds() > 3600) v.fail('queueScaling.scaleDownStabilization', scaleDownStabilization, 'must be at most one hour (the Kubernetes limit)');
  return { minReplicas, maxReplicas: o.maxReplicas, cooldownPeriod, pollingInterval, scaleDownStabilization, type, metadata, secrets };
}
