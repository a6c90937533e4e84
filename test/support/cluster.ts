import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ControlPlane } from './control-plane';
import { KubeletNode } from './node';
import { programImageArchive } from './node-image';
import { provisionedTools } from './tools';

/** One GET (urllib: no keep-alive); prints the status and body, or the error, as JSON. */
const HTTP_GET = `
import json, sys, urllib.error, urllib.request
request = json.loads(sys.argv[1])
try:
    with urllib.request.urlopen(urllib.request.Request(request["url"], headers=request["headers"]), timeout=request["timeout"]) as response:
        print(json.dumps({"status": response.status, "body": response.read().decode("utf-8", "replace")}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "body": e.read().decode("utf-8", "replace")}))
except Exception as e:
    print(json.dumps({"error": repr(e)}))
`;

/** Where the cluster that holds the machine-wide names (its network namespace and link) writes its process ID. */
const LOCK = '/run/cdk8s-python-service-cluster.pid';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until no other live process runs a cluster (the network namespace and the link have
 * machine-wide names), then claims it; a claim whose process is gone is stale and taken over.
 */
async function claimMachine(): Promise<void> {
  for (;;) {
    try {
      fs.writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      return;
    } catch (e: any) {
      if (e.code !== 'EEXIST') throw e;
      const holder = Number(fs.readFileSync(LOCK, 'utf8'));
      let alive = true;
      try {
        process.kill(holder, 0);
      } catch {
        alive = false;
      }
      if (!alive || holder === process.pid) fs.rmSync(LOCK, { force: true });
      else await sleep(2_000);
    }
  }
}

/**
 * A real cluster on this machine: the 1.30 control plane, one real node, and the add-ons a cluster's
 * traffic goes through, all of them real programs:
 * - kube-proxy (iptables mode), so that a Service's ClusterIP spreads connections over its ready pods;
 * - CoreDNS as a pod behind the `kube-dns` Service (10.96.0.10) in kube-system, labelled
 *   `k8s-app: kube-dns` as kubeadm's, so the apps' DNS egress rules meet the shape they are written for;
 * - kube-router, firewall only, as the NetworkPolicy enforcer: it runs here (iptables and ipset),
 *   while kind's kube-network-policies needs NFQUEUE, which these machines lack.
 *
 * The node, its pods and the add-ons live in a network namespace of their own with no default
 * route: every packet stays on the machine, and the pods' 10.244.0.0/24 and the add-ons' iptables
 * rules stay apart from the machine's own. A veth pair joins it to the machine: the API server, the
 * image mirror and the test's "outside" listeners serve on the machine's end of it, and pods'
 * traffic to it is masqueraded as the node's. The test reaches pods only from inside pods
 * (`inPod`), so every check passes the enforcer as real traffic does.
 */
export class Cluster {
  public static readonly NETNS = 'cdk8s-cluster';
  /** The machine's end of the veth pair (the API server and the image mirror serve here). */
  public static readonly HOST_ADDRESS = '10.245.0.1';
  /** The namespace's end: the node's InternalIP. */
  public static readonly NODE_ADDRESS = '10.245.0.2';
  public static readonly DNS_ADDRESS = '10.96.0.10';
  public static readonly SERVICE_RANGE = '10.96.0.0/16';
  /** Starts the cluster; its pods may pull from `registries` (served by the node's mirror). */
  public static async start(registries: string[]): Promise<Cluster> {
    await claimMachine();
    Cluster.removeNetwork();
    const ip = (args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
    ip(['netns', 'add', Cluster.NETNS]);
    ip(['link', 'add', Cluster.HOST_LINK, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', Cluster.NETNS]);
    ip(['addr', 'add', `${Cluster.HOST_ADDRESS}/30`, 'dev', Cluster.HOST_LINK]);
    ip(['link', 'set', Cluster.HOST_LINK, 'up']);
    ip(['-n', Cluster.NETNS, 'addr', 'add', `${Cluster.NODE_ADDRESS}/30`, 'dev', 'eth0']);
    ip(['-n', Cluster.NETNS, 'link', 'set', 'eth0', 'up']);
    ip(['-n', Cluster.NETNS, 'link', 'set', 'lo', 'up']);
    let plane: ControlPlane | undefined;
    let node: KubeletNode | undefined;
    try {
      plane = await ControlPlane.start('1.30', Cluster.HOST_ADDRESS);
      await plane.installCrds();
      node = await KubeletNode.start(plane, registries, { netns: Cluster.NETNS, address: Cluster.NODE_ADDRESS, clusterDns: Cluster.DNS_ADDRESS });
      const cluster = new Cluster(plane, node);
      await cluster.addOns();
      return cluster;
    } catch (e) {
      node?.stop();
      plane?.stop();
      Cluster.removeNetwork();
      fs.rmSync(LOCK, { force: true });
      throw e;
    }
  }

  /** Whether the kubelet reports a pod Ready. */
  public static isReady(pod: any): boolean {
    return (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  }

  private static readonly HOST_LINK = 'cdk8s-cluster0';

  private static removeNetwork(): void {
    spawnSync('ip', ['netns', 'delete', Cluster.NETNS]);
    spawnSync('ip', ['link', 'delete', Cluster.HOST_LINK]);
  }

  private readonly tools = provisionedTools();

  private constructor(public readonly plane: ControlPlane, public readonly node: KubeletNode) {}

  /** The environment in which kube-proxy and kube-router find iptables and ipset. */
  private get netfilterEnv(): { [k: string]: string } {
    const c = this.tools.cluster;
    return {
      PATH: `${c.netfilterBin}:${process.env.PATH}`,
      ...c.netfilterLibraryPath ? { LD_LIBRARY_PATH: c.netfilterLibraryPath } : {},
      ...c.xtablesLibdir ? { XTABLES_LIBDIR: c.xtablesLibdir } : {},
    };
  }

  /** Runs a netfilter tool in the cluster's namespace. */
  public netfilter(tool: string, args: string[]): string {
    const [command, commandArgs] = this.node.inNode(path.join(this.tools.cluster.netfilterBin, tool), args);
    return execFileSync(command, commandArgs, { encoding: 'utf8', env: { ...process.env, ...this.netfilterEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  private async addOns(): Promise<void> {
    const ns = ['-n', Cluster.NETNS];
    // Routing between the pods, the Service range and the machine's end; the pods' traffic to the
    // machine leaves as the node's (the machine has no route to the pods).
    execFileSync('nsenter', [`--net=/var/run/netns/${Cluster.NETNS}`, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    execFileSync('ip', [...ns, 'route', 'add', Cluster.SERVICE_RANGE, 'dev', KubeletNode.BRIDGE]);
    this.netfilter('iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-s', KubeletNode.POD_SUBNET, '-o', 'eth0', '-j', 'MASQUERADE']);

    const kubeconfig = this.plane.kubeconfig('admin');
    this.node.run('kube-proxy', this.tools.node.kubeProxy, { env: this.netfilterEnv }, [
      `--kubeconfig=${kubeconfig}`, '--hostname-override=node-1', '--proxy-mode=iptables', '--cluster-cidr=10.244.0.0/16',
      // Conntrack limits are the machine's to set, not a namespace's.
      '--conntrack-max-per-core=0', '--conntrack-tcp-timeout-established=0s', '--conntrack-tcp-timeout-close-wait=0s',
      // Endpoint changes reach the rules at most every 3 s, as on a busy multi-node cluster (the
      // default, 1 s on one idle node, outruns every pod's SIGTERM and hides what preStop is for).
      '--iptables-min-sync-period=3s',
      '--metrics-bind-address=127.0.0.1:10249', '--healthz-bind-address=127.0.0.1:10256', '--v=1',
    ]);
    this.node.run('kube-router', this.tools.cluster.kubeRouter, { env: this.netfilterEnv }, [
      `--kubeconfig=${kubeconfig}`, '--hostname-override=node-1',
      '--run-firewall=true', '--run-router=false', '--run-service-proxy=false', '--enable-cni=false',
      `--service-cluster-ip-range=${Cluster.SERVICE_RANGE}`, '--health-port=0', '--metrics-port=0', '--v=1',
    ]);

    // The `kubernetes` Service's endpoint, which the API server does not reconcile here (a loopback
    // control plane cannot back it): in-cluster clients (Prometheus's discovery) reach it through kube-proxy.
    const apiEndpoint = { addresses: [{ ip: Cluster.HOST_ADDRESS }], ports: [{ name: 'https', port: this.plane.securePort, protocol: 'TCP' }] };
    this.plane.applyObjects([
      { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }, subsets: [apiEndpoint] },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'test-cluster' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: [Cluster.HOST_ADDRESS], conditions: { ready: true } }],
        ports: apiEndpoint.ports,
      },
    ]);

    // CoreDNS reads the API through a kubeconfig on the node (its pod needs no service account).
    this.node.importImage(programImageArchive('registry.k8s.io/coredns/coredns:v1.14.7', this.tools.cluster.coredns, this.node.dir, '0:0'));
    const labels = { 'k8s-app': 'kube-dns' };
    this.plane.applyObjects([
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'coredns', namespace: 'kube-system' },
        data: { Corefile: '.:53 {\n  errors\n  health :8080\n  ready :8181\n  kubernetes cluster.local in-addr.arpa ip6.arpa {\n    kubeconfig /kubeconfig/admin.kubeconfig\n    pods insecure\n  }\n  cache 30\n  loop\n}\n' },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'coredns', namespace: 'kube-system', labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              dnsPolicy: 'Default',
              containers: [{
                name: 'coredns',
                image: 'registry.k8s.io/coredns/coredns:v1.14.7',
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns' }, { name: 'kubeconfig', mountPath: '/kubeconfig', readOnly: true }],
              }],
              volumes: [{ name: 'config', configMap: { name: 'coredns' } }, { name: 'kubeconfig', hostPath: { path: path.dirname(kubeconfig), type: 'Directory' } }],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
        spec: {
          clusterIP: Cluster.DNS_ADDRESS,
          selector: labels,
          ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 }],
        },
      },
    ]);
    await this.plane.waitFor('CoreDNS Ready', async () => {
      const pods = (await this.plane.api('GET', '/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns')).body.items ?? [];
      return pods.some((p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'));
    }, 120_000).catch((e) => {
      throw new Error(`${e.message}\n--- kubelet\n${this.node.logTail('kubelet', 20)}`);
    });
    await this.plane.waitFor('kube-proxy and kube-router rules', () => {
      const rules = this.netfilter('iptables-save', []);
      return rules.includes('KUBE-SERVICES') && rules.includes('KUBE-ROUTER-FORWARD');
    }, 60_000).catch((e) => {
      throw new Error(`${e.message}\n--- kube-proxy\n${this.node.logTail('kube-proxy', 20)}\n--- kube-router\n${this.node.logTail('kube-router', 20)}`);
    });
  }

  /** The pods of a namespace matching a label selector, leaving out those being deleted. */
  public async pods(namespace: string, selector = ''): Promise<any[]> {
    const query = selector ? `?labelSelector=${encodeURIComponent(selector)}` : '';
    return ((await this.plane.api('GET', `/api/v1/namespaces/${namespace}/pods${query}`)).body.items ?? []).filter((p: any) => !p.metadata.deletionTimestamp);
  }

  /** At least `count` Ready pods matching the selector, once there are (the kubelet's log on a timeout). */
  public async readyPods(namespace: string, selector: string, count: number, timeoutMs = 240_000): Promise<any[]> {
    let found: any[] = [];
    await this.plane.waitFor(`${count} Ready pods ${selector} in ${namespace}`, async () => {
      found = (await this.pods(namespace, selector)).filter(Cluster.isReady);
      return found.length >= count;
    }, timeoutMs).catch((e) => {
      throw new Error(`${e.message}\n--- kubelet\n${this.node.logTail('kubelet', 20)}`);
    });
    return found;
  }

  /**
   * The command that runs a Python program in a pod's network and mount namespaces (its
   * container's Python, its resolv.conf): what the pod itself would send.
   */
  public inPodCommand(pod: any, program: string, args: string[] = []): [string, string[]] {
    const status = pod.status.containerStatuses.find((c: any) => c.name === pod.spec.containers[0].name);
    const pid = this.node.containerPid(status.containerID);
    return ['nsenter', ['-t', String(pid), '-n', '-m', '--', '/usr/bin/env', 'PATH=/usr/local/bin:/usr/bin:/bin', 'python3', '-c', program, ...args]];
  }

  /** Runs a Python program in a pod (see `inPodCommand`); returns what it printed. */
  public inPod(pod: any, program: string, args: string[] = [], timeoutMs = 120_000): string {
    const [command, commandArgs] = this.inPodCommand(pod, program, args);
    return execFileSync(command, commandArgs, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  }

  /**
   * An HTTP GET sent from inside `fromPod` (so the NetworkPolicies judge it as the pod's own
   * traffic): the status and body, or a rejection with the client's error.
   */
  public httpGet(fromPod: any, host: string, port: number, urlPath: string, headers: { [k: string]: string } = {}, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
    const [command, args] = this.inPodCommand(fromPod, HTTP_GET, [JSON.stringify({ url: `http://${host}:${port}${urlPath}`, headers, timeout: timeoutMs / 1000 })]);
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c) => out += c);
      child.stderr.on('data', (c) => err += c);
      child.on('exit', () => {
        try {
          const answer = JSON.parse(out);
          if (answer.error) reject(new Error(`GET ${host}:${port}${urlPath} from ${fromPod.metadata.name}: ${answer.error}`));
          else resolve(answer);
        } catch {
          reject(new Error(`GET ${host}:${port}${urlPath} from ${fromPod.metadata.name}: ${err || out}`));
        }
      });
    });
  }

  /** Runs a Python program on the node, in the cluster's network namespace (the machine's Python). */
  public onNode(program: string, args: string[] = [], timeoutMs = 120_000): string {
    const [command, commandArgs] = this.node.inNode('python3', ['-c', program, ...args]);
    return execFileSync(command, commandArgs, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  }

  /**
   * A static hostPath PersistentVolume bound to one claim by name (enough for one node): a folder
   * of the node's, writable by the group the pods run with. Returns the folder.
   */
  public addHostPathVolume(claim: { namespace: string; name: string }, options: { storage: string; accessModes: string[]; storageClassName: string; group: number }): string {
    const dir = fs.mkdtempSync(path.join(this.node.dir, `${claim.name}-`));
    fs.chmodSync(dir, 0o770);
    fs.chownSync(dir, 0, options.group);
    this.plane.applyObjects([{
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `${claim.namespace}-${claim.name}` },
      spec: {
        capacity: { storage: options.storage },
        accessModes: options.accessModes,
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: options.storageClassName,
        hostPath: { path: dir, type: 'Directory' },
        claimRef: { namespace: claim.namespace, name: claim.name },
      },
    }]);
    return dir;
  }

  /**
   * An address outside the cluster, on the machine's end of the link, with its range routed there
   * (e.g. a database the apps reach by address range): the test listens on it.
   */
  public addOutsideAddress(address: string, cidr: string): void {
    execFileSync('ip', ['addr', 'add', `${address}/32`, 'dev', Cluster.HOST_LINK], { stdio: 'pipe' });
    execFileSync('ip', ['-n', Cluster.NETNS, 'route', 'add', cidr, 'via', Cluster.HOST_ADDRESS], { stdio: 'pipe' });
  }

  public stop(): void {
    this.node.stop();
    this.plane.stop();
    Cluster.removeNetwork();
    fs.rmSync(LOCK, { force: true });
  }
}
