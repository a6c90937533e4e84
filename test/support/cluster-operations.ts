import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseDocument } from 'yaml';
import { Cluster } from './cluster';
import { programImageArchive } from './node-image';
import { freePort } from './ports';
import { provisionedTools } from './tools';

/**
 * The add-ons a cluster's operations run on, started on a `Cluster` (test/support/cluster.ts), all
 * of them real programs as a cluster runs them:
 * - metrics-server, behind the `v1beta1.metrics.k8s.io` APIService, reading the kubelet's resource
 *   metrics: what a HorizontalPodAutoscaler's CPU and memory targets are measured with;
 * - prometheus-operator, which turns ServiceMonitors, PodMonitors and PrometheusRules into the
 *   configuration of the Prometheus pods it runs (see `startPrometheus`).
 * metrics-server and the operator run as the node's processes (as host-network pods would);
 * Prometheus runs in the pod the operator creates, from images of the provisioned programs.
 */

/** Starts metrics-server on the node and registers its API; resolves once it serves the node's metrics. */
export async function startMetricsServer(cluster: Cluster): Promise<void> {
  const tools = provisionedTools();
  const port = await freePort();
  const certDir = path.join(cluster.node.dir, 'metrics-server');
  fs.mkdirSync(certDir, { recursive: true });
  const kubeconfig = cluster.plane.kubeconfig('admin');
  cluster.node.run('metrics-server', tools.operations.metricsServer, {}, [
    `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
    `--bind-address=${Cluster.NODE_ADDRESS}`, `--secure-port=${port}`, `--cert-dir=${certDir}`,
    // The kubelet's serving certificate is self-signed, as on kind and minikube.
    '--kubelet-insecure-tls', '--kubelet-preferred-address-types=InternalIP', '--kubelet-use-node-status-port',
    // Its chart's default pace (at most the kubelet's request timeout, 10 s, would be refused).
    '--metric-resolution=15s', '--v=1',
  ]);
  const endpoint = { addresses: [{ ip: Cluster.NODE_ADDRESS }], ports: [{ name: 'https', port, protocol: 'TCP' }] };
  cluster.plane.applyObjects([
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'metrics-server', namespace: 'kube-system' },
      spec: { ports: [{ name: 'https', port: 443, targetPort: port, protocol: 'TCP' }] },
    },
    { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'metrics-server', namespace: 'kube-system' }, subsets: [endpoint] },
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1beta1.metrics.k8s.io' },
      spec: {
        service: { name: 'metrics-server', namespace: 'kube-system', port: 443 },
        group: 'metrics.k8s.io',
        version: 'v1beta1',
        // metrics-server's certificate is its own, self-signed (its chart's default as well).
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    },
  ]);
  await cluster.plane.waitFor('metrics-server to serve the node\'s metrics', async () => {
    const nodes = await cluster.plane.api('GET', '/apis/metrics.k8s.io/v1beta1/nodes');
    return nodes.status === 200 && (nodes.body.items ?? []).length > 0;
  }, 120_000).catch((e) => {
    throw new Error(`${e.message}\n--- metrics-server\n${cluster.node.logTail('metrics-server', 30)}`);
  });
}

/** The CPU a pod uses now, in millicores, as metrics-server reports it (undefined until it has a sample). */
export async function podCpuMillis(cluster: Cluster, namespace: string, pod: string): Promise<number | undefined> {
  const r = await cluster.plane.api('GET', `/apis/metrics.k8s.io/v1beta1/namespaces/${namespace}/pods/${pod}`);
  if (r.status !== 200) return undefined;
  return (r.body.containers ?? []).reduce((sum: number, c: any) => sum + cpuMillis(c.usage.cpu), 0);
}

/** A CPU quantity ("250m", "1", "12345n") in millicores. */
export function cpuMillis(quantity: string): number {
  const m = /^([0-9.]+)([num]?)$/.exec(quantity);
  if (!m) throw new Error(`not a CPU quantity: ${quantity}`);
  const scale = { 'n': 1e-6, 'u': 1e-3, 'm': 1, '': 1000 }[m[2] as 'n' | 'u' | 'm' | ''];
  return Number(m[1]) * scale;
}

/** The label by which the Prometheus selects monitors and rules, as kube-prometheus-stack's does (its release's name). */
export const PROMETHEUS_SELECTOR = { release: 'kube-prometheus-stack' };

/** A Prometheus the operator runs, and the HTTP API of its pod. */
export interface Prometheus {
  /** GETs a path of Prometheus's HTTP API (e.g. `/api/v1/targets`) from the node; returns its `data`. */
  api(pathAndQuery: string): any;
  /** An instant query's result vector. */
  query(promql: string): Array<{ metric: { [label: string]: string }; value: [number, string] }>;
}

/** One GET from the node (urllib); prints the body. */
const GET = `
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=20) as response:
    sys.stdout.write(response.read().decode())
`;

/**
 * Starts prometheus-operator (0.85, with its release's CRDs beside the library's) and a Prometheus
 * in `monitoring` that selects every namespace's ServiceMonitors, PodMonitors and PrometheusRules
 * labelled `release: kube-prometheus-stack`, as kube-prometheus-stack's does. Resolves once its
 * pod is Ready.
 */
export async function startPrometheus(cluster: Cluster, options: { evaluationInterval: string }): Promise<Prometheus> {
  const tools = provisionedTools();
  const ops = tools.operations;
  const installed = new Set(['servicemonitors', 'podmonitors', 'prometheusrules']);
  const crds = fs.readdirSync(ops.prometheusOperatorCrds).filter((f) => f.endsWith('.yaml') && !installed.has(f.replace(/^monitoring\.coreos\.com_|\.yaml$/g, '')))
    .map((f) => parseDocument(fs.readFileSync(path.join(ops.prometheusOperatorCrds, f), 'utf8')).toJS());
  cluster.plane.applyObjects(crds, 'crd-install');
  for (const crd of crds) {
    await cluster.plane.waitFor(`CRD ${crd.metadata.name} established`, async () => {
      const r = await cluster.plane.api('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
      return (r.body?.status?.conditions ?? []).some((c: any) => c.type === 'Established' && c.status === 'True');
    });
  }
  const version = /version (\S+)/.exec(execFileSync(ops.prometheus, ['--version'], { encoding: 'utf8' }))![1];
  const reloaderVersion = /version (\S+)/.exec(execFileSync(ops.prometheusConfigReloader, ['--version'], { encoding: 'utf8' }))![1];
  const image = `quay.io/prometheus/prometheus:v${version}`;
  const reloader = `quay.io/prometheus-operator/prometheus-config-reloader:v${reloaderVersion}`;
  cluster.node.importImage(programImageArchive(image, ops.prometheus, cluster.node.dir, '65534:65534', '/bin/prometheus'));
  cluster.node.importImage(programImageArchive(reloader, ops.prometheusConfigReloader, cluster.node.dir, '65534:65534', '/bin/prometheus-config-reloader'));

  // The operator reads and writes the API as a user of its own (it takes a client certificate, not a kubeconfig).
  const credentials = cluster.plane.clientCredentials('prometheus-operator', ['system:masters']);
  cluster.node.run('prometheus-operator', ops.prometheusOperator, { onHost: true }, [
    `--apiserver=${cluster.plane.url}`, `--cert-file=${credentials.cert}`, `--key-file=${credentials.key}`, `--ca-file=${cluster.plane.certificateAuthorityFile}`,
    `--prometheus-config-reloader=${reloader}`, `--web.listen-address=127.0.0.1:${await freePort()}`, '--log-level=info',
  ]);

  const rbac = 'rbac.authorization.k8s.io';
  cluster.plane.applyObjects([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'monitoring' } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'prometheus', namespace: 'monitoring' } },
    // Prometheus's own role in kube-prometheus-stack: discovery, and the nodes' metrics.
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'prometheus' },
      rules: [
        { apiGroups: [''], resources: ['nodes', 'nodes/metrics', 'services', 'endpoints', 'pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      ],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'prometheus' },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'prometheus' },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: 'monitoring' }],
    },
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'Prometheus',
      metadata: { name: 'k8s', namespace: 'monitoring' },
      spec: {
        image,
        version: `v${version}`,
        replicas: 1,
        serviceAccountName: 'prometheus',
        serviceMonitorSelector: { matchLabels: PROMETHEUS_SELECTOR },
        serviceMonitorNamespaceSelector: {},
        podMonitorSelector: { matchLabels: PROMETHEUS_SELECTOR },
        podMonitorNamespaceSelector: {},
        ruleSelector: { matchLabels: PROMETHEUS_SELECTOR },
        ruleNamespaceSelector: {},
        evaluationInterval: options.evaluationInterval,
        resources: { requests: { cpu: '50m', memory: '256Mi' } },
      },
    },
  ]);
  let pod: any;
  await cluster.plane.waitFor('the Prometheus pod the operator runs to be Ready', async () => {
    pod = (await cluster.readyPods('monitoring', 'app.kubernetes.io/name=prometheus', 1, 5_000).catch(() => []))[0];
    return pod !== undefined;
  }, 240_000).catch((e) => {
    throw new Error(`${e.message}\n--- prometheus-operator\n${cluster.node.logTail('prometheus-operator', 30)}\n--- kubelet\n${cluster.node.logTail('kubelet', 20)}`);
  });
  const api = (pathAndQuery: string) => {
    const body = JSON.parse(cluster.onNode(GET, [`http://${pod.status.podIP}:9090${pathAndQuery}`]));
    if (body.status !== 'success') throw new Error(`Prometheus ${pathAndQuery}: ${JSON.stringify(body)}`);
    return body.data;
  };
  return {
    api,
    query: (promql) => api(`/api/v1/query?query=${encodeURIComponent(promql)}`).result,
  };
}
