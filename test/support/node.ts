import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { ControlPlane } from './control-plane';
import { pushImage } from './image-build';
import { pauseImageArchive } from './node-image';
import { freePort } from './ports';
import { provisionedTools } from './tools';

/** Where a node runs, in the cluster around it (test/support/cluster.ts). */
export interface KubeletNodeOptions {
  /** A network namespace (`ip netns`) for the node's containerd, kubelet and pods. */
  readonly netns: string;
  /** The node's address in that namespace, where the API server reaches the kubelet. */
  readonly address: string;
  /** The cluster DNS Service's address, for the pods' resolv.conf. */
  readonly clusterDns: string;
}

/**
 * A real node for a real control plane, on this machine: kube-scheduler, Debian's containerd with
 * runc and a bridge CNI (pods get addresses on a bridge in the node's network namespace), a
 * kubelet (cgroupfs driver, no QoS cgroups: the machine's cgroup v1 hierarchy as it is), and
 * Debian's docker-registry, where the API server serves, as the mirror of the registries the apps
 * name, so that the rendered `imagePullPolicy: Always` pulls for real and the YAML is applied
 * unchanged. Needs root, as `.ci/run` has. test/support/cluster.ts puts it in a network namespace
 * of its own, with the add-ons around it.
 *
 * One fact of these machines shapes it: the sandbox refuses a negative `oom_score_adj`, which the
 * kubelet asks runc to set for pod sandboxes, so runc runs through a wrapper that clamps it to 0.
 * Logs are read from the kubelet's pod log files, and processes are found in /proc.
 */
export class KubeletNode {
  /** The bridge the CNI plugin puts pods on, and the node's address on it (the pods' gateway). */
  public static readonly BRIDGE = 'cdk8s-node0';
  public static readonly POD_SUBNET = '10.244.0.0/24';
  public static readonly HOST_ADDRESS = '10.244.0.1';

  /** Starts one, attached to `plane`, whose pods may pull from `registries` (served by the local mirror). */
  public static async start(plane: ControlPlane, registries: string[], options: KubeletNodeOptions): Promise<KubeletNode> {
    if (process.getuid?.() !== 0) throw new Error('the node tier needs root (containerd, runc, network namespaces), as .ci/run has');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-node-'));
    const node = new KubeletNode(plane, dir, options);
    try {
      await node.boot(registries);
    } catch (e) {
      node.stop();
      throw e;
    }
    return node;
  }

  private static networkNamespaces(): string[] {
    return fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns').filter((ns) => ns.startsWith('cni-')) : [];
  }

  private readonly processes: ChildProcess[] = [];
  private readonly named = new Map<string, ChildProcess>();
  /** The pods' network namespaces that were there before this node (another node's, left alone). */
  private readonly namespacesBefore = new Set(KubeletNode.networkNamespaces());
  private registryPort = 0;
  private readonly tools = provisionedTools();
  private stopping = false;

  private constructor(public readonly plane: ControlPlane, public readonly dir: string, private readonly options: KubeletNodeOptions) {}

  /** The node's address, where the API server reaches the kubelet. */
  public get address(): string {
    return this.options.address;
  }

  /** The command line that runs `binary` in the node's network namespace. */
  public inNode(binary: string, args: string[]): [string, string[]] {
    return ['nsenter', [`--net=/var/run/netns/${this.options.netns}`, binary, ...args]];
  }

  private get socket(): string {
    return path.join(this.dir, 'containerd.sock');
  }

  private bin(name: string): string {
    return path.join(this.tools.node.runtimeRoot, 'usr', name === 'runc' ? 'sbin' : 'bin', name);
  }

  private async boot(registries: string[]): Promise<void> {
    const d = this.dir;
    // The bridge exists before the first pod, so that the test's own servers (a broker, an OTLP
    // receiver) can listen on its address from the start; the CNI plugin adopts it.
    // One left by a run that was killed before its cleanup goes first.
    spawnSync('ip', ['-n', this.options.netns, 'link', 'delete', KubeletNode.BRIDGE]);
    this.ip(['link', 'add', KubeletNode.BRIDGE, 'type', 'bridge']);
    this.ip(['addr', 'add', `${KubeletNode.HOST_ADDRESS}/24`, 'dev', KubeletNode.BRIDGE]);
    this.ip(['link', 'set', KubeletNode.BRIDGE, 'up']);

    this.registryPort = await freePort();
    fs.writeFileSync(path.join(d, 'registry.yml'), [
      'version: 0.1', 'log: {level: warn}',
      `storage: {filesystem: {rootdirectory: ${path.join(d, 'registry')}}}`,
      `http: {addr: ${this.plane.address}:${this.registryPort}}`,
    ].join('\n') + '\n');
    this.run('docker-registry', this.bin('docker-registry'), { onHost: true }, ['serve', path.join(d, 'registry.yml')]);

    const runc = path.join(d, 'runc');
    fs.writeFileSync(runc, [
      '#!/bin/sh',
      '# Clamps a negative process.oomScoreAdj in the bundle (this sandbox refuses them), then runs runc.',
      'bundle=""; previous=""',
      'for arg in "$@"; do',
      '  if [ "$previous" = "--bundle" ] || [ "$previous" = "-b" ]; then bundle="$arg"; fi',
      '  previous="$arg"',
      'done',
      'if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then',
      '  sed -i \'s/"oomScoreAdj":-[0-9]*/"oomScoreAdj":0/\' "$bundle/config.json"',
      'fi',
      `exec ${this.bin('runc')} "$@"`,
    ].join('\n') + '\n', { mode: 0o755 });
    fs.mkdirSync(path.join(d, 'cni'));
    fs.writeFileSync(path.join(d, 'cni', '10-node.conflist'), JSON.stringify({
      cniVersion: '0.4.0',
      name: 'node',
      plugins: [
        {
          type: 'bridge',
          bridge: KubeletNode.BRIDGE,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', dataDir: path.join(d, 'ipam'), ranges: [[{ subnet: KubeletNode.POD_SUBNET, gateway: KubeletNode.HOST_ADDRESS }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'loopback' },
      ],
    }));
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    fs.writeFileSync(path.join(d, 'containerd.toml'), [
      'version = 2',
      `root = "${path.join(d, 'containerd-root')}"`,
      `state = "${path.join(d, 'containerd-state')}"`,
      'oom_score = 0',
      '[grpc]', `  address = "${this.socket}"`,
      `[${cri}]`, '  sandbox_image = "registry.k8s.io/pause:3.9"', '  enable_selinux = false',
      `[${cri}.cni]`, `  bin_dir = "${path.join(this.tools.node.runtimeRoot, 'usr', 'lib', 'cni')}"`, `  conf_dir = "${path.join(d, 'cni')}"`,
      `[${cri}.containerd]`, '  snapshotter = "overlayfs"', '  default_runtime_name = "runc"',
      `[${cri}.containerd.runtimes.runc]`, '  runtime_type = "io.containerd.runc.v2"',
      `[${cri}.containerd.runtimes.runc.options]`, `  BinaryName = "${runc}"`, '  SystemdCgroup = false',
      ...registries.flatMap((r) => [`[${cri}.registry.mirrors."${r}"]`, `  endpoint = ["http://${this.plane.address}:${this.registryPort}"]`]),
    ].join('\n') + '\n');
    // containerd finds its shim on PATH.
    this.run('containerd', this.bin('containerd'), { env: { PATH: `${path.dirname(this.bin('containerd'))}:${process.env.PATH}` } }, ['--config', path.join(d, 'containerd.toml')]);
    await this.plane.waitFor('containerd', () => this.ctr(['version']).status === 0, 30_000);
    this.ctrOk(['images', 'import', pauseImageArchive('registry.k8s.io/pause:3.9', d)]);
    await this.plane.waitFor('docker-registry', () => this.connects(this.registryPort), 30_000);

    this.run('kube-scheduler', this.tools.node.kubeScheduler, { onHost: true }, [`--kubeconfig=${this.plane.kubeconfig('admin')}`, '--leader-elect=false', '--secure-port=0', '--profiling=false']);
    fs.writeFileSync(path.join(d, 'kubelet.yaml'), JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      // The machine's cgroup v1 hierarchy, used as it is: no systemd, no QoS or node-allocatable cgroups.
      cgroupDriver: 'cgroupfs',
      cgroupsPerQOS: false,
      enforceNodeAllocatable: [],
      failSwapOn: false,
      oomScoreAdj: 0,
      containerRuntimeEndpoint: `unix://${this.socket}`,
      authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
      authorization: { mode: 'AlwaysAllow' },
      address: this.address,
      port: await freePort(),
      clusterDNS: [this.options.clusterDns],
      clusterDomain: 'cluster.local',
      readOnlyPort: 0,
      healthzPort: 0,
      // Shared machines: disk and memory pressure of other work must not evict the test's pods.
      evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      podLogsDir: path.join(d, 'pod-logs'),
      resolvConf: '/etc/resolv.conf',
      serializeImagePulls: false,
      // The kubelet's own pace for status and probes; the defaults, except a quicker status sync.
      nodeStatusUpdateFrequency: '2s',
    }));
    this.run('kubelet', this.tools.node.kubelet, {}, [
      `--config=${path.join(d, 'kubelet.yaml')}`, `--kubeconfig=${this.plane.kubeconfig('admin')}`,
      `--root-dir=${path.join(d, 'kubelet')}`, '--hostname-override=node-1', `--node-ip=${this.address}`, '--v=1',
    ]);
    await this.plane.waitFor('the node to be Ready', async () => {
      const r = await this.plane.api('GET', '/api/v1/nodes/node-1');
      return (r.body?.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
    }, 90_000);
  }

  private ip(args: string[]): void {
    execFileSync('ip', ['-n', this.options.netns, ...args], { stdio: 'pipe' });
  }

  private connects(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect(port, this.plane.address, () => { socket.end(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
  }

  /** Runs a program of the node, in its network namespace unless it only talks to the API server (`onHost`). */
  public run(name: string, binary: string, options: { onHost?: boolean; env?: { [k: string]: string } }, args: string[]): void {
    const env = options.env ?? {};
    const [command, commandArgs] = options.onHost ? [binary, args] : this.inNode(binary, args);
    const log = fs.openSync(path.join(this.dir, `${name}.log`), 'a');
    const child = spawn(command, commandArgs, { stdio: ['ignore', log, log], env: Object.assign({}, process.env, env) });
    fs.closeSync(log);
    child.on('exit', (code, signal) => {
      if (!this.stopping) fs.appendFileSync(path.join(this.dir, `${name}.log`), `\n[exited: ${code ?? signal}]\n`);
    });
    this.processes.push(child);
    this.named.set(name, child);
  }

  /** containerd's own client, in the CRI's namespace. */
  public ctr(args: string[]): { status: number; stdout: string; stderr: string } {
    const r = spawnSync(this.bin('ctr'), ['--address', this.socket, '-n', 'k8s.io', ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  private ctrOk(args: string[]): string {
    const r = this.ctr(args);
    if (r.status !== 0) throw new Error(`ctr ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
    return r.stdout;
  }

  /** Imports an image archive (test/support/node-image.ts) into the node's image store. */
  public importImage(archive: string): void {
    this.ctrOk(['images', 'import', archive]);
  }

  /**
   * Pushes images from the image builder's storage (test/support/image-build.ts) to the mirror,
   * under their names' repositories: the kubelet pulls them as it would from the apps' registry.
   */
  public pushImages(tags: string[]): void {
    for (const tag of tags) pushImage(tag, tag.replace(/^[^/]+\//, `${this.plane.address}:${this.registryPort}/`));
  }

  /** What a container printed, from the kubelet's log files (the CRI format's message part). */
  public logs(namespace: string, pod: string, container: string): string {
    const logs = path.join(this.dir, 'pod-logs');
    const podDir = fs.existsSync(logs) ? fs.readdirSync(logs).find((f) => f.startsWith(`${namespace}_${pod}_`)) : undefined;
    if (!podDir) return '';
    const dir = path.join(logs, podDir, container);
    if (!fs.existsSync(dir)) return '';
    return fs.readdirSync(dir).sort().map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('')
      .split('\n').map((line) => line.split(' ').slice(3).join(' ')).join('\n');
  }

  /** The host PID of a running container's main process, from containerd's task list. */
  public containerPid(containerId: string): number {
    const id = containerId.replace(/^containerd:\/\//, '');
    const line = this.ctrOk(['tasks', 'ls']).split('\n').find((l) => l.startsWith(id));
    if (!line) throw new Error(`container ${id} has no running task`);
    return Number(line.split(/\s+/)[1]);
  }

  /** The last lines of a component's log, for failure messages. */
  public logTail(name: string, lines = 30): string {
    const file = path.join(this.dir, `${name}.log`);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '';
  }

  /**
   * Stops the kubelet and the scheduler, kills every container and sandbox containerd runs (their
   * shims outlive containerd), stops containerd and the registry, and removes the bridge, the pods'
   * network namespaces and the files (kept when KEEP_CONTROL_PLANE is set, for a look).
   */
  public stop(): void {
    this.stopping = true;
    for (const name of ['kubelet', 'kube-scheduler']) this.named.get(name)?.kill('SIGKILL');
    if (fs.existsSync(this.socket)) {
      const tasks = this.ctr(['tasks', 'ls', '-q']).stdout.split('\n').filter(Boolean);
      for (const task of tasks) this.ctr(['tasks', 'kill', '-s', 'SIGKILL', task]);
      for (const task of tasks) this.ctr(['tasks', 'delete', '-f', task]);
    }
    for (const p of [...this.processes].reverse()) p.kill('SIGKILL');
    // Shims of this node's containerd (found by its socket in their command line) and their mounts.
    spawnSync('pkill', ['-KILL', '-f', `containerd-shim-runc-v2 .*${this.dir}`]);
    spawnSync('bash', ['-c', `grep -o " ${this.dir}[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l`]);
    for (const ns of KubeletNode.networkNamespaces()) {
      if (!this.namespacesBefore.has(ns)) spawnSync('ip', ['netns', 'delete', ns]);
    }
    spawnSync('ip', ['-n', this.options.netns, 'link', 'delete', KubeletNode.BRIDGE]);
    if (!process.env.KEEP_CONTROL_PLANE) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
