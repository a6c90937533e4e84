import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import type { Manifest } from './manifests';
import { freePort } from './ports';
import { sharedDir } from './shared';
import { ControlPlaneMinor, provisionedTools } from './tools';

/** Who sends a request: the pipeline (cluster-admin) or a developer with the built-in `edit` role. */
export type Caller = 'admin' | 'developer';

const TOKENS: { [who in Caller]: string } = { admin: 'admin-token-for-tests', developer: 'developer-token-for-tests' };

export interface KubectlResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: any;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver (default admission plugins,
 * Pod Security and ValidatingAdmissionPolicy included, `--allow-privileged=true` as on real
 * clusters so that only the library's policies deny) and kube-controller-manager (its default
 * controllers: Deployments get ReplicaSets and pods, Jobs get pods, HPAs scale to their minimum).
 * No scheduler and no kubelet: pods are created and admitted, never run.
 */
export class ControlPlane {
  /**
   * Starts one for a minor, with the binaries the global setup provisioned. It serves on loopback,
   * or on `address` (an address of this machine) for a cluster whose nodes run in a network
   * namespace of their own.
   */
  public static async start(minor: ControlPlaneMinor, address = '127.0.0.1'): Promise<ControlPlane> {
    const tools = provisionedTools();
    const release = tools.kubernetes[minor];
    if (!release) throw new Error(`no Kubernetes ${minor} was provisioned (K8S_VERSIONS)`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `control-plane-${minor}-`));
    const plane = new ControlPlane(minor, release.version, dir, release.kubectl, address);
    try {
      await plane.boot(release.etcd ?? tools.etcd, release.kubeApiserver, release.kubeControllerManager);
    } catch (e) {
      plane.stop();
      throw e;
    }
    return plane;
  }

  private readonly processes: ChildProcess[] = [];
  private port = 0;
  private stopping = false;
  private readonly discovery = new Map<string, Array<{ name: string; kind: string; namespaced: boolean }>>();

  private constructor(
    public readonly minor: ControlPlaneMinor,
    public readonly version: string,
    public readonly dir: string,
    private readonly kubectlPath: string,
    /** Where the API server serves, for the test and for the nodes. */
    public readonly address: string,
  ) {}

  private async boot(etcd: string, apiserver: string, controllerManager: string): Promise<void> {
    const d = this.dir;
    const [clientPort, peerPort, port] = [await freePort(), await freePort(), await freePort()];
    this.port = port;
    execFileSync('openssl', ['genrsa', '-out', path.join(d, 'sa.key'), '2048'], { stdio: 'ignore' });
    execFileSync('openssl', ['rsa', '-in', path.join(d, 'sa.key'), '-pubout', '-out', path.join(d, 'sa.pub')], { stdio: 'ignore' });
    fs.writeFileSync(path.join(d, 'tokens.csv'), [
      `${TOKENS.admin},admin,admin-uid,"system:masters"`,
      `${TOKENS.developer},developer,developer-uid,"developers"`,
    ].join('\n') + '\n');
    for (const who of Object.keys(TOKENS) as Caller[]) fs.writeFileSync(this.kubeconfig(who), this.kubeconfigText(who));
    // As kubeadm sets them up: a cluster CA that signs the API server's serving certificate (which
    // pods verify through the `kube-root-ca.crt` ConfigMap) and the clients' certificates (for programs
    // that take no token, like prometheus-operator); a front proxy through which the API server
    // forwards to aggregated APIs (metrics-server).
    this.certificateAuthority('cluster-ca');
    this.signedCertificate('apiserver', 'cluster-ca', '/CN=kube-apiserver',
      `subjectAltName=IP:${this.address},IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local`);
    this.certificateAuthority('front-proxy-ca');
    this.signedCertificate('front-proxy-client', 'front-proxy-ca', '/CN=front-proxy-client');

    this.run('etcd', etcd, [
      '--name=default', `--data-dir=${path.join(d, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${clientPort}`, `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`, '--unsafe-no-fsync', '--log-level=warn',
    ]);
    this.run('kube-apiserver', apiserver, [
      `--etcd-servers=http://127.0.0.1:${clientPort}`,
      `--secure-port=${port}`, `--bind-address=${this.address}`, `--advertise-address=${this.address}`,
      // The node's InternalIP, never its name (the machine's resolver does not know it): for logs and exec.
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      `--tls-cert-file=${path.join(d, 'apiserver.crt')}`, `--tls-private-key-file=${path.join(d, 'apiserver.key')}`,
      `--token-auth-file=${path.join(d, 'tokens.csv')}`, '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${path.join(d, 'sa.pub')}`, `--service-account-signing-key-file=${path.join(d, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16', '--allow-privileged=true', '--profiling=false',
      // A loopback advertise address cannot back the `kubernetes` Service's endpoints (1.37 refuses to start).
      '--endpoint-reconciler-type=none',
      `--client-ca-file=${path.join(d, 'cluster-ca.crt')}`,
      `--requestheader-client-ca-file=${path.join(d, 'front-proxy-ca.crt')}`, '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User', '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${path.join(d, 'front-proxy-client.crt')}`, `--proxy-client-key-file=${path.join(d, 'front-proxy-client.key')}`,
      // An aggregated API is reached at its Service's endpoint, not its ClusterIP (which only the nodes route).
      '--enable-aggregator-routing=true',
    ]);
    await this.waitFor('kube-apiserver /readyz', async () => (await this.api('GET', '/readyz')).status === 200, 90_000);
    this.run('kube-controller-manager', controllerManager, [
      `--kubeconfig=${this.kubeconfig('admin')}`, '--leader-elect=false', '--secure-port=0', '--controllers=*',
      `--service-account-private-key-file=${path.join(d, 'sa.key')}`, '--use-service-account-credentials=false',
      `--root-ca-file=${path.join(d, 'cluster-ca.crt')}`,
      '--concurrent-deployment-syncs=10', '--concurrent-replicaset-syncs=10', '--profiling=false',
    ]);
    // The developer: the built-in `edit` role everywhere, and `kubectl debug` (ephemeral containers).
    this.applyObjects([
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'developers-edit' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'developers' }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'debug-pods' }, rules: [{ apiGroups: [''], resources: ['pods/ephemeralcontainers'], verbs: ['get', 'patch', 'update'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'developers-debug' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'debug-pods' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'developers' }] },
    ]);
    // Namespaces get their `default` ServiceAccount from the controller manager: wait for one.
    await this.waitFor('the controllers', async () => (await this.api('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200, 60_000);
  }

  private certificateAuthority(name: string): void {
    const d = this.dir;
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
      '-keyout', path.join(d, `${name}.key`), '-out', path.join(d, `${name}.crt`)], { stdio: 'ignore' });
  }

  private signedCertificate(name: string, authority: string, subject: string, extension?: string): void {
    const d = this.dir;
    const file = (ext: string) => path.join(d, `${name}.${ext}`);
    execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', file('key'), '-out', file('csr')], { stdio: 'ignore' });
    if (extension) fs.writeFileSync(file('ext'), extension + '\n');
    execFileSync('openssl', ['x509', '-req', '-in', file('csr'), '-days', '2', '-CA', path.join(d, `${authority}.crt`), '-CAkey', path.join(d, `${authority}.key`),
      '-set_serial', String(Date.now()), ...extension ? ['-extfile', file('ext')] : [], '-out', file('crt')], { stdio: 'ignore' });
  }

  /**
   * A client certificate and key the API server accepts as `user` in `groups` (for programs that
   * take no token); returns their paths.
   */
  public clientCredentials(user: string, groups: string[] = []): { cert: string; key: string } {
    this.signedCertificate(`client-${user}`, 'cluster-ca', `/CN=${user}${groups.map((g) => `/O=${g}`).join('')}`);
    return { cert: path.join(this.dir, `client-${user}.crt`), key: path.join(this.dir, `client-${user}.key`) };
  }

  /** The CA that signed the API server's certificate. */
  public get certificateAuthorityFile(): string {
    return path.join(this.dir, 'cluster-ca.crt');
  }

  /** The port the API server serves on (at `address`). */
  public get securePort(): number {
    return this.port;
  }

  /** The API server's URL. */
  public get url(): string {
    return `https://${this.address}:${this.port}`;
  }

  private run(name: string, binary: string, args: string[]): void {
    const log = fs.openSync(path.join(this.dir, `${name}.log`), 'a');
    const child = spawn(binary, args, { stdio: ['ignore', log, log], detached: false });
    fs.closeSync(log);
    child.on('exit', (code, signal) => {
      if (!this.stopping) fs.appendFileSync(path.join(this.dir, `${name}.log`), `\n[exited: ${code ?? signal}]\n`);
    });
    this.processes.push(child);
  }

  /** Stops every process and removes the data (kept when KEEP_CONTROL_PLANE is set, for a look). */
  public stop(): void {
    this.stopping = true;
    for (const child of [...this.processes].reverse()) child.kill('SIGKILL');
    if (!process.env.KEEP_CONTROL_PLANE) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** The last lines of a component's log, for failure messages. */
  public logTail(name: string, lines = 40): string {
    const file = path.join(this.dir, `${name}.log`);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '';
  }

  public kubeconfig(who: Caller): string {
    return path.join(this.dir, `${who}.kubeconfig`);
  }

  private kubeconfigText(who: Caller): string {
    return JSON.stringify({
      'apiVersion': 'v1',
      'kind': 'Config',
      'current-context': 'test',
      'clusters': [{ name: 'test', cluster: { 'server': `https://${this.address}:${this.port}`, 'insecure-skip-tls-verify': true } }],
      'users': [{ name: who, user: { token: TOKENS[who] } }],
      'contexts': [{ name: 'test', context: { cluster: 'test', user: who } }],
    });
  }

  /** Runs the release's own kubectl (the machine's may be outside the supported skew). */
  public kubectl(args: string[], options: { as?: Caller; input?: string } = {}): KubectlResult {
    const result = spawnSync(this.kubectlPath, [`--kubeconfig=${this.kubeconfig(options.as ?? 'admin')}`, ...args], {
      input: options.input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
    });
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  }

  /** kubectl that must succeed; returns stdout. */
  public kubectlOk(args: string[], options: { as?: Caller; input?: string } = {}): string {
    const result = this.kubectl(args, options);
    if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`);
    return result.stdout;
  }

  /** Objects created or updated as the admin, by server-side apply (the test's own setup). */
  public applyObjects(objects: object[], fieldManager = 'test-setup'): void {
    this.kubectlOk(['apply', '--server-side', '--force-conflicts', `--field-manager=${fieldManager}`, '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    });
  }

  /** A raw API request (JSON), for the many small dry-run requests where a kubectl process each would be slow. */
  public async api(method: string, urlPath: string, body?: unknown, options: { as?: Caller; contentType?: string } = {}): Promise<ApiResponse> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: this.address,
        port: this.port,
        path: urlPath,
        method,
        rejectUnauthorized: false,
        headers: {
          Authorization: `Bearer ${TOKENS[options.as ?? 'admin']}`,
          Accept: 'application/json',
          ...(data ? { 'Content-Type': options.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Plain text (e.g. /readyz).
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }

  /**
   * Watches a collection (`?watch=true` is added): calls `onEvent` with each event as it comes;
   * returns a function that ends the watch.
   */
  public watch(collectionPath: string, onEvent: (event: { type: string; object: any }) => void): () => void {
    const separator = collectionPath.includes('?') ? '&' : '?';
    let buffered = '';
    const req = https.request({
      host: this.address,
      port: this.port,
      path: `${collectionPath}${separator}watch=true`,
      method: 'GET',
      rejectUnauthorized: false,
      headers: { Authorization: `Bearer ${TOKENS.admin}`, Accept: 'application/json' },
    }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let newline;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) onEvent(JSON.parse(line));
        }
      });
    });
    req.on('error', () => undefined);
    req.end();
    return () => req.destroy();
  }

  /** Polls until `check` is true; fails with what it waited for and the components' logs. */
  public async waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        if (await check()) return;
      } catch (e) {
        last = e;
      }
      await sleep(250);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}\n`
      + ['etcd', 'kube-apiserver', 'kube-controller-manager'].map((n) => `--- ${n}.log\n${this.logTail(n, 15)}`).join('\n'));
  }

  /** The upstream CRDs the library's custom resources need, installed and established. */
  public async installCrds(): Promise<void> {
    const dir = path.join(sharedDir(), 'crds');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
    const crds = files.flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS()).filter(Boolean));
    this.applyObjects(crds, 'crd-install');
    for (const crd of crds) {
      await this.waitFor(`CRD ${crd.metadata.name} established`, async () => {
        const r = await this.api('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
        return (r.body?.status?.conditions ?? []).some((c: any) => c.type === 'Established' && c.status === 'True');
      });
    }
  }

  /** The REST path of an object's collection (and of the object, with its name). */
  public async resourcePath(m: Manifest, withName = true): Promise<string> {
    const [group, version] = m.apiVersion.includes('/') ? m.apiVersion.split('/') : ['', m.apiVersion];
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const resource = await this.resourceName(base, m.kind);
    const ns = resource.namespaced ? `/namespaces/${m.metadata.namespace ?? 'default'}` : '';
    return `${base}${ns}/${resource.name}${withName ? `/${m.metadata.name}` : ''}`;
  }

  private async resourceName(base: string, kind: string): Promise<{ name: string; namespaced: boolean }> {
    let resources = this.discovery.get(base);
    if (!resources) {
      resources = ((await this.api('GET', base)).body.resources ?? []) as Array<{ name: string; kind: string; namespaced: boolean }>;
      this.discovery.set(base, resources);
    }
    const found = resources.find((r) => r.kind === kind && !r.name.includes('/'));
    if (!found) throw new Error(`${base} serves no ${kind}`);
    return found;
  }
}
