import { App, Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Exposure, PreStopMethod, PythonServer, PythonService, PythonServiceProps, WorkerProcess } from '../src';
import { evaluatePolicy } from './support/cel';
import {
  allOf, appContainer, crossObjectProblems, envOf, expectStrictlyValid, Manifest, only, podTemplateOf, servicePolicy, synth,
} from './support/manifests';

const IMAGE = 'ghcr.io/acme/shop-api:1.4.2';

function build(props: Partial<PythonServiceProps> = {}, id = 'api', namespace = 'shop'): { service: PythonService; manifests: Manifest[] } {
  const scoped = new Chart(Testing.app(), 'shop', { namespace });
  const service = new PythonService(scoped, id, { image: IMAGE, ...props });
  return { service, manifests: synth(scoped) };
}

describe('PythonService defaults', () => {
  const { service, manifests } = build();
  const deployment = only(manifests, 'Deployment');
  const pod = podTemplateOf(deployment)!;
  const container = appContainer(deployment);

  test('emits a ServiceAccount, Deployment, Service, PodDisruptionBudget and NetworkPolicy named after the service', () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'Deployment/api', 'NetworkPolicy/api-netpol', 'PodDisruptionBudget/api-pdb', 'Service/api', 'ServiceAccount/api',
    ]);
    expect(manifests.every((m) => m.metadata.namespace === 'shop')).toBe(true);
  });

  test('every object is valid for Kubernetes 1.35 (the defaults target 1.30 and later) and every pod is "restricted"', () => {
    expectStrictlyValid(manifests);
    expect(crossObjectProblems(manifests)).toEqual([]);
  });

  test('runs 3 replicas of the image verbatim on port 8080 named http', () => {
    expect(deployment.spec.replicas).toBe(3);
    expect(container.image).toBe(IMAGE);
    expect(container.ports).toEqual([{ containerPort: 8080, name: 'http', protocol: 'TCP' }]);
  });

  test('pulls Always, because tags are mutable', () => {
    expect(container.imagePullPolicy).toBe('Always');
  });

  test('runs the image command when no server is given', () => {
    expect(container.command).toBeUndefined();
    expect(envOf(container).WEB_CONCURRENCY).toBeUndefined();
  });

  test('meets Pod Security "restricted" with explicit fields on pod and container', () => {
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 10001,
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  test('uses a dedicated ServiceAccount and mounts no API token', () => {
    expect(pod.spec.serviceAccountName).toBe('api');
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(only(manifests, 'ServiceAccount').automountServiceAccountToken).toBe(false);
  });

  test('gives the read-only root a size-limited /tmp', () => {
    expect(pod.spec.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }]);
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
  });

  test('sets Python container defaults', () => {
    expect(envOf(container)).toMatchObject({ PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', PYTHON_CPU_COUNT: '1', TMPDIR: '/tmp' });
  });

  test('requests small resources with memory limit = request and no CPU limit', () => {
    expect(container.resources).toEqual({
      requests: { 'cpu': '250m', 'memory': '256Mi', 'ephemeral-storage': '1Gi' },
      limits: { 'memory': '256Mi', 'ephemeral-storage': '1Gi' },
    });
  });

  test('the image\'s own command gets no guessed HTTP path: startup and readiness are TCP on the port', () => {
    expect(container.startupProbe.tcpSocket).toEqual({ port: 8080 });
    expect(container.readinessProbe.tcpSocket).toEqual({ port: 8080 });
    expect(container.startupProbe.httpGet).toBeUndefined();
    expect(container.readinessProbe.httpGet).toBeUndefined();
    expect(container.livenessProbe.tcpSocket).toEqual({ port: 8080 });
    expect(container.startupProbe.failureThreshold * container.startupProbe.periodSeconds).toBe(120);
  });

  test('with the gunicorn or uvicorn preset (or healthCheck.path), startup and readiness GET the health path, and liveness stays TCP', () => {
    for (const props of [{ server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }) }, { server: PythonServer.uvicorn({ app: 'shop.main:app' }) },
      { server: PythonServer.command(['hypercorn', 'shop.main:app', '--bind', '0.0.0.0:8080']), healthCheck: { path: '/healthz' } }]) {
      const c = appContainer(only(build(props).manifests, 'Deployment'));
      expect(c.startupProbe.httpGet).toMatchObject({ path: '/healthz', port: 8080 });
      expect(c.readinessProbe.httpGet).toMatchObject({ path: '/healthz', port: 8080 });
      expect(c.livenessProbe.tcpSocket).toEqual({ port: 8080 });
    }
    const command = appContainer(only(build({ server: PythonServer.command(['hypercorn', 'shop.main:app', '--bind', '0.0.0.0:8080']) }).manifests, 'Deployment'));
    expect(command.readinessProbe.tcpSocket).toEqual({ port: 8080 });
  });

  test('readiness tolerates a few slow requests: 5 s timeout, NotReady only after 3 failures in a row', () => {
    expect(container.readinessProbe).toMatchObject({ periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 });
    expect(container.livenessProbe).toMatchObject({ periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 });
    // Not exposed: the Service's in-cluster name, which Django can list in ALLOWED_HOSTS (the pod IP it cannot).
    const gunicorn = appContainer(only(build({ server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }) }).manifests, 'Deployment'));
    expect(gunicorn.readinessProbe.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'api.shop.svc' }]);
  });

  test('pauses in preStop with the kubelet\'s sleep action, and the grace period adds up', () => {
    expect(container.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
    // 5 s pause + 30 s server graceful timeout + 5 s margin
    expect(pod.spec.terminationGracePeriodSeconds).toBe(40);
    expect(service.terminationGracePeriod.toSeconds()).toBe(40);
  });

  test('labels every object with the recommended labels', () => {
    for (const m of manifests) {
      expect(m.metadata.labels).toEqual({
        'app.kubernetes.io/name': 'api',
        'app.kubernetes.io/instance': 'api',
        'app.kubernetes.io/component': 'server',
        'app.kubernetes.io/version': '1.4.2',
        'app.kubernetes.io/part-of': 'api',
        'app.kubernetes.io/managed-by': 'cdk8s',
      });
    }
    expect(pod.metadata.labels).toMatchObject(service.labels);
  });

  test('selects pods by stable labels only, never the version or a path hash', () => {
    const selector = { 'app.kubernetes.io/name': 'api', 'app.kubernetes.io/instance': 'api', 'app.kubernetes.io/component': 'server' };
    expect(deployment.spec.selector).toEqual({ matchLabels: selector });
    expect(only(manifests, 'Service').spec.selector).toEqual(selector);
    expect(only(manifests, 'NetworkPolicy').spec.podSelector).toEqual({ matchLabels: selector });
  });

  test('exposes port 80 → http with a ClusterIP Service', () => {
    const svc = only(manifests, 'Service');
    expect(svc.spec.type).toBe('ClusterIP');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);
  });

  test('isolates the pods: ingress to the app port only, egress open until a security policy narrows it', () => {
    const np = only(manifests, 'NetworkPolicy');
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toEqual([{ ports: [{ port: 8080, protocol: 'TCP' }] }]);
    expect(np.spec.egress).toEqual([{}]);
  });

  test('rolls out without dropping below capacity', () => {
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } });
  });

  test('exposes handles to every child', () => {
    expect(service.deployment).toBeInstanceOf(kplus.Deployment);
    expect(service.service).toBeInstanceOf(kplus.Service);
    expect(service.serviceAccount).toBeInstanceOf(kplus.ServiceAccount);
    expect(service.networkPolicy.apiObject.kind).toBe('NetworkPolicy');
    expect(service.ingress).toBeUndefined();
  });
});

describe('kube-score and kube-linter default checks on the default output of a gunicorn service', () => {
  // The image's own command gets TCP readiness and liveness, which kube-score's pod-probes calls identical:
  // without a health path nothing better than "accepts connections" is known (README, Probes).
  const { manifests } = build({ server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }) });
  const deployment = only(manifests, 'Deployment');
  const pod = podTemplateOf(deployment)!.spec;
  const c = pod.containers[0];

  test.each([
    ['container-security-context-user-group-id (≥ 10000)', () => c.securityContext.runAsUser >= 10000 && c.securityContext.runAsGroup >= 10000],
    ['container-security-context-readonlyrootfilesystem / no-read-only-root-fs', () => c.securityContext.readOnlyRootFilesystem === true],
    ['container-ephemeral-storage-request-and-limit', () => !!c.resources.requests['ephemeral-storage'] && !!c.resources.limits['ephemeral-storage']],
    ['unset-cpu-requirements / unset-memory-requirements', () => !!c.resources.requests.cpu && !!c.resources.limits.memory],
    ['container-image-pull-policy', () => c.imagePullPolicy === 'Always'],
    ['pod-probes: readiness and liveness differ', () => JSON.stringify(c.readinessProbe.httpGet ?? c.readinessProbe.tcpSocket) !== JSON.stringify(c.livenessProbe.httpGet ?? c.livenessProbe.tcpSocket)],
    ['deployment-has-host-podantiaffinity / no-anti-affinity', () => pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey === 'kubernetes.io/hostname'],
    ['deployment-has-poddisruptionbudget', () => allOf(manifests, 'PodDisruptionBudget').length === 1],
    ['pod-networkpolicy (ingress and egress)', () => only(manifests, 'NetworkPolicy').spec.policyTypes.join() === 'Ingress,Egress'],
    ['drop-net-raw-capability', () => c.securityContext.capabilities.drop.includes('ALL')],
    ['non-existent-service-account', () => allOf(manifests, 'ServiceAccount').some((sa) => sa.metadata.name === pod.serviceAccountName)],
  ])('%s', (_check, holds) => {
    expect(holds()).toBe(true);
  });
});

describe('PythonService servers', () => {
  test('gunicorn gets 2 × ceil(cores) + 1 workers, a memory heartbeat dir and stdout logs', () => {
    const { manifests } = build({
      server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
      resources: { cpu: kplus.Cpu.millis(1500) },
    });
    const deployment = only(manifests, 'Deployment');
    const container = appContainer(deployment);
    expect(envOf(container)).toMatchObject({ WEB_CONCURRENCY: '1', PYTHON_CPU_COUNT: '2' });
    expect(envOf(appContainer(only(build({
      server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
      resources: { cpu: kplus.Cpu.millis(1500), memory: Size.mebibytes(1024) },
    }).manifests, 'Deployment')))).toMatchObject({ WEB_CONCURRENCY: '5', PYTHON_CPU_COUNT: '2' });
    expect(container.command.slice(0, 4)).toEqual(['gunicorn', 'shop.wsgi:application', '--bind', '0.0.0.0:8080']);
    expect(container.command.join(' ')).toContain('--access-logfile - --error-logfile -');
    expect(container.command.join(' ')).toContain('--worker-tmp-dir /run/gunicorn');
    expect(podTemplateOf(deployment)!.spec.volumes).toContainEqual({ name: 'worker-tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } });
    expect(container.volumeMounts).toContainEqual({ name: 'worker-tmp', mountPath: '/run/gunicorn' });
    expectStrictlyValid(manifests);
  });

  test('uvicorn runs one process per pod and its graceful timeout sets the grace period', () => {
    const { manifests } = build({
      server: PythonServer.uvicorn({ app: 'shop.main:app', gracefulTimeout: Duration.seconds(20) }),
      shutdown: { preStopPause: Duration.seconds(10), margin: Duration.seconds(3), preStopMethod: PreStopMethod.PYTHON_EXEC },
    });
    const deployment = only(manifests, 'Deployment');
    const container = appContainer(deployment);
    expect(envOf(container).WEB_CONCURRENCY).toBe('1');
    expect(container.command).toEqual(expect.arrayContaining(['uvicorn', 'shop.main:app', '--port', '8080', '--timeout-graceful-shutdown', '20']));
    expect(podTemplateOf(deployment)!.spec.terminationGracePeriodSeconds).toBe(33);
    expect(container.lifecycle.preStop.exec.command[2]).toBe('import time; time.sleep(10)');
  });

  test('a custom command runs as given', () => {
    const { manifests } = build({ server: PythonServer.command(['python', '-m', 'shop'], { workers: 2 }) });
    const container = appContainer(only(manifests, 'Deployment'));
    expect(container.command).toEqual(['python', '-m', 'shop']);
    expect(envOf(container).WEB_CONCURRENCY).toBe('2');
  });

  test('a zero preStop pause emits no lifecycle hook', () => {
    const { manifests } = build({ shutdown: { preStopPause: Duration.seconds(0) } });
    const deployment = only(manifests, 'Deployment');
    expect(appContainer(deployment).lifecycle).toBeUndefined();
    expect(podTemplateOf(deployment)!.spec.terminationGracePeriodSeconds).toBe(35);
  });
});

describe('PythonService props', () => {
  test('port, servicePort and replicas', () => {
    const { manifests } = build({ port: 9000, servicePort: 8000, replicas: 5 });
    expect(only(manifests, 'Deployment').spec.replicas).toBe(5);
    expect(only(manifests, 'Service').spec.ports[0]).toMatchObject({ port: 8000, targetPort: 9000 });
    expect(only(manifests, 'NetworkPolicy').spec.ingress[0].ports[0].port).toBe(9000);
    expect(crossObjectProblems(manifests)).toEqual([]);
  });

  test('env, envValues and envFrom, with user env overriding defaults', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'shop' });
    const secret = kplus.Secret.fromSecretName(chart, 'db', 'shop-db');
    const config = kplus.ConfigMap.fromConfigMapName(chart, 'cfg', 'shop-config');
    new PythonService(chart, 'api', {
      image: IMAGE,
      env: { DJANGO_SETTINGS_MODULE: 'shop.settings', PYTHONDONTWRITEBYTECODE: '0' },
      envValues: { DATABASE_URL: kplus.EnvValue.fromSecretValue({ secret, key: 'url' }) },
      envFrom: [kplus.Env.fromConfigMap(config)],
    });
    const manifests = synth(chart);
    const container = appContainer(only(manifests, 'Deployment'));
    const env = envOf(container);
    expect(env.DJANGO_SETTINGS_MODULE).toBe('shop.settings');
    expect(env.PYTHONDONTWRITEBYTECODE).toBe('0');
    expect(env.DATABASE_URL).toEqual({ secretKeyRef: { name: 'shop-db', key: 'url' } });
    expect(container.envFrom).toEqual([{ configMapRef: { name: 'shop-config' } }]);
    expectStrictlyValid(manifests);
  });

  test('resources with a CPU limit and more memory', () => {
    const { manifests } = build({
      resources: { cpu: kplus.Cpu.units(1), cpuLimit: kplus.Cpu.units(2), memory: Size.gibibytes(1), ephemeralStorage: Size.gibibytes(2) },
    });
    expect(appContainer(only(manifests, 'Deployment')).resources).toEqual({
      requests: { 'cpu': '1', 'memory': '1024Mi', 'ephemeral-storage': '2Gi' },
      limits: { 'cpu': '2', 'memory': '1024Mi', 'ephemeral-storage': '2Gi' },
    });
  });

  test('health paths and an HTTP liveness path', () => {
    const { manifests } = build({ healthCheck: { path: '/ready', livenessPath: '/live', startupTimeout: Duration.seconds(30) } });
    const container = appContainer(only(manifests, 'Deployment'));
    expect(container.readinessProbe.httpGet.path).toBe('/ready');
    expect(container.startupProbe.httpGet.path).toBe('/ready');
    expect(container.startupProbe.failureThreshold).toBe(15);
    expect(container.livenessProbe.httpGet.path).toBe('/live');
  });

  test('security context ids are overridable', () => {
    const { manifests } = build({ securityContext: { runAsUser: 20000, runAsGroup: 20001, fsGroup: 20002 } });
    const pod = podTemplateOf(only(manifests, 'Deployment'))!;
    expect(pod.spec.securityContext).toMatchObject({ runAsUser: 20000, runAsGroup: 20001, fsGroup: 20002 });
    expect(pod.spec.containers[0].securityContext).toMatchObject({ runAsUser: 20000, runAsGroup: 20001 });
  });

  test('imagePullPolicy is overridable', () => {
    const { manifests } = build({ imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT });
    expect(appContainer(only(manifests, 'Deployment')).imagePullPolicy).toBe('IfNotPresent');
  });

  test('the version label comes from the tag, the digest, or the version prop', () => {
    const digest = 'sha256:' + 'a'.repeat(64);
    expect(build({ image: `ghcr.io/acme/api@${digest}` }).service.labels['app.kubernetes.io/version']).toBe('aaaaaaaaaaaa');
    expect(build({ image: 'python-app' }).service.labels['app.kubernetes.io/version']).toBe('latest');
    expect(build({ image: 'localhost:5000/python-app:v2_rc.1' }).service.labels['app.kubernetes.io/version']).toBe('v2_rc.1');
    expect(build({ version: '2026.11' }).service.labels['app.kubernetes.io/version']).toBe('2026.11');
  });

  test('partOf and extra labels go on every object, but not into selectors', () => {
    const { manifests } = build({ partOf: 'shop', labels: { team: 'payments' } });
    for (const m of manifests) expect(m.metadata.labels).toMatchObject({ 'app.kubernetes.io/part-of': 'shop', 'team': 'payments' });
    expect(only(manifests, 'Deployment').spec.selector.matchLabels.team).toBeUndefined();
  });

  test('the default name is the construct id in kebab-case', () => {
    const { manifests } = build({}, 'ShopApi');
    expect(only(manifests, 'Deployment').metadata.name).toBe('shop-api');
  });

  test('a single replica still rolls out with a surge pod', () => {
    const { manifests } = build({ replicas: 1 });
    expect(only(manifests, 'Deployment').spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  });
});

describe('PythonService exposure', () => {
  test('ingress creates a networking.k8s.io/v1 Ingress to the Service, with TLS and class', () => {
    const { service, manifests } = build({
      expose: Exposure.ingress({ host: 'shop.example.com', path: '/api', tlsSecretName: 'shop-tls', className: 'nginx', annotations: { 'cert-manager.io/cluster-issuer': 'le' } }),
    });
    const ingress = only(manifests, 'Ingress');
    expect(service.ingress).toBeDefined();
    expect(ingress.apiVersion).toBe('networking.k8s.io/v1');
    expect(ingress.metadata.annotations).toEqual({ 'cert-manager.io/cluster-issuer': 'le' });
    expect(ingress.spec).toEqual({
      ingressClassName: 'nginx',
      rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 80 } } } }] } }],
      tls: [{ hosts: ['shop.example.com'], secretName: 'shop-tls' }],
    });
    expect(only(manifests, 'Service').spec.type).toBe('ClusterIP');
    expectStrictlyValid(manifests);
  });

  test('loadBalancer and nodePort set the Service type', () => {
    expect(only(build({ expose: Exposure.loadBalancer() }).manifests, 'Service').spec.type).toBe('LoadBalancer');
    const nodePort = only(build({ expose: Exposure.nodePort({ nodePort: 30080 }) }).manifests, 'Service');
    expect(nodePort.spec.type).toBe('NodePort');
    expect(nodePort.spec.ports[0].nodePort).toBe(30080);
    expectStrictlyValid([nodePort]);
  });
});

describe('PythonService names', () => {
  test('two services in one chart get distinct objects and selectors', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'shop' });
    new PythonService(chart, 'api', { image: IMAGE });
    new PythonService(chart, 'worker', { image: IMAGE });
    const manifests = synth(chart);
    expect(allOf(manifests, 'Deployment').map((d) => d.metadata.name)).toEqual(['api', 'worker']);
    expect(crossObjectProblems(manifests)).toEqual([]);
    expectStrictlyValid(manifests);
  });

  test('the same name in two namespaces does not collide', () => {
    const app = new App();
    new PythonService(new Chart(app, 'a', { namespace: 'a' }), 'api', { image: IMAGE });
    expect(() => new PythonService(new Chart(app, 'b', { namespace: 'b' }), 'api', { image: IMAGE })).not.toThrow();
  });

  test('the same name twice in one namespace fails clearly', () => {
    const app = new App();
    new PythonService(new Chart(app, 'a', { namespace: 'shop' }), 'api', { image: IMAGE });
    expect(() => new PythonService(new Chart(app, 'b', { namespace: 'shop' }), 'web', { image: IMAGE, name: 'api' }))
      .toThrow(/PythonService 'web': name "api" is already used by the PythonService at "a\/api" in namespace "shop"/);
  });

  test('a service that failed to construct does not keep its name', () => {
    const chart = new Chart(new App(), 'c', { namespace: 'shop' });
    expect(() => new PythonService(chart, 'api', { image: IMAGE, port: 0 })).toThrow(/port 0/);
    expect(() => new PythonService(chart, 'api2', { image: IMAGE, name: 'api' })).not.toThrow();
  });

  test('synthesis is deterministic', () => {
    const once = () => {
      const app = Testing.app();
      new PythonService(new Chart(app, 'c', { namespace: 'shop' }), 'api', { image: IMAGE, server: PythonServer.gunicorn({ app: 'a:b' }) });
      return app.synthYaml();
    };
    expect(once()).toEqual(once());
  });
});

describe('PythonService bad props', () => {
  const cases: Array<[string, Partial<PythonServiceProps>, RegExp]> = [
    ['an empty image', { image: '' }, /PythonService 'api': image "" must be a non-empty container image reference/],
    ['an invalid image', { image: 'Shop API:latest' }, /image "Shop API:latest" is not a valid image reference/],
    ['a port outside 1-65535', { port: 70000 }, /PythonService 'api': port 70000 must be a whole number from 1 to 65535/],
    ['a fractional port', { port: 80.5 }, /port 80.5 must be a whole number/],
    ['a bad service port', { servicePort: 0 }, /servicePort 0 must be a whole number from 1 to 65535/],
    ['negative replicas', { replicas: -1 }, /replicas -1 must be a whole number from 0 to 10000/],
    ['an invalid name', { name: 'Shop_API' }, /name "Shop_API" must be a DNS-1035 label/],
    ['a name starting with a digit', { name: '1api' }, /name "1api" must be a DNS-1035 label/],
    ['a name over 63 characters', { name: 'a'.repeat(64) }, /is 64 characters long; the limit is 63/],
    ['a name too long for derived objects', { name: 'a'.repeat(60) }, /name "a{60}" is too long: the derived object name "a{60}-pdb" has 64 characters; the limit is 63/],
    ['an invalid env name', { env: { 'MY-VAR': 'x' } }, /env name "MY-VAR" must be a valid variable name/],
    ['an env name starting with a digit', { env: { '1X': 'x' } }, /env name "1X" must be a valid variable name/],
    ['a non-string env value', { env: { PORT: 8080 as any } }, /env.PORT 8080 must be a string/],
    ['a health path without a slash', { healthCheck: { path: 'healthz' } }, /healthCheck.path "healthz" must be an HTTP path that starts with "\/"/],
    ['a liveness path equal to readiness', { server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }), healthCheck: { livenessPath: '/healthz' } }, /healthCheck.livenessPath "\/healthz" must differ from healthCheck.path/],
    ['a zero startup timeout', { healthCheck: { startupTimeout: Duration.seconds(0) } }, /healthCheck.startupTimeout \(0 seconds\) must be longer than zero/],
    ['ephemeral storage that is not whole GiB', { resources: { ephemeralStorage: Size.mebibytes(512) } }, /resources.ephemeralStorage "512Mi" must be a whole number of gibibytes/],
    ['a /tmp size that is not whole MiB', { tmpSize: Size.kibibytes(100) }, /tmpSize "100Ki" must be a whole number of mebibytes/],
    ['a /tmp larger than the ephemeral-storage limit', { tmpSize: Size.gibibytes(2) },
      /tmpSize "2Gi" does not fit in resources.ephemeralStorage \(1Gi\) with the container logs \(50Mi by the kubelet's default rotation\): the kubelet evicts the pod .*; raise resources.ephemeralStorage or lower tmpSize to at most 974Mi/],
    ['a /tmp that leaves no room for the logs', { tmpSize: Size.mebibytes(1000), resources: { ephemeralStorage: Size.gibibytes(1) } }, /tmpSize "1000Mi" does not fit in resources.ephemeralStorage \(1Gi\)/],
    ['root user', { securityContext: { runAsUser: 0 } }, /securityContext.runAsUser 0 must be a whole number from 1/],
    ['a zero CPU', { resources: { cpu: kplus.Cpu.millis(0) } }, /resources.cpu "0m" must be a CPU amount of at least 1 millicore/],
    ['a CPU limit below the request', { resources: { cpu: kplus.Cpu.units(2), cpuLimit: kplus.Cpu.units(1) } }, /resources.cpuLimit "1" must not be below resources.cpu \(2\)/],
    ['zero memory', { resources: { memory: Size.mebibytes(0) } }, /resources.memory "0Mi" must be larger than zero/],
    ['a sub-second preStop pause', { shutdown: { preStopPause: Duration.millis(500) } }, /shutdown.preStopPause .* must be a whole number of seconds/],
    ['an ingress host with a scheme', { expose: Exposure.ingress({ host: 'https://shop.example.com' }) }, /expose.host "https:\/\/shop.example.com" must be a lower-case DNS host name/],
    ['an ingress path without a slash', { expose: Exposure.ingress({ host: 'shop.example.com', path: 'api' }) }, /expose.path "api" must be an HTTP path/],
    ['a node port out of range', { expose: Exposure.nodePort({ nodePort: 70000 }) }, /expose.nodePort 70000 must be a whole number from 1 to 65535/],
    ['a bad label', { labels: { 'bad key!': 'x' } }, /labels key "bad key!" must be a qualified name/],
    ['a version that is not a label value', { version: 'v1 beta' }, /version\["app.kubernetes.io\/version"\] "v1 beta" must be a label value/],
    ['a gunicorn app that is not module:variable', { server: PythonServer.gunicorn({ app: 'shop.wsgi' }) }, /server.app "shop.wsgi" must be a Python app reference "module:variable"/],
    ['zero gunicorn workers', { server: PythonServer.gunicorn({ app: 'a:b', workers: 0 }) }, /server.workers 0 must be a whole number from 1 to 1024/],
    ['an empty command', { server: PythonServer.command([]) }, /server.command \[\] must be a non-empty list of strings/],
  ];

  test.each(cases)('%s fails at construction naming the construct, prop, value and rule', (_title, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('no props at all is a clear error, not a TypeError', () => {
    const chart = new Chart(Testing.app(), 'c');
    expect(() => new PythonService(chart, 'api', undefined as any)).toThrow(/PythonService 'api': props .* must be an object with at least "image"/);
  });
});

describe('volumes the processes share (mounts)', () => {
  /** A document manager's layout: media on a shared claim for every process, a consumer inbox for one worker. */
  function documentManager(security = true) {
    const chart = new Chart(Testing.app(), 'docs', { namespace: 'docs' });
    const media = new kplus.PersistentVolumeClaim(chart, 'MediaClaim', {
      metadata: { name: 'docs-media' }, storage: Size.gibibytes(10), accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_MANY],
    });
    const settings = kplus.Secret.fromSecretName(chart, 'Settings', 'docs-settings');
    const service = new PythonService(chart, 'docs', {
      image: IMAGE,
      mounts: [
        { path: '/app/media', volume: kplus.Volume.fromPersistentVolumeClaim(chart, 'Media', media, { name: 'media' }) },
        { path: '/etc/docs', volume: kplus.Volume.fromSecret(chart, 'SettingsVolume', settings, { name: 'settings' }), readOnly: true },
      ],
      migrations: { command: ['python', 'manage.py', 'migrate'] },
      security: security ? { allowedImages: ['ghcr.io/acme/'] } : undefined,
    });
    const consumer = service.addWorker('consumer', {
      process: WorkerProcess.command(['python', 'manage.py', 'document_consumer']),
      mounts: [{ path: '/app/consume', volume: kplus.Volume.fromEmptyDir(chart, 'Inbox', 'inbox') }],
    });
    service.addCronJob('index', { schedule: '0 3 * * *', command: ['python', 'manage.py', 'document_index', 'reindex'] });
    return { chart, service, consumer, manifests: synth(chart) };
  }
  const mountsOf = (m: Manifest) => appContainer(m).volumeMounts.map((vm: any) => `${vm.mountPath}=${vm.name}${vm.readOnly ? ' (ro)' : ''}`);

  test('a service\'s mounts reach every Python container: web, workers, scheduled jobs and the migration Job', () => {
    const { manifests } = documentManager();
    const shared = ['/app/media=media', '/etc/docs=settings (ro)'];
    expect(mountsOf(only(manifests, 'Deployment', 'docs'))).toEqual(expect.arrayContaining(shared));
    expect(mountsOf(only(manifests, 'CronJob', 'docs-index'))).toEqual(expect.arrayContaining(shared));
    expect(mountsOf(only(manifests, 'Job'))).toEqual(expect.arrayContaining(shared));
    expect(podTemplateOf(only(manifests, 'Deployment', 'docs'))!.spec.volumes).toEqual(expect.arrayContaining([
      { name: 'media', persistentVolumeClaim: { claimName: 'docs-media', readOnly: false } },
      { name: 'settings', secret: { secretName: 'docs-settings' } },
    ]));
  });

  test('a component\'s own mounts are added to the service\'s, for it alone', () => {
    const { manifests } = documentManager();
    expect(mountsOf(only(manifests, 'Deployment', 'docs-consumer'))).toEqual(['/tmp=tmp', '/app/media=media', '/etc/docs=settings (ro)', '/app/consume=inbox']);
    expect(mountsOf(only(manifests, 'Deployment', 'docs'))).not.toContain('/app/consume=inbox');
  });

  test('the output is valid for Kubernetes, and the admission policy admits the declared volumes', () => {
    const { manifests } = documentManager();
    expectStrictlyValid(manifests);
    const policy = servicePolicy(manifests).spec;
    for (const m of manifests.filter((x) => ['Deployment', 'Job', 'CronJob'].includes(x.kind))) expect([m.metadata.name, evaluatePolicy(policy, m)]).toEqual([m.metadata.name, { allowed: true }]);
  });

  test.each([
    [{ path: 'media', name: 'media' }, 'mounts[0].path "media" must be an absolute path without ".." segments'],
    [{ path: '/app/../etc', name: 'media' }, 'mounts[0].path "/app/../etc" must be an absolute path without ".." segments'],
    [{ path: '/tmp', name: 'media' }, 'mounts[0].path "/tmp" is the writable /tmp every Python container already mounts; pick another path'],
    [{ path: '/app/media', name: 'tmp' }, 'mounts[0].volume "tmp" is the name of the /tmp volume every Python container has; give the volume another name'],
    [{ path: '/data', name: 'media', persistence: true }, 'mounts[0].path "/data" is a path the service mounts a volume of its own at'],
    [{ path: '/app/media', name: 'config' }, 'mounts[0].volume "config" is the name of a volume the service mounts itself'],
  ])('a bad mount %j fails early, naming the prop and the rule', (mount: { path: string; name: string; persistence?: boolean }, message) => {
    const chart = new Chart(Testing.app(), 'docs', { namespace: 'docs' });
    const volume = kplus.Volume.fromEmptyDir(chart, 'V', mount.name);
    const persistence = mount.persistence ? { size: Size.gibibytes(1), accessMode: kplus.PersistentVolumeAccessMode.READ_WRITE_MANY } : undefined;
    expect(() => new PythonService(chart, 'docs', { image: IMAGE, persistence, mounts: [{ path: mount.path, volume }] })).toThrow(`PythonService 'docs': ${message}`);
  });

  test('subPath mounts one file of a Secret at a path of its own, leaving the rest of the folder alone', () => {
    const chart = new Chart(Testing.app(), 'bi', { namespace: 'bi' });
    const config = kplus.Volume.fromSecret(chart, 'Config', kplus.Secret.fromSecretName(chart, 'ConfigSecret', 'bi-config'), { name: 'bi-config' });
    new PythonService(chart, 'bi', { image: IMAGE, mounts: [{ path: '/app/pythonpath/superset_config.py', volume: config, subPath: 'superset_config.py', readOnly: true }] });
    const manifests = synth(chart);
    expect(appContainer(only(manifests, 'Deployment')).volumeMounts).toEqual(expect.arrayContaining([
      { mountPath: '/app/pythonpath/superset_config.py', name: 'bi-config', readOnly: true, subPath: 'superset_config.py' },
    ]));
    expectStrictlyValid(manifests);
    expect(() => new PythonService(chart, 'bad', { image: IMAGE, mounts: [{ path: '/etc/x', volume: config, subPath: '../x' }] }))
      .toThrow('PythonService \'bad\': mounts[0].subPath "../x" must be a path relative to the volume\'s root without ".." segments');
  });

  test('two mounts at one path, or two volumes under one name, fail; so does a component mount over the service\'s', () => {
    const chart = new Chart(Testing.app(), 'docs', { namespace: 'docs' });
    const a = kplus.Volume.fromEmptyDir(chart, 'A', 'a');
    const otherA = kplus.Volume.fromEmptyDir(chart, 'OtherA', 'a');
    expect(() => new PythonService(chart, 'one', { image: IMAGE, mounts: [{ path: '/a', volume: a }, { path: '/a/', volume: kplus.Volume.fromEmptyDir(chart, 'B', 'b') }] }))
      .toThrow("PythonService 'one': mounts[1].path \"/a/\" is already mounted by mounts[0]; a path takes one volume");
    expect(() => new PythonService(chart, 'two', { image: IMAGE, mounts: [{ path: '/a', volume: a }, { path: '/b', volume: otherA }] }))
      .toThrow("PythonService 'two': mounts[1].volume \"a\" names another volume too; give each volume its own name");
    const service = new PythonService(chart, 'three', { image: IMAGE, mounts: [{ path: '/a', volume: a }] });
    expect(() => service.addWorker('w', { process: WorkerProcess.command(['python']), mounts: [{ path: '/a', volume: kplus.Volume.fromEmptyDir(chart, 'C', 'c') }] }))
      .toThrow("PythonService 'three' PythonWorker 'w': mounts[0].path \"/a\" is already mounted by the service's mounts; a path takes one volume");
  });
});
