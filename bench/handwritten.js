// The benchmark's full-stack service written by hand with cdk8s-plus-28 (and plain ApiObjects
// where cdk8s-plus-28 has no construct), producing the same YAML as bench/library.js. This is
// what a user would write without the library; the equivalence test proves the output equal.
const { createHash } = require('crypto');
const { ApiObject, Duration, JsonPatch, Size } = require('cdk8s');
const kplus = require('cdk8s-plus-28');
const { Construct } = require('constructs');

const ALLOWED_IMAGES = ['registry.example.com/shop/'];
const MIGRATE = ['python', 'manage.py', 'migrate', '--noinput'];
const GUNICORN_CONFIG = require('../lib/python/gunicorn-config').renderGunicornConfig({ multiprocess: true, metricsPort: 9090 });

// The Pod Security "restricted" rules in CEL (and no hostPath), written once, used by the service's
// policy and by the namespace's.
const RESTRICTED_RULES = [
  ["variables.podSpec.?volumes.orValue([]).all(v, !has(v.hostPath))",
    "no-host-path: hostPath volumes are forbidden"],
  ["variables.podSpec.?hostNetwork.orValue(false) == false && variables.podSpec.?hostPID.orValue(false) == false && variables.podSpec.?hostIPC.orValue(false) == false",
    "no-host-namespaces: hostNetwork, hostPID and hostIPC must not be true"],
  ["variables.containers.all(c, c.?securityContext.?privileged.orValue(false) == false)",
    "not-privileged: containers must not be privileged"],
  ["variables.podSpec.?securityContext.?windowsOptions.?hostProcess.orValue(false) == false && variables.containers.all(c, c.?securityContext.?windowsOptions.?hostProcess.orValue(false) == false)",
    "no-host-process: Windows HostProcess pods and containers are forbidden"],
  ["variables.containers.all(c, c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0))",
    "no-host-ports: containers must not use host ports"],
  ["variables.podSpec.?securityContext.?appArmorProfile.?type.orValue('') != 'Unconfined' && variables.containers.all(c, c.?securityContext.?appArmorProfile.?type.orValue('') != 'Unconfined') && variables.podMetadata.?annotations.orValue({}).all(k, !k.startsWith('container.apparmor.security.beta.kubernetes.io/') || variables.podMetadata.annotations[k] == 'runtime/default' || variables.podMetadata.annotations[k].startsWith('localhost/'))",
    "apparmor: AppArmor must not be Unconfined (profile type, or a container.apparmor.security.beta.kubernetes.io annotation other than runtime/default or localhost/*)"],
  ["([variables.podSpec.?securityContext.?seLinuxOptions.orValue({})] + variables.containers.map(c, c.?securityContext.?seLinuxOptions.orValue({}))).all(o, o.?type.orValue('') in ['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'] && o.?user.orValue('') == '' && o.?role.orValue('') == '')",
    "selinux: SELinux type must be one of container_t, container_init_t, container_kvm_t, container_engine_t (or unset), and user and role unset"],
  ["variables.containers.all(c, c.?securityContext.?procMount.orValue('Default') == 'Default')",
    "proc-mount: containers must use the Default /proc mount"],
  ["variables.podSpec.?securityContext.?sysctls.orValue([]).all(s, s.name in ['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes'])",
    "sysctls: only the safe sysctls are allowed: kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, net.ipv4.ip_local_reserved_ports, net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout, net.ipv4.tcp_keepalive_intvl, net.ipv4.tcp_keepalive_probes"],
  ["variables.podSpec.?securityContext.?runAsNonRoot.orValue(true) == true && variables.containers.all(c, c.?securityContext.?runAsNonRoot.orValue(variables.podSpec.?securityContext.?runAsNonRoot.orValue(false)) == true)",
    "run-as-non-root: containers must run as non-root (runAsNonRoot true on each container or the pod, and never false on the pod)"],
  ["variables.podSpec.?securityContext.?runAsUser.orValue(1) != 0 && variables.containers.all(c, c.?securityContext.?runAsUser.orValue(1) != 0)",
    "run-as-non-root-user: runAsUser must not be 0, on the pod or any container"],
  ["variables.containers.all(c, c.?securityContext.?allowPrivilegeEscalation.orValue(true) == false)",
    "no-privilege-escalation: containers must set allowPrivilegeEscalation to false"],
  ["variables.containers.all(c, 'ALL' in c.?securityContext.?capabilities.?drop.orValue(['']) && c.?securityContext.?capabilities.?add.orValue(['NET_BIND_SERVICE']).all(a, a == 'NET_BIND_SERVICE'))",
    "drop-all-capabilities: containers must drop ALL capabilities and may add only NET_BIND_SERVICE"],
  ["variables.podSpec.?securityContext.?seccompProfile.?type.orValue('') in ['', 'RuntimeDefault', 'Localhost'] && variables.containers.all(c, c.?securityContext.?seccompProfile.?type.orValue(variables.podSpec.?securityContext.?seccompProfile.?type.orValue('')) in ['RuntimeDefault', 'Localhost'])",
    "seccomp: containers must use the RuntimeDefault or a Localhost seccomp profile, and the pod must not set another"],
  ["variables.podSpec.?volumes.orValue([]).all(v, v.all(k, k == 'name' || k in ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']))",
    "volume-types: volumes must be of the types Pod Security \"restricted\" allows: configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret"],
];


const validation = (expression, message, messageExpression) => ({ expression, message, ...(messageExpression ? { messageExpression } : {}), reason: 'Forbidden' });

/** A ValidatingAdmissionPolicy and its Binding for one namespace; without objectSelector, for every pod in it. */
function admissionPolicy(scope, { name, namespace, labels, objectSelector, validations }) {
  const policy = new ApiObject(scope, 'Policy', {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name, labels: { ...labels } },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'] },
          { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['jobs', 'cronjobs'] },
          { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] },
          { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'] },
        ],
        objectSelector,
      },
      variables: [
        { name: 'podSpec', expression: "object.kind == 'Pod' ? object.spec : object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec" },
        { name: 'podMetadata', expression: "object.kind == 'Pod' ? object.metadata : object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.?metadata.orValue({}) : object.spec.template.?metadata.orValue({})" },
        { name: 'containers', expression: "variables.podSpec.containers + variables.podSpec.?initContainers.orValue([]) + variables.podSpec.?ephemeralContainers.orValue([])" },
      ],
      validations,
    },
  });
  const binding = new ApiObject(scope, 'Binding', {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name, labels: { ...labels } },
    spec: { policyName: name, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } } },
  });
  for (const obj of [policy, binding]) obj.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
}

function handwrittenService(chart, i) {
  const ns = chart.namespace;
  const name = `svc-${i}`;
  const image = `registry.example.com/shop/svc-${i}:1.0.${i}`;
  // The namespace's policy: every pod of the namespace, labelled or not, held to the allowed images and restricted.
  if (i === 0) {
    const images = `['${ALLOWED_IMAGES.join("', '")}']`;
    admissionPolicy(new Construct(chart, `namespace-policy-${ns}`), {
      name: `${ns}-namespace-policy`,
      namespace: ns,
      labels: { 'app.kubernetes.io/managed-by': 'cdk8s' },
      validations: [
        validation(`variables.containers.all(c, ${images}.exists(p, c.image.startsWith(p)))`, `allowed-images: every container image must be one of, or under one of: ${ALLOWED_IMAGES.join(', ')}`,
          `'allowed-images: images not allowed: ' + variables.containers.filter(c, !(${images}.exists(p, c.image.startsWith(p)))).map(c, c.image).join(', ') + ' (allowed: ${ALLOWED_IMAGES.join(', ')})'`),
        ...RESTRICTED_RULES.map(([expression, message]) => validation(expression, message)),
      ],
    });
  }
  const scope = new Construct(chart, name);
  const selector = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': name, 'app.kubernetes.io/component': 'server' };
  const labels = { ...selector, 'app.kubernetes.io/version': `1.0.${i}`, 'app.kubernetes.io/part-of': name, 'app.kubernetes.io/managed-by': 'cdk8s' };
  const migrationLabels = { ...labels, 'app.kubernetes.io/component': 'migration' };
  const meta = (n, l = labels) => ({ name: n, labels: { ...l } });

  // Admission policies first, so a first `kubectl apply -f` creates them before the pods they govern.
  const security = new Construct(scope, 'SecurityPolicy');
  const policyName = `${ns}-${name}-policy`;
  const images = `['${ALLOWED_IMAGES.join("', '")}']`;
  const volumes = ['gunicorn-config', 'prometheus-multiproc', 'tmp', 'worker-tmp'];
  const volumeList = `['${volumes.join("', '")}']`;
  admissionPolicy(security, {
    name: policyName,
    namespace: ns,
    labels,
    objectSelector: { matchLabels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': name } },
    validations: [
      validation(`variables.containers.all(c, ${images}.exists(p, c.image.startsWith(p)))`, `allowed-images: every container image must be one of, or under one of: ${ALLOWED_IMAGES.join(', ')}`,
        `'allowed-images: images not allowed: ' + variables.containers.filter(c, !(${images}.exists(p, c.image.startsWith(p)))).map(c, c.image).join(', ') + ' (allowed: ${ALLOWED_IMAGES.join(', ')})'`),
      validation(`variables.podSpec.?volumes.orValue([]).all(v, v.name in ${volumeList})`, `allowed-volumes: only these volumes are allowed: ${volumes.join(', ')}`,
        `'allowed-volumes: volumes not allowed: ' + variables.podSpec.?volumes.orValue([]).filter(v, !(v.name in ${volumeList})).map(v, v.name).join(', ') + ' (allowed: ${volumes.join(', ')})'`),
      ...RESTRICTED_RULES.map(([expression, message]) => validation(expression, message)),
    ],
  });

  const sa = new kplus.ServiceAccount(scope, 'ServiceAccount', { metadata: meta(name), automountToken: false });
  const podSecurity = { ensureNonRoot: true, user: 10001, group: 10001, fsGroup: 10001, fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH };
  const env = (extra) => ({
    PYTHONUNBUFFERED: kplus.EnvValue.fromValue('1'),
    PYTHONDONTWRITEBYTECODE: kplus.EnvValue.fromValue('1'),
    PYTHON_CPU_COUNT: kplus.EnvValue.fromValue('1'),
    TMPDIR: kplus.EnvValue.fromValue('/tmp'),
    ...extra,
    DJANGO_SETTINGS_MODULE: kplus.EnvValue.fromValue('app.settings'),
  });
  const container = (containerName) => ({
    name: containerName,
    image,
    imagePullPolicy: kplus.ImagePullPolicy.ALWAYS,
    resources: {
      cpu: { request: kplus.Cpu.millis(500) },
      memory: { request: Size.mebibytes(512), limit: Size.mebibytes(512) },
      ephemeralStorage: { request: Size.gibibytes(1), limit: Size.gibibytes(1) },
    },
    securityContext: {
      ensureNonRoot: true, user: 10001, group: 10001, privileged: false, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
      capabilities: { drop: [kplus.Capability.ALL] }, seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
    },
  });

  const deployment = new kplus.Deployment(scope, 'Deployment', {
    metadata: meta(name),
    select: false,
    podMetadata: { labels: { ...labels } },
    serviceAccount: sa,
    automountServiceAccountToken: false,
    terminationGracePeriod: Duration.seconds(40),
    securityContext: podSecurity,
    strategy: kplus.DeploymentStrategy.rollingUpdate({ maxSurge: kplus.PercentOrAbsolute.percent(25), maxUnavailable: kplus.PercentOrAbsolute.absolute(0) }),
  });
  deployment.select(kplus.LabelSelector.of({ labels: selector }));
  const app = deployment.addContainer({
    ...container('app'),
    envVariables: env({ WEB_CONCURRENCY: kplus.EnvValue.fromValue('3'), XDG_RUNTIME_DIR: kplus.EnvValue.fromValue('/run/gunicorn') }),
    command: ['gunicorn', 'app.wsgi:application', '--bind', '0.0.0.0:8080', '--worker-class', 'sync', '--worker-tmp-dir', '/run/gunicorn',
      '--graceful-timeout', '30', '--timeout', '30', '--access-logfile', '-', '--error-logfile', '-', '--config', '/etc/gunicorn/gunicorn.conf.py'],
    ports: [{ number: 8080, name: 'http', protocol: kplus.Protocol.TCP }],
    startup: kplus.Probe.fromHttpGet('/healthz', { port: 8080, periodSeconds: Duration.seconds(2), timeoutSeconds: Duration.seconds(2), failureThreshold: 60 }),
    readiness: kplus.Probe.fromHttpGet('/healthz', { port: 8080, periodSeconds: Duration.seconds(10), timeoutSeconds: Duration.seconds(5), failureThreshold: 3 }),
    liveness: kplus.Probe.fromTcpSocket({ port: 8080, periodSeconds: Duration.seconds(20), timeoutSeconds: Duration.seconds(5), failureThreshold: 3 }),
  });
  const deploymentObject = ApiObject.of(deployment);
  // Django's ALLOWED_HOSTS: the probes send the public host name.
  for (const probe of ['startupProbe', 'readinessProbe']) {
    deploymentObject.addJsonPatch(JsonPatch.add(`/spec/template/spec/containers/0/${probe}/httpGet/httpHeaders`, [{ name: 'Host', value: `${name}.example.com` }]));
  }
  // The kubelet's preStop sleep action: cdk8s-plus-28 has no API for it and its types drop a JSON patch of it.
  const renderDeployment = deploymentObject.toJson.bind(deploymentObject);
  deploymentObject.toJson = () => {
    const manifest = renderDeployment();
    const containers = manifest.spec.template.spec.containers;
    containers[0] = Object.fromEntries(Object.entries({ ...containers[0], lifecycle: { preStop: { sleep: { seconds: 5 } } } }).sort(([a], [b]) => (a < b ? -1 : 1)));
    return manifest;
  };
  app.mount('/tmp', kplus.Volume.fromEmptyDir(scope, 'TmpVolume', 'tmp', { sizeLimit: Size.mebibytes(256) }));
  app.mount('/run/gunicorn', kplus.Volume.fromEmptyDir(scope, 'WorkerTmpVolume', 'worker-tmp', { medium: kplus.EmptyDirMedium.MEMORY, sizeLimit: Size.mebibytes(16) }));
  // prometheus_client's multiprocess hooks for gunicorn, in a config file the pods mount. The
  // Python text is the library's: a user would write the same file by hand.
  // Named by its content (immutable), so a change of the hooks rolls the pods.
  const gunicornData = { 'gunicorn.conf.py': GUNICORN_CONFIG };
  const gunicornHash = createHash('sha256').update(JSON.stringify(gunicornData)).digest('hex').slice(0, 8);
  const gunicornConfig = new kplus.ConfigMap(scope, 'GunicornConfig', { metadata: meta(`${name}-gunicorn-${gunicornHash}`), data: gunicornData, immutable: true });
  app.mount('/etc/gunicorn', kplus.Volume.fromConfigMap(scope, 'GunicornConfigVolume', gunicornConfig, { name: 'gunicorn-config' }), { readOnly: true });

  const service = new kplus.Service(scope, 'Service', {
    metadata: meta(name),
    type: kplus.ServiceType.CLUSTER_IP,
    ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: kplus.Protocol.TCP }],
  });
  for (const [k, v] of Object.entries(selector)) service.selectLabel(k, v);
  // cdk8s-plus-28 renders `externalIPs: []`, which the API server drops: a user who diffs applies removes it too.
  ApiObject.of(service).addJsonPatch(JsonPatch.remove('/spec/externalIPs'));

  new kplus.Ingress(scope, 'Ingress', {
    metadata: meta(name),
    rules: [{ host: `${name}.example.com`, path: '/', pathType: kplus.HttpIngressPathType.PREFIX, backend: kplus.IngressBackend.fromService(service, { port: 80 }) }],
    tls: [{ hosts: [`${name}.example.com`], secret: kplus.Secret.fromSecretName(scope, 'TlsSecret', `${name}-tls`) }],
  });

  new kplus.HorizontalPodAutoscaler(scope, 'Autoscaler', {
    metadata: meta(`${name}-hpa`),
    target: deployment,
    minReplicas: 2,
    maxReplicas: 6,
    metrics: [kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(70))],
    scaleDown: {
      stabilizationWindow: Duration.minutes(5),
      strategy: kplus.ScalingStrategy.MIN_CHANGE,
      policies: [{ replicas: kplus.Replicas.absolute(1), duration: Duration.minutes(1) }],
    },
  });

  const pdbScope = new Construct(scope, 'DisruptionBudget');
  new kplus.k8s.KubePodDisruptionBudget(pdbScope, 'Resource', {
    metadata: meta(`${name}-pdb`),
    spec: { maxUnavailable: kplus.k8s.IntOrString.fromNumber(1), selector: { matchLabels: { ...selector } }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  });
  deployment.scheduling.separate(kplus.Pods.select(scope, 'Peers', { labels: selector }), { topology: kplus.Topology.HOSTNAME, weight: 100 });
  ApiObject.of(deployment).addJsonPatch(JsonPatch.add('/spec/template/spec/topologySpreadConstraints', ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'].map((topologyKey) => ({
    maxSkew: 1, topologyKey, whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels: { 'app.kubernetes.io/component': 'server', 'app.kubernetes.io/instance': name, 'app.kubernetes.io/name': name } },
  }))));

  const kubeSystem = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } };
  const dns = {
    ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }],
    to: [
      ...['kube-dns', 'node-local-dns', 'nodelocaldns'].map((app) => ({ ...kubeSystem, podSelector: { matchLabels: { 'k8s-app': app } } })),
      ...['169.254.20.10/32', '169.254.25.10/32'].map((cidr) => ({ ipBlock: { cidr } })),
    ],
  };
  const npScope = new Construct(scope, 'NetworkPolicy');
  new ApiObject(npScope, 'Resource', {
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: meta(`${name}-netpol`),
    spec: {
      podSelector: { matchLabels: { ...selector } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        { ports: [{ port: 8080, protocol: 'TCP' }] },
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 9090, protocol: 'TCP' }] },
      ],
      egress: [dns],
    },
  });

  app.env.addVariable('PROMETHEUS_MULTIPROC_DIR', kplus.EnvValue.fromValue('/run/prometheus'));
  app.mount('/run/prometheus', kplus.Volume.fromEmptyDir(scope, 'MetricsVolume', 'prometheus-multiproc', { medium: kplus.EmptyDirMedium.MEMORY, sizeLimit: Size.mebibytes(64) }));
  // Metrics on their own port, served by the gunicorn arbiter: /metrics stays off the public app port.
  app.addPort({ number: 9090, name: 'metrics', protocol: kplus.Protocol.TCP });
  service.bind(9090, { name: 'metrics', targetPort: 9090, protocol: kplus.Protocol.TCP });
  const monitoring = new Construct(scope, 'Monitoring');
  new ApiObject(monitoring, 'ServiceMonitor', {
    apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: meta(name),
    spec: {
      endpoints: [{ interval: '30s', path: '/metrics', port: 'metrics', scheme: 'http', scrapeTimeout: '10s' }],
      namespaceSelector: { matchNames: [ns] },
      selector: { matchLabels: { ...selector } },
    },
  });
  const who = `${ns}/${name}`;
  const target = `namespace="${ns}",service="${name}"`;
  const hpa = `namespace="${ns}",horizontalpodautoscaler="${name}-hpa"`;
  const prefix = `Svc${i}`;
  const rule = (alert, expr, forDuration, summary, description) => ({ alert: `${prefix}${alert}`, annotations: { description, summary }, expr, for: forDuration, labels: { severity: 'warning', namespace: ns, service: name } });
  const by = 'by (namespace, service)';
  const byHpa = 'by (namespace, horizontalpodautoscaler)';
  new ApiObject(monitoring, 'PrometheusRule', {
    apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: meta(`${name}-alerts`),
    spec: {
      groups: [{
        name: `${ns}.${name}`,
        rules: [
          rule('TargetDown', `count ${by} (up{${target}} == 0) > 0 or absent(up{${target}})`, '5m', `Prometheus cannot scrape pods of ${who}`,
            `Metrics targets of ${who} are down or missing; the pods may be crashing, the metrics endpoint failing, or the ServiceMonitor not selected by Prometheus.`),
          rule('CrashLooping', `max by (namespace, pod) (increase(kube_pod_container_status_restarts_total{namespace="${ns}",pod=~"${name}-[a-z0-9]+-[a-z0-9]+"}[15m])) > 3`, '5m',
            `Pods of ${who} keep restarting`, `Pod {{ $labels.pod }} of ${who} restarted {{ $value }} times in 15 minutes (needs kube-state-metrics).`),
          rule('HighErrorRatio', `sum ${by} (rate(http_requests_total{${target},status=~"5.."}[5m])) / sum ${by} (rate(http_requests_total{${target}}[5m])) > 0.05`, '10m',
            `${who} answers too many 5xx`, `{{ $value | humanizePercentage }} of ${who} requests fail with 5xx (threshold 5%).`),
          rule('HighLatency', `histogram_quantile(0.95, sum by (namespace, service, le) (rate(http_request_duration_seconds_bucket{${target}}[5m]))) > 0.5`, '10m',
            `${who} is slow`, `95th percentile latency of ${who} is {{ $value | humanizeDuration }} (threshold 0.5s).`),
          rule('AtMaxReplicas', `max ${byHpa} (kube_horizontalpodautoscaler_status_current_replicas{${hpa}}) >= max ${byHpa} (kube_horizontalpodautoscaler_spec_max_replicas{${hpa}})`, '15m',
            `${who} runs at its maximum replicas`, `The autoscaler ${name}-hpa has been at its maximum for 15 minutes; raise maxReplicas or find the load (needs kube-state-metrics).`),
        ],
      }],
    },
  });

  const backup = new Construct(scope, 'Backup');
  new ApiObject(backup, 'Resource', {
    apiVersion: 'velero.io/v1', kind: 'Schedule', metadata: { name: `${ns}-${name}-backup`, namespace: 'velero', labels: { ...labels } },
    spec: {
      schedule: '0 0 * * *',
      template: {
        defaultVolumesToFsBackup: false,
        excludedResources: ['jobs.batch', 'pods'],
        includedNamespaces: [ns],
        metadata: { labels: { ...labels } },
        snapshotVolumes: false,
        ttl: '720h0m0s',
      },
      useOwnerReferencesInBackup: false,
    },
  });

  const migrations = new Construct(scope, 'Migrations');
  const migrationSa = new kplus.ServiceAccount(migrations, 'ServiceAccount', { metadata: meta(`${name}-migrate`, migrationLabels), automountToken: false });
  const job = new kplus.Job(migrations, 'Job', {
    metadata: meta(`${name}-migrate`, migrationLabels),
    podMetadata: { labels: { ...migrationLabels } },
    backoffLimit: 3,
    activeDeadline: Duration.minutes(30),
    serviceAccount: migrationSa,
    automountServiceAccountToken: false,
    securityContext: podSecurity,
    restartPolicy: kplus.RestartPolicy.NEVER,
  });
  job.addContainer({ ...container('migrate'), envVariables: env({}), command: [...MIGRATE] })
    .mount('/tmp', kplus.Volume.fromEmptyDir(job, 'TmpVolume', 'tmp', { sizeLimit: Size.mebibytes(256) }));
  const jobObject = ApiObject.of(job);
  jobObject.addJsonPatch(JsonPatch.add('/spec/podFailurePolicy', { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] }));
  // A Job's template is immutable: name it after its content so any change makes a new Job.
  const render = jobObject.toJson.bind(jobObject);
  jobObject.toJson = () => {
    const manifest = render();
    const { name: _name, ...metadata } = manifest.metadata;
    manifest.metadata.name = `${name}-migrate-${createHash('sha256').update(JSON.stringify({ ...manifest, metadata })).digest('hex').slice(0, 8)}`;
    return manifest;
  };
  const migrateNp = new Construct(migrations, 'NetworkPolicy');
  new ApiObject(migrateNp, 'Resource', {
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: meta(`${name}-migrate-netpol`, migrationLabels),
    spec: { podSelector: { matchLabels: { ...selector, 'app.kubernetes.io/component': 'migration' } }, policyTypes: ['Ingress', 'Egress'], egress: [dns] },
  });

}

module.exports = { handwrittenService };
