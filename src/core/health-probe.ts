import { Duration } from 'cdk8s';
import { kplus } from './plus';
import { PropValidator } from './validation';

/**
 * Timing of a probe. Unset fields take the defaults of the probe kind it is used for
 * (startup, readiness or liveness).
 */
export interface HealthProbeTiming {
  /**
   * How often the probe runs (`periodSeconds`).
   * @default - the probe kind's default
   */
  readonly period?: Duration;

  /**
   * How long one probe may take (`timeoutSeconds`).
   * @default - the probe kind's default
   */
  readonly timeout?: Duration;

  /**
   * Consecutive failures before the probe counts as failed (`failureThreshold`).
   * @default - the probe kind's default
   */
  readonly failureThreshold?: number;

  /**
   * Consecutive successes before a failed readiness probe counts as passing again
   * (`successThreshold`; must be 1 for startup and liveness probes).
   * @default 1
   */
  readonly successThreshold?: number;

  /**
   * Delay before the first probe (`initialDelaySeconds`). Prefer a startup probe.
   * @default - none
   */
  readonly initialDelay?: Duration;
}

/**
 * Options for `HealthProbe.http()`.
 */
export interface HttpHealthProbeOptions extends HealthProbeTiming {
  /**
   * The path, e.g. `/healthz`.
   */
  readonly path: string;

  /**
   * The container port.
   * @default - the service's port
   */
  readonly port?: number;

  /**
   * The `Host` header the kubelet sends. Django with a strict `ALLOWED_HOSTS` answers probes
   * sent to the pod IP (`Host: 10.1.2.3:8080`) with 400, so send a host name it allows.
   * @default - the service's `healthCheck.host`
   */
  readonly host?: string;
}

/**
 * Options for `HealthProbe.tcp()`.
 */
export interface TcpHealthProbeOptions extends HealthProbeTiming {
  /**
   * The container port.
   * @default - the service's port
   */
  readonly port?: number;
}

/**
 * What a probe checks.
 */
export enum HealthProbeKind {
  /** An HTTP GET answered with 2xx or 3xx. */
  HTTP = 'http',
  /** A TCP connection that opens. */
  TCP = 'tcp',
  /** A command that exits 0. */
  EXEC = 'exec',
  /** No probe. */
  NONE = 'none',
}

/**
 * A startup, readiness or liveness probe of a Python container.
 */
export class HealthProbe {
  /**
   * An HTTP GET on `path`, with the `Host` header set when a host is known.
   */
  public static http(options: HttpHealthProbeOptions): HealthProbe {
    return new HealthProbe(HealthProbeKind.HTTP, options, options.path, options.port, options.host);
  }

  /**
   * A TCP connection to the port. It only shows that the server accepts connections: a wedged
   * event loop still passes, because the kernel accepts them.
   */
  public static tcp(options: TcpHealthProbeOptions = {}): HealthProbe {
    return new HealthProbe(HealthProbeKind.TCP, options, undefined, options.port);
  }

  /**
   * A command run in the container, e.g. a heartbeat-file check for a background worker:
   * `['python', '-c', 'import os, sys, time; sys.exit(time.time() - os.path.getmtime("/tmp/heartbeat") > 60)']`.
   * @param command the command and its arguments (no shell); exit code 0 means healthy
   * @param timing period, timeout and thresholds
   */
  public static exec(command: string[], timing: HealthProbeTiming = {}): HealthProbe {
    return new HealthProbe(HealthProbeKind.EXEC, timing, undefined, undefined, undefined, command);
  }

  /**
   * No probe of this kind.
   */
  public static none(): HealthProbe {
    return new HealthProbe(HealthProbeKind.NONE, {});
  }

  /**
   * @param kind what the probe checks
   * @param timing period, timeout and thresholds
   * @param path the HTTP path
   * @param port the port
   * @param host the Host header
   * @param command the exec command
   */
  private constructor(
    /** What the probe checks. */
    public readonly kind: HealthProbeKind,
    /** Period, timeout and thresholds given. */
    public readonly timing: HealthProbeTiming,
    /** The HTTP path. */
    public readonly path?: string,
    /** The port, if given. */
    public readonly port?: number,
    /** The Host header, if given. */
    public readonly host?: string,
    /** The command of an exec probe. */
    public readonly command?: string[],
  ) {}
}

/** A probe with everything resolved, ready to render. Internal. */
export interface ResolvedProbe {
  readonly kind: HealthProbeKind;
  readonly path?: string;
  readonly port: number;
  readonly host?: string;
  readonly command?: string[];
  readonly period: Duration;
  readonly timeout: Duration;
  readonly failureThreshold: number;
  readonly successThreshold: number;
  readonly initialDelay?: Duration;
}

/** What a probe falls back to where it says nothing. Internal. */
export interface ProbeDefaults {
  readonly port: number;
  readonly host?: string;
  readonly period: Duration;
  readonly timeout: Duration;
  readonly failureThreshold: number;
}

/**
 * Checks a probe (under `prop`, e.g. `healthCheck.readiness`) and fills in the defaults.
 * `undefined` for `HealthProbe.none()`. Internal.
 */
export function resolveProbe(
  v: PropValidator, prop: string, probe: HealthProbe, defaults: ProbeDefaults, options: { readiness?: boolean } = {},
): ResolvedProbe | undefined {
  if (!(probe instanceof HealthProbe)) v.fail(prop, probe, 'must come from HealthProbe.http(), .tcp(), .exec() or .none()');
  if (probe.kind === HealthProbeKind.NONE) return undefined;
  const t = probe.timing ?? {};
  if (probe.kind === HealthProbeKind.HTTP && typeof probe.path !== 'string') v.fail(`${prop}.path`, probe.path, 'must be an HTTP path such as "/healthz"');
  v.httpPath(`${prop}.path`, probe.path);
  v.integerInRange(`${prop}.port`, probe.port, 1, 65535);
  if (probe.host !== undefined) validateHostHeader(v, `${prop}.host`, probe.host);
  if (probe.kind === HealthProbeKind.EXEC) {
    if (!Array.isArray(probe.command) || probe.command.length === 0 || probe.command.some((a) => typeof a !== 'string') || probe.command[0].trim() === '') {
      v.fail(`${prop}.command`, probe.command, 'must be a non-empty command, e.g. ["python", "-c", "..."]');
    }
  }
  v.positiveDuration(`${prop}.period`, t.period);
  v.positiveDuration(`${prop}.timeout`, t.timeout);
  v.positiveDuration(`${prop}.initialDelay`, t.initialDelay, { allowZero: true });
  v.integerInRange(`${prop}.failureThreshold`, t.failureThreshold, 1, 1_000);
  v.integerInRange(`${prop}.successThreshold`, t.successThreshold, 1, options.readiness ? 1_000 : 1);
  const resolved = {
    kind: probe.kind,
    path: probe.path,
    port: probe.port ?? defaults.port,
    host: probe.kind === HealthProbeKind.HTTP ? probe.host ?? defaults.host : undefined,
    command: probe.command,
    period: t.period ?? defaults.period,
    timeout: t.timeout ?? defaults.timeout,
    failureThreshold: t.failureThreshold ?? defaults.failureThreshold,
    successThreshold: t.successThreshold ?? 1,
    initialDelay: t.initialDelay,
  };
  if (resolved.timeout.toSeconds() > resolved.period.toSeconds()) {
    v.fail(`${prop}.timeout`, resolved.timeout, `must not exceed the period (${resolved.period.toSeconds()}s): probes would overlap`);
  }
  return resolved;
}

/** The kplus probe for a resolved probe (the Host header is added to the rendered pod separately). Internal. */
export function toKplusProbe(p: ResolvedProbe): kplus.Probe {
  const options = {
    periodSeconds: p.period,
    timeoutSeconds: p.timeout,
    failureThreshold: p.failureThreshold,
    successThreshold: p.successThreshold === 1 ? undefined : p.successThreshold,
    initialDelaySeconds: p.initialDelay,
  };
  switch (p.kind) {
    case HealthProbeKind.HTTP: return kplus.Probe.fromHttpGet(p.path!, Object.assign({}, options, { port: p.port }));
    case HealthProbeKind.TCP: return kplus.Probe.fromTcpSocket(Object.assign({}, options, { port: p.port }));
    default: return kplus.Probe.fromCommand(p.command!, options);
  }
}

const HOST = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?$/;

/** Checks a Host header value. Internal. */
export function validateHostHeader(v: PropValidator, prop: string, host: string): void {
  if (typeof host !== 'string' || !HOST.test(host) || host.length > 253) {
    v.fail(prop, host, 'must be a lower-case host name (optionally with ":port") that the app accepts, e.g. "shop.example.com"; no wildcard, scheme or path');
  }
}
