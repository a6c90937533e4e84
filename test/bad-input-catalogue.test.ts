import { Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import {
  BackupObjects, BackupSchedule, DnsEgress, Exposure, PodSecurityNamespace, PythonServer, PythonService, PythonServiceProps, SecurityPolicy, ServiceDisruptionBudget,
  ServiceMonitoring, ServiceNetworkPolicy,
} from '../src';

/**
 * The catalogue of bad inputs a user can write, each with the fragments its error must contain:
 * the construct, the prop, the offending value and the rule. Every entry must fail at
 * construction with a plain Error (never a TypeError from inside cdk8s).
 */
const IMAGE = 'registry.example.com/shop/api:1.0';
const service = (props: Partial<PythonServiceProps>) => () => {
  new PythonService(new Chart(Testing.app(), 'c', { namespace: 'shop' }), 'api', { image: IMAGE, ...props });
};
const alone = (fn: (chart: Chart) => void) => () => fn(new Chart(Testing.app(), 'c', { namespace: 'shop' }));

const CATALOGUE: Array<[string, () => void, string[]]> = [
  // identity
  ['empty image', service({ image: '' }), ["PythonService 'api'", 'image', '""', 'non-empty']],
  ['image with spaces', service({ image: 'my app:1' }), ['image', '"my app:1"', 'not a valid image reference']],
  ['image with upper-case repository', service({ image: 'Shop/API:1' }), ['image', '"Shop/API:1"', 'not a valid image reference']],
  ['name with upper case', service({ name: 'Api' }), ['name', '"Api"', 'DNS-1035']],
  ['name starting with a digit', service({ name: '9api' }), ['name', '"9api"', 'DNS-1035']],
  ['name over 63 characters', service({ name: 'a'.repeat(64) }), ['name', '64 characters', 'limit is 63']],
  // server flags the library manages
  ['a misspelt worker class', service({ server: PythonServer.gunicorn({ app: 'a:b', workerClass: 'gthred' }) }), ["PythonService 'api'", 'server.workerClass', '"gthred"', 'dotted import path']],
  ['workers through extraArgs', service({ server: PythonServer.gunicorn({ app: 'a:b', extraArgs: ['-w', '9'] }) }), ['server.extraArgs[0]', '"-w"', 'which the library manages', 'server.workers']],
  ['a bind address through extraArgs', service({ server: PythonServer.gunicorn({ app: 'a:b', extraArgs: ['--bind=0.0.0.0:9000'] }) }), ['server.extraArgs[0]', '"--bind=0.0.0.0:9000"', 'set port']],
  ['uvicorn workers through extraArgs', service({ server: PythonServer.uvicorn({ app: 'a:b', extraArgs: ['--workers', '4'] }) }), ['server.extraArgs[0]', '"--workers"', 'server.workers']],
  // ports and replicas
  ['port 0', service({ port: 0 }), ['port', '0', '1 to 65535']],
  ['port 65536', service({ port: 65536 }), ['port', '65536', '1 to 65535']],
  ['fractional port', service({ port: 8080.5 }), ['port', '8080.5', 'whole number']],
  ['service port 70000', service({ servicePort: 70000 }), ['servicePort', '70000', '1 to 65535']],
  ['negative replicas', service({ replicas: -2 }), ['replicas', '-2', '0 to 10000']],
  ['replicas and autoscaling together', service({ replicas: 2, autoscaling: { minReplicas: 1, maxReplicas: 2 } }), ['replicas', 'cannot be combined with autoscaling']],
  // env and probes
  ['env name with a dash', service({ env: { 'MY-VAR': 'x' } }), ['env name', '"MY-VAR"', 'valid variable name']],
  ['env name with a space', service({ env: { 'MY VAR': 'x' } }), ['env name', '"MY VAR"', 'valid variable name']],
  ['number as env value', service({ env: { WORKERS: 4 as any } }), ['env.WORKERS', '4', 'must be a string']],
  ['same variable in env and envValues', service({ env: { A: '1' }, envValues: { A: kplus.EnvValue.fromValue('2') } }), ['envValues name', '"A"', 'also set in env']],
  ['health path without slash', service({ healthCheck: { path: 'healthz' } }), ['healthCheck.path', '"healthz"', 'starts with "/"']],
  ['liveness path equal to readiness path', service({ healthCheck: { path: '/h', livenessPath: '/h' } }), ['healthCheck.livenessPath', '"/h"', 'must differ']],
  // resources
  ['zero CPU', service({ resources: { cpu: kplus.Cpu.millis(0) } }), ['resources.cpu', '"0m"', 'at least 1 millicore']],
  ['CPU limit below request', service({ resources: { cpu: kplus.Cpu.millis(500), cpuLimit: kplus.Cpu.millis(100) } }), ['resources.cpuLimit', '"100m"', 'must not be below']],
  ['memory not in whole MiB', service({ resources: { memory: Size.kibibytes(1500) } }), ['resources.memory', '1500Ki', 'whole number of mebibytes']],
  ['root user', service({ securityContext: { runAsUser: 0 } }), ['securityContext.runAsUser', '0', 'from 1']],
  // server
  ['gunicorn app without variable', service({ server: PythonServer.gunicorn({ app: 'shop.wsgi' }) }), ['server.app', '"shop.wsgi"', 'module:variable']],
  ['uvicorn with 0 workers', service({ server: PythonServer.uvicorn({ app: 'a:b', workers: 0 }) }), ['server.workers', '0', '1 to 1024']],
  ['sub-second graceful timeout', service({ server: PythonServer.uvicorn({ app: 'a:b', gracefulTimeout: Duration.millis(1500) }) }), ['server.gracefulTimeout', 'whole number of seconds']],
  ['grace period shorter than pause + graceful timeout', service({ shutdown: { terminationGracePeriod: Duration.seconds(10) } }), ['shutdown.terminationGracePeriod', '10 seconds', 'at least']],
  // exposure
  ['ingress host with a scheme', service({ expose: Exposure.ingress({ host: 'http://shop.example.com' }) }), ['expose.host', '"http://shop.example.com"', 'DNS host name']],
  ['ingress host with a port', service({ expose: Exposure.ingress({ host: 'shop.example.com:443' }) }), ['expose.host', 'DNS host name']],
  ['bad TLS secret name', service({ expose: Exposure.ingress({ host: 'shop.example.com', tlsSecretName: 'Shop_TLS' }) }), ['expose.tlsSecretName', '"Shop_TLS"', 'DNS-1123 subdomain']],
  // scaling and storage
  ['min replicas above max', service({ autoscaling: { minReplicas: 4, maxReplicas: 2 } }), ['autoscaling.minReplicas', '4', 'must not exceed autoscaling.maxReplicas (2)']],
  ['min replicas 0', service({ autoscaling: { minReplicas: 0, maxReplicas: 2 } }), ['autoscaling.minReplicas', '0']],
  ['CPU target 0', service({ autoscaling: { minReplicas: 1, maxReplicas: 2, targetCpuUtilization: 0 } }), ['autoscaling.targetCpuUtilization', '0', '1 to 100']],
  ['ReadWriteOnce volume with 3 replicas', service({ persistence: { size: Size.gibibytes(1) } }), ['persistence.accessMode', '"ReadWriteOnce"', 'cannot serve 3 replicas']],
  ['storage size 0', service({ replicas: 1, persistence: { size: Size.gibibytes(0) } }), ['persistence.size', '"0Gi"', 'larger than zero']],
  ['empty migration command', service({ migrations: { command: [] } }), ['migrations.command', '[]', 'non-empty']],
  ['PDB that blocks nothing', service({ replicas: 1, disruptionBudget: {} }), ['disruptionBudget', 'more than one replica']],
  // monitoring
  ['scrape interval 0', service({ monitoring: { interval: Duration.seconds(0) } }), ['monitoring.interval', '0 seconds', 'longer than zero']],
  ['scrape timeout above interval', service({ monitoring: { interval: Duration.seconds(15), scrapeTimeout: Duration.seconds(30) } }), ['monitoring.scrapeTimeout', '30 seconds', 'must not exceed monitoring.interval (15s)']],
  ['metrics path without slash', service({ monitoring: { path: 'metrics' } }), ['monitoring.path', '"metrics"', 'starts with "/"']],
  ['ServiceMonitor on a port the Service lacks', alone((chart) => {
    const svc = new kplus.Service(chart, 's', { metadata: { labels: { app: 'x' } }, ports: [{ port: 80, name: 'web' }] });
    new ServiceMonitoring(chart, 'm', { service: svc, portName: 'http' });
  }), ["ServiceMonitoring 'm'", 'portName', '"http"', 'is not a port of Service']],
  // backup
  ['cron with 4 fields', service({ backup: { schedule: '0 0 * *' } }), ['backup.schedule', '"0 0 * *"', 'not a 5-field cron expression']],
  ['cron with hour 25', service({ backup: { schedule: '0 25 * * *' } }), ['backup.schedule', '"0 25 * * *"', 'value 25 is outside 0-23']],
  ['retention 0', service({ backup: { schedule: '0 0 * * *', retention: Duration.days(0) } }), ['backup.retention', 'longer than zero']],
  ['empty pre hook', service({ backup: { schedule: '0 0 * * *', hooks: { pre: [] } } }), ['backup.hooks.pre', '[]', 'non-empty command']],
  ['Velero namespace not DNS-1123', service({ backup: { schedule: '0 0 * * *', veleroNamespace: 'velero_ns' } }), ['backup.veleroNamespace', '"velero_ns"', 'DNS-1123 label']],
  ['BackupSchedule by labels with an empty selector', alone((chart) => new BackupSchedule(chart, 'b', { name: 'x', namespace: 'shop', selector: {}, objects: BackupObjects.SERVICE_LABELS, schedule: '0 0 * * *' })), ["BackupSchedule 'b'", 'selector', 'must not be empty with BackupObjects.SERVICE_LABELS']],
  ['backup objects not from the enum', service({ backup: { schedule: '0 0 * * *', objects: 'everything' as any } }), ['backup.objects', '"everything"', 'must be one of WholeNamespace, ServiceLabels']],
  ['backup hooks once on a replicated service', service({ backup: { schedule: '0 0 * * *', hooks: { pre: ['x'] }, hooksOnce: true } }), ['backup.hooksOnce', 'singleton']],
  ['migration backoff limit below zero', service({ migrations: { command: ['m'], backoffLimit: -1 } }), ['migrations.backoffLimit', '-1', 'whole number from 0 to 100']],
  ['migration fatal exit code 0', service({ migrations: { command: ['m'], fatalExitCodes: [0] } }), ['migrations.fatalExitCodes[0]', '0', 'from 1 to 255']],
  ['migration fatal exit code twice', service({ migrations: { command: ['m'], fatalExitCodes: [3, 3] } }), ['migrations.fatalExitCodes', '[3,3]', 'twice']],
  ['migration resources in fractions of a MiB', service({ migrations: { command: ['m'], resources: { memory: Size.kibibytes(1500) } } }), ['migrations.resources.memory', 'whole number of mebibytes']],
  ['forwarded headers trusted from everyone while the port is open to all', service({ server: PythonServer.gunicorn({ app: 'shop.wsgi:application', forwardedAllowIps: '*' }), expose: Exposure.ingress({ host: 'shop.example.com' }) }), ['server.forwardedAllowIps', '"*"', 'security.ingressFrom']],
  ['uvicorn trusting everyone without security', service({ server: PythonServer.uvicorn({ app: 'shop.main:app', forwardedAllowIps: '10.0.0.1,*' }) }), ['server.forwardedAllowIps', 'admits more than the proxy']],
  ['WEB_CONCURRENCY that is not a count', service({ env: { WEB_CONCURRENCY: 'auto' } }), ['env.WEB_CONCURRENCY', '"auto"', 'whole number']],
  ['WEB_CONCURRENCY and server.workers', service({ env: { WEB_CONCURRENCY: '2' }, server: PythonServer.gunicorn({ app: 'a:b', workers: 2 }), resources: { memory: Size.mebibytes(1024) } }), ['server.workers', 'also set by env.WEB_CONCURRENCY']],
  ['memory for no worker at all', service({ server: PythonServer.gunicorn({ app: 'a:b' }), resources: { memory: Size.mebibytes(128) } }), ['resources.memory', '"128Mi"', 'no room for one worker process']],
  ['memoryPerProcess in fractions of a MiB', service({ memoryPerProcess: Size.kibibytes(100) }), ['memoryPerProcess', 'whole number of mebibytes']],
  ['keep-alive on sync workers', service({ server: PythonServer.gunicorn({ app: 'a:b', keepAlive: Duration.seconds(75) }) }), ['server.keepAlive', 'no effect with the sync worker class']],
  ['preStopMethod not from the enum', service({ shutdown: { preStopMethod: 'sleep' as any } }), ['shutdown.preStopMethod', '"sleep"', 'must be one of sleep-action, python-exec']],
  ['env references that form a cycle', service({ env: { A: '$(B)/x', B: '$(A)/y' } }), ['env', '"A -> B -> A"', 'cycle of $(NAME) references']],
  ['security.dns not from DnsEgress', service({ security: { allowedImages: ['registry.example.com/'], dns: { rules: [] } as any } }), ['security.dns', 'must come from DnsEgress.kubeDns()']],
  ['a DNS service IP that is no address', service({ security: { allowedImages: ['registry.example.com/'], dns: DnsEgress.kubeDns({ serviceIp: 'kube-dns' }) } }), ['security.dns (DnsEgress.kubeDns()) rule 0', 'cidr']],
  // security
  ['no allowed images', service({ security: { allowedImages: [] } }), ['security.allowedImages', '[]', 'at least one image prefix']],
  ['allowed image prefix with whitespace', service({ security: { allowedImages: [' registry.example.com/'] } }), ['security.allowedImages[0]', 'whitespace']],
  ['allowed image prefix with a scheme', service({ security: { allowedImages: ['oci://registry.example.com/'] } }), ['security.allowedImages[0]', 'scheme']],
  ['image outside the allowed prefixes', service({ security: { allowedImages: ['ghcr.io/acme/'] } }), ['image', `"${IMAGE}"`, 'security.allowedImages']],
  ['peer with an invalid CIDR', service({ security: { allowedImages: ['registry.example.com/'], ingressFrom: [{ cidr: '10.0.0.256/8' }] } }), ['security.ingressFrom[0].peers[0].cidr', '"10.0.0.256/8"', 'CIDR']],
  ['egress port 0', service({ security: { allowedImages: ['registry.example.com/'], egressTo: [{ ports: [{ port: 0 }] }] } }), ['security.egressTo[0].ports[0].port', '0', '1 to 65535']],
  ['a secured service named like the namespace policy', service({ name: 'namespace', security: { allowedImages: ['registry.example.com/'] } }), ['name', '"namespace"', 'shop-namespace-policy']],
  ['two SecurityPolicies with one name in one namespace', alone((chart) => {
    new SecurityPolicy(chart, 'a', { name: 'x', namespace: 'shop', matchLabels: { app: 'a' }, allowedImages: ['a.example.com/'] });
    new SecurityPolicy(chart, 'b', { name: 'x', namespace: 'shop', matchLabels: { app: 'b' }, allowedImages: ['a.example.com/'] });
  }), ["SecurityPolicy 'b'", 'name', '"x"', 'c/a', 'overwrite']],
  ['a namespace policy that is no SecurityPolicy', service({ security: { allowedImages: ['registry.example.com/'], namespacePolicy: {} as any } }), ['security.namespacePolicy', 'must be a SecurityPolicy']],
  ['SecurityPolicy alone with labels that are no map', alone((chart) => new SecurityPolicy(chart, 'p', { name: 'x', namespace: 'shop', matchLabels: 'app' as any, allowedImages: ['a.example.com/'] })), ["SecurityPolicy 'p'", 'matchLabels', '"app"']],
  ['PodSecurityNamespace with a bad name', alone((chart) => new PodSecurityNamespace(chart, 'n', { name: 'Shop' })), ["PodSecurityNamespace 'n'", 'name', '"Shop"']],
  ['NetworkPolicy rule with a bad peer', alone((chart) => new ServiceNetworkPolicy(chart, 'np', { metadata: {}, podSelector: { a: 'b' } }).addIngressRule({ peers: [{ cidr: '::1/129' }] })), ["ServiceNetworkPolicy 'np'", 'cidr', '"::1/129"']],
  ['PodDisruptionBudget of 0', alone((chart) => new ServiceDisruptionBudget(chart, 'pdb', { metadata: {}, podSelector: { a: 'b' }, maxUnavailable: 0 })), ["ServiceDisruptionBudget 'pdb'", 'maxUnavailable', '0']],
];

describe('bad-input catalogue', () => {
  test('has at least 40 entries', () => {
    expect(CATALOGUE.length).toBeGreaterThanOrEqual(40);
  });

  test.each(CATALOGUE)('%s', (_title, fn, fragments) => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).constructor).toBe(Error);
    for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
  });

  test('a construct id that is no valid name is reported with its derived name', () => {
    expect(() => new PythonService(new Chart(Testing.app(), 'c'), '1-api', { image: IMAGE }))
      .toThrow('PythonService \'1-api\': name (derived from the construct id) "1-api" must be a DNS-1035 label');
  });
});
