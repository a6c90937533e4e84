import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** The Kubernetes minors the real-control-plane tier runs on: the oldest the defaults support and the newest release. */
export const CONTROL_PLANE_MINORS = ['1.30', '1.37'] as const;
export type ControlPlaneMinor = typeof CONTROL_PLANE_MINORS[number];

/** Paths of the real programs, per minor where they are per release. */
export interface ToolPaths {
  readonly etcd: string;
  readonly kyverno: string;
  readonly promtool: string;
  readonly redisServer: string;
  /** Where the unpacked redis-server finds its libraries ('' when it came from PATH). */
  readonly redisLibraryPath: string;
  readonly kubernetes: { [minor: string]: { version: string; kubeApiserver: string; kubeControllerManager: string; kubectl: string; etcd?: string } };
  /** The node tier's programs: a kubelet and kube-scheduler of one release, Debian's container runtime, a pause program. */
  readonly node: {
    readonly version: string;
    readonly kubelet: string;
    readonly kubeScheduler: string;
    /** The cluster tier's service proxy, of the kubelet's release. */
    readonly kubeProxy: string;
    /** Where containerd, runc, the CNI plugins and docker-registry were unpacked (`usr/bin`, `usr/sbin`, `usr/lib/cni`). */
    readonly runtimeRoot: string;
    readonly pause: string;
  };
  /** The cluster tier's add-ons: CoreDNS, kube-router, and the iptables and ipset they drive. */
  readonly cluster: {
    readonly coredns: string;
    readonly kubeRouter: string;
    /** A folder with iptables, iptables-save, iptables-restore (and ip6tables*), ipset and conntrack. */
    readonly netfilterBin: string;
    /** Where the unpacked netfilter tools find their libraries and iptables its extensions ('' when from PATH). */
    readonly netfilterLibraryPath: string;
    readonly xtablesLibdir: string;
  };
  /** The cluster's operations add-ons: metrics-server, prometheus-operator and its config reloader, Prometheus. */
  readonly operations: {
    readonly metricsServer: string;
    readonly prometheus: string;
    readonly prometheusOperator: string;
    readonly prometheusConfigReloader: string;
    /** The folder of the operator release's CRDs (Prometheus among them), in its Go module. */
    readonly prometheusOperatorCrds: string;
  };
  /** The image tier's builder: buildah, and debootstrap (a script, with its data folder) for the stand-in base image. */
  readonly imageBuilder: {
    readonly buildah: string;
    readonly debootstrap: string;
    readonly debootstrapDir: string;
  };
}

const root = path.resolve(__dirname, '..', '..');

/** The cache the provisioning script builds into (outside the repository). */
export function toolCacheDir(): string {
  // As the provisioning script reads them: an empty variable counts as unset.
  return process.env.CDK8S_PYTHON_SERVICE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'cdk8s-python-service');
}

/**
 * Runs scripts/provision-tools.sh (which builds only what is missing) and reads what it wrote.
 * Its progress lines go to this process's stderr, so a first run says what it builds and why.
 */
export function provisionTools(): ToolPaths {
  const envFile = execFileSync('bash', [path.join(root, 'scripts', 'provision-tools.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  }).trim().split('\n').pop()!;
  return readTools(envFile);
}

/** The provisioned programs, as the last provisioning wrote them down. */
export function provisionedTools(): ToolPaths {
  const envFile = path.join(toolCacheDir(), 'tools.env');
  if (!fs.existsSync(envFile)) throw new Error(`${envFile} is missing: the test suite's global setup provisions it (scripts/provision-tools.sh)`);
  return readTools(envFile);
}

function readTools(envFile: string): ToolPaths {
  const values: { [key: string]: string } = {};
  for (const line of fs.readFileSync(envFile, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values[line.slice(0, eq)] = line.slice(eq + 1);
  }
  const kubernetes: ToolPaths['kubernetes'] = {};
  for (const version of (values.K8S_VERSIONS ?? '').split(' ').filter(Boolean)) {
    const minor = version.split('.').slice(0, 2).join('.');
    const key = `K8S_${minor.split('.')[1]}`;
    kubernetes[minor] = {
      version: values[`${key}_VERSION`],
      kubeApiserver: values[`${key}_KUBE_APISERVER`],
      kubeControllerManager: values[`${key}_KUBE_CONTROLLER_MANAGER`],
      kubectl: values[`${key}_KUBECTL`],
      etcd: values[`${key}_ETCD`],
    };
  }
  return {
    etcd: values.ETCD,
    kyverno: values.KYVERNO,
    promtool: values.PROMTOOL,
    redisServer: values.REDIS_SERVER,
    redisLibraryPath: values.REDIS_LIBRARY_PATH ?? '',
    kubernetes,
    node: {
      version: values.NODE_VERSION,
      kubelet: values.NODE_KUBELET,
      kubeScheduler: values.NODE_KUBE_SCHEDULER,
      kubeProxy: values.NODE_KUBE_PROXY,
      runtimeRoot: values.NODE_RUNTIME_ROOT,
      pause: values.NODE_PAUSE,
    },
    cluster: {
      coredns: values.COREDNS,
      kubeRouter: values.KUBE_ROUTER,
      netfilterBin: values.NETFILTER_BIN,
      netfilterLibraryPath: values.NETFILTER_LIBRARY_PATH ?? '',
      xtablesLibdir: values.XTABLES_LIBDIR ?? '',
    },
    operations: {
      metricsServer: values.METRICS_SERVER,
      prometheus: values.PROMETHEUS,
      prometheusOperator: values.PROMETHEUS_OPERATOR,
      prometheusConfigReloader: values.PROMETHEUS_CONFIG_RELOADER,
      prometheusOperatorCrds: values.PROMETHEUS_OPERATOR_CRDS,
    },
    imageBuilder: {
      buildah: values.BUILDAH,
      debootstrap: values.DEBOOTSTRAP,
      debootstrapDir: values.DEBOOTSTRAP_DIR,
    },
  };
}
