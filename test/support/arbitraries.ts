import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import * as fc from 'fast-check';
import {
  AdmissionEngine, AdmissionPolicyApiVersion, BackupVolumeMode, Exposure, PolicyEnforcement, PreStopMethod, PythonServer, PythonServiceProps,
} from '../../src';

const REGISTRIES = ['registry.example.com/shop/', 'ghcr.io/acme/', 'localhost:5000/'];
const lower = fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/);

/** A DNS-1035 service name short enough for every derived object name. */
export const serviceName = fc.stringMatching(/^[a-z][a-z0-9-]{0,18}[a-z0-9]$/).filter((s) => !s.includes('--'));

const tag = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/);
const digest = fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`);

/** An image under one of the known registries, with a tag, a digest, both, or neither. */
export const imageAndRegistry = fc.record({
  registry: fc.constantFrom(...REGISTRIES),
  repo: lower,
  tag: fc.option(tag, { nil: undefined }),
  digest: fc.option(digest, { nil: undefined }),
}).map(({ registry, repo, tag: t, digest: d }) => ({
  registry,
  image: `${registry}${repo}${t ? `:${t}` : ''}${d ? `@${d}` : ''}`,
}));

const appRef = fc.tuple(lower, lower).map(([m, v]) => `${m}.wsgi:${v}`);
const seconds = (min: number, max: number) => fc.integer({ min, max }).map((s) => Duration.seconds(s));

/** A server, with the fixed worker count it asks for (an explicit count must fit in memory). */
export const server: fc.Arbitrary<{ server?: PythonServer; workers?: number }> = fc.oneof(
  fc.constant({}),
  fc.record({ app: appRef, workers: fc.option(fc.integer({ min: 1, max: 16 }), { nil: undefined }), gracefulTimeout: fc.option(seconds(1, 120), { nil: undefined }), maxRequests: fc.option(fc.integer({ min: 1, max: 10000 }), { nil: undefined }) })
    .map((o) => ({ server: PythonServer.gunicorn(o), workers: o.workers })),
  fc.record({ app: appRef, workers: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }), gracefulTimeout: fc.option(seconds(1, 120), { nil: undefined }) })
    .map((o) => ({ server: PythonServer.uvicorn(o), workers: o.workers })),
  fc.array(lower, { minLength: 1, maxLength: 4 }).map((cmd) => ({ server: PythonServer.command(cmd) })),
);

const envName = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,15}$/);
const cronField = (max: number, min = 0) => fc.oneof(fc.constant('*'), fc.integer({ min, max }).map(String), fc.integer({ min: 1, max: Math.max(1, max) }).map((n) => `*/${n}`));
const cron = fc.tuple(cronField(59), cronField(23), cronField(28, 1), cronField(12, 1), cronField(6)).map((f) => f.join(' '));

const exposure = fc.oneof(
  fc.constant(Exposure.clusterIp()),
  fc.constant(Exposure.loadBalancer()),
  fc.integer({ min: 30000, max: 32767 }).map((nodePort) => Exposure.nodePort({ nodePort })),
  fc.tuple(lower, fc.boolean()).map(([host, tls]) => Exposure.ingress({ host: `${host}.example.com`, tlsSecretName: tls ? `${host}-tls` : undefined })),
  fc.tuple(lower, fc.boolean(), fc.option(lower, { nil: undefined })).map(([host, https, proxyNamespace]) => Exposure.gateway({
    gatewayName: 'public', gatewayNamespace: 'gateway-system', sectionName: https ? 'https' : undefined, hostnames: [`${host}.example.com`], proxyNamespace,
  })),
);

const cidr = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 8, max: 32 })).map(([a, b, bits]) => `${a}.${b}.0.0/${bits}`);
const peer = fc.oneof(
  cidr.map((c) => ({ cidr: c })),
  lower.map((ns) => ({ namespaceName: ns })),
  fc.tuple(lower, lower).map(([k, val]) => ({ podLabels: { [k]: val } })),
);

/**
 * Random valid PythonServiceProps across the whole prop space. Props that are only valid
 * together (ReadWriteOnce storage with one replica, a metrics port unlike the app port) are
 * generated together.
 */
export const validProps: fc.Arbitrary<PythonServiceProps> = fc.record({
  img: imageAndRegistry,
  name: serviceName,
  server,
  port: fc.integer({ min: 1024, max: 65000 }),
  servicePort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  scaling: fc.oneof(
    fc.record({ replicas: fc.integer({ min: 0, max: 10 }) }),
    fc.record({ min: fc.integer({ min: 1, max: 5 }), extra: fc.integer({ min: 0, max: 10 }), cpu: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }), mem: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }) })
      .map((a) => ({ autoscaling: { minReplicas: a.min, maxReplicas: a.min + a.extra, targetCpuUtilization: a.cpu, targetMemoryUtilization: a.mem } })),
  ),
  cpu: fc.integer({ min: 1, max: 4000 }),
  // At least what one gunicorn worker needs next to its memory-backed volumes (smaller is a clear error, tested elsewhere).
  memory: fc.integer({ min: 256, max: 4096 }),
  memoryPerProcess: fc.option(fc.constantFrom(64, 128, 200), { nil: undefined }),
  env: fc.dictionary(envName, fc.string({ maxLength: 20 }), { maxKeys: 4 }),
  healthPath: fc.option(lower.map((p) => `/${p}`), { nil: undefined }),
  expose: exposure,
  persistence: fc.option(fc.record({ size: fc.integer({ min: 1, max: 100 }), rwx: fc.boolean() }), { nil: undefined }),
  monitoring: fc.option(fc.record({ separatePort: fc.boolean(), interval: fc.integer({ min: 5, max: 120 }), alerts: fc.boolean() }), { nil: undefined }),
  backup: fc.option(fc.record({ schedule: cron, days: fc.integer({ min: 1, max: 90 }) }), { nil: undefined }),
  security: fc.option(fc.record({
    engine: fc.constantFrom(AdmissionEngine.VALIDATING_ADMISSION_POLICY, AdmissionEngine.KYVERNO),
    version: fc.constantFrom(AdmissionPolicyApiVersion.V1, AdmissionPolicyApiVersion.V1BETA1),
    enforcement: fc.constantFrom(PolicyEnforcement.DENY, PolicyEnforcement.AUDIT),
    ingressFrom: fc.option(fc.array(peer, { minLength: 1, maxLength: 2 }), { nil: undefined }),
    egressTo: fc.option(fc.array(fc.record({ peers: fc.array(peer, { minLength: 1, maxLength: 2 }), ports: fc.array(fc.record({ port: fc.integer({ min: 1, max: 65535 }) }), { maxLength: 2 }) }), { maxLength: 2 }), { nil: undefined }),
  }), { nil: undefined }),
  migrations: fc.option(fc.array(lower, { minLength: 1, maxLength: 3 }), { nil: undefined }),
}).map((r) => {
  const singleReplica = r.persistence && !r.persistence.rwx;
  const scaling = singleReplica ? { replicas: 1 } : r.scaling;
  const props: PythonServiceProps = {
    image: r.img.image,
    name: r.name,
    server: r.server.server,
    port: r.port,
    servicePort: r.servicePort,
    ...scaling,
    // Room for an explicit worker count: each process, the memory-backed volumes and the master.
    resources: { cpu: kplus.Cpu.millis(r.cpu), memory: Size.mebibytes(Math.max(r.memory, (r.server.workers ?? 1) * (r.memoryPerProcess ?? 128) + 16 + 32 + 64)) },
    memoryPerProcess: r.memoryPerProcess !== undefined ? Size.mebibytes(r.memoryPerProcess) : undefined,
    env: r.env,
    healthCheck: r.healthPath ? { path: r.healthPath } : undefined,
    expose: r.expose,
    persistence: r.persistence
      ? { size: Size.gibibytes(r.persistence.size), accessMode: r.persistence.rwx ? kplus.PersistentVolumeAccessMode.READ_WRITE_MANY : undefined }
      : undefined,
    monitoring: r.monitoring
      // A metrics port that is neither the app port nor the Service port (a collision is a clear error, tested elsewhere).
      ? { port: r.monitoring.separatePort ? [65001, 65002, 65003].find((p) => p !== r.port && p !== r.servicePort) : undefined, interval: Duration.seconds(r.monitoring.interval), alerts: r.monitoring.alerts }
      : undefined,
    backup: r.backup ? { schedule: r.backup.schedule, retention: Duration.days(r.backup.days), volumes: r.persistence ? BackupVolumeMode.SNAPSHOT : undefined } : undefined,
    security: r.security
      ? {
        allowedImages: [r.img.registry],
        admissionEngine: r.security.engine,
        admissionApiVersion: r.security.version,
        enforcement: r.security.enforcement,
        ingressFrom: r.security.ingressFrom,
        egressTo: r.security.egressTo,
      }
      : undefined,
    migrations: r.migrations ? { command: r.migrations } : undefined,
    // Output for 1.28/1.29 clusters (VAP v1beta1) pauses with the interpreter: no preStop sleep action there.
    shutdown: r.security?.version === AdmissionPolicyApiVersion.V1BETA1 ? { preStopMethod: PreStopMethod.PYTHON_EXEC } : undefined,
  };
  return props;
});

/** A way to make valid props invalid, with the prop the error must name. */
export interface Corruption {
  readonly prop: string;
  readonly apply: (props: PythonServiceProps) => PythonServiceProps;
}

const set = (prop: string, patch: (p: PythonServiceProps) => Partial<PythonServiceProps>): Corruption => ({ prop, apply: (p) => ({ ...p, ...patch(p) }) });

/** One random corruption of one prop. */
export const corruption: fc.Arbitrary<Corruption> = fc.oneof(
  fc.constantFrom(0, -1, 65536, 1.5, Number.NaN).map((port) => set('port', () => ({ port }))),
  fc.constantFrom(0, 70000, 2.5).map((servicePort) => set('servicePort', () => ({ servicePort }))),
  fc.constantFrom(-1, 1.5, 20000).map((replicas) => set('replicas', () => ({ replicas, autoscaling: undefined }))),
  fc.constantFrom('', 'UPPER', '1abc', 'a_b', 'a'.repeat(70), '-x').map((name) => set('name', () => ({ name }))),
  fc.constantFrom('', ' ', 'Bad Image', 'UPPER/case:1', 'a:b:c').map((image) => set('image', () => ({ image }))),
  fc.constantFrom('1X', 'A-B', 'A B', '').map((badName) => set('env', () => ({ env: { [badName]: 'v' } }))),
  fc.constantFrom('healthz', '', 'a b').map((path) => set('healthCheck.path', () => ({ healthCheck: { path } }))),
  fc.constantFrom('0 0 * *', '60 0 * * *', '@daily', '0 0 32 * *', 'x y z w v').map((schedule) => set('backup.schedule', () => ({ backup: { schedule } }))),
  fc.constantFrom(0).map((s) => set('monitoring.interval', () => ({ monitoring: { interval: Duration.seconds(s) } }))),
  fc.constantFrom('metrics', 'x y').map((path) => set('monitoring.path', () => ({ monitoring: { path } }))),
  fc.constantFrom(0, 101, -3).map((u) => set('autoscaling.targetCpuUtilization', () => ({ replicas: undefined, autoscaling: { minReplicas: 1, maxReplicas: 3, targetCpuUtilization: u } }))),
  fc.tuple(fc.integer({ min: 2, max: 9 }), fc.integer({ min: 1, max: 1 })).map(([min]) => set('autoscaling.minReplicas', () => ({ replicas: undefined, autoscaling: { minReplicas: min + 1, maxReplicas: min } }))),
  fc.constantFrom([], [''], ['https://x.example.com/'], ['no-trailing']).map((allowedImages) => set('security.allowedImages', () => ({ security: { allowedImages: [...allowedImages] } }))),
  fc.constantFrom('300.0.0.0/8', '10.0.0.0/33', 'abc').map((c) => set('security.ingressFrom', (p) => ({ security: { allowedImages: [p.image.slice(0, p.image.lastIndexOf('/') + 1) || 'x/'], ingressFrom: [{ cidr: c }] } }))),
  fc.constantFrom([], ['']).map((command) => set('migrations.command', () => ({ migrations: { command: [...command] } }))),
  fc.constantFrom(0, 1.5).map((gi) => set('persistence.size', () => ({ replicas: 1, autoscaling: undefined, persistence: { size: Size.gibibytes(gi) } }))),
  fc.constantFrom(0).map((m) => set('resources.cpu', () => ({ resources: { cpu: kplus.Cpu.millis(m) } }))),
);
