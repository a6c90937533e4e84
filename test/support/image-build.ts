import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { provisionedTools, toolCacheDir } from './tools';

/**
 * Images built from the library's Dockerfile, as a user builds them: buildah (Debian's 1.28, as
 * root, `--isolation chroot --layers --pull=never`; there is no Docker engine here), with its
 * storage and layer cache in the tool cache, so a warm run rebuilds only what changed.
 *
 * The official `python:*-slim` images cannot be pulled here. A stand-in is made from Debian's
 * packages (`debootstrap --variant=minbase` plus python3, python3-venv and python-is-python3) and
 * stored under the Dockerfile's `FROM` name. Its Python is Debian's (3.13 on trixie), whatever the
 * tag says: what the Dockerfile depends on (`python` on PATH, `python -m venv`, groupadd/useradd,
 * apt-get) is the same in both.
 *
 * Host workarounds stay here, never in the Dockerfile: RUN steps (chroot isolation, on the host
 * network) get this machine's CA bundle mounted over the image's, because its network re-signs TLS.
 */

/** The stand-in base: a Debian release and the packages added to its minimal variant. */
const BASE_PACKAGES = ['python3', 'python3-venv', 'python-is-python3'];

/** One image to build: its build context (file → content) and the tag it gets. */
export interface ImageSource {
  readonly tag: string;
  readonly context: { [file: string]: string };
}

/** What a build did: the image's ID, the steps served from the layer cache, and how long it took. */
export interface BuiltImage {
  readonly tag: string;
  readonly id: string;
  readonly cachedSteps: string[];
  readonly ranSteps: string[];
  readonly seconds: number;
}

const q = (s: string) => `'${s.replace(/'/g, '\'\\\'\'')}'`;

function builderDir(): string {
  return path.join(toolCacheDir(), 'images');
}

/** The builder's configuration files: storage in the cache, short names resolved as Docker does, no signature checks (nothing is pulled). */
function builderEnv(): NodeJS.ProcessEnv {
  const dir = builderDir();
  const config = path.join(dir, 'config');
  fs.mkdirSync(config, { recursive: true });
  const files: { [name: string]: string } = {
    // The run root holds mount state for one graph root: one per cache folder.
    'storage.conf': `[storage]\ndriver = "overlay"\ngraphroot = "${path.join(dir, 'storage')}"\n`
      + `runroot = "/run/cdk8s-python-service/images-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}"\n`,
    'registries.conf': 'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n',
    'policy.json': '{"default":[{"type":"insecureAcceptAnything"}]}\n',
  };
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(config, name);
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) fs.writeFileSync(file, text);
  }
  return Object.assign({}, process.env, {
    CONTAINERS_STORAGE_CONF: path.join(config, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: path.join(config, 'registries.conf'),
    BUILDAH_ISOLATION: 'chroot',
  });
}

function policyFile(): string {
  return path.join(builderDir(), 'config', 'policy.json');
}

/** Runs buildah; throws with its output on failure. */
export function buildah(args: string[], options: { input?: string; timeout?: number } = {}): string {
  const result = spawnSync(provisionedTools().imageBuilder.buildah, args, {
    env: builderEnv(), encoding: 'utf8', input: options.input, timeout: options.timeout ?? 600_000, maxBuffer: 256 * 1024 * 1024,
  });
  if (result.status !== 0) {
    throw new Error(`buildah ${args.join(' ')} exited ${result.status ?? result.signal}:\n${(result.stdout ?? '').slice(-4000)}\n${(result.stderr ?? '').slice(-4000)}`);
  }
  return result.stdout;
}

/** Holds the builder's lock while `fn` runs: test files in parallel workers share one storage and layer cache. */
function locked<T>(fn: () => T): T {
  const lock = path.join(builderDir(), '.lock');
  fs.mkdirSync(builderDir(), { recursive: true });
  const fd = fs.openSync(lock, 'w');
  try {
    // flock(1) on descriptor 3 locks the open file description it shares with this process, which keeps it.
    execFileSync('flock', ['--exclusive', '3'], { stdio: ['ignore', 'ignore', 'inherit', fd] });
    return fn();
  } finally {
    fs.closeSync(fd);
  }
}

/** The Debian mirror apt uses on this machine (its sources list), for debootstrap. */
function debianMirror(): string {
  const candidates: string[] = [];
  for (const dir of ['/etc/apt/sources.list.d']) {
    if (!fs.existsSync(dir)) continue;
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.sources')).sort()) {
      for (const stanza of fs.readFileSync(path.join(dir, file), 'utf8').split(/\n\s*\n/)) {
        const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
        const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1] ?? '';
        if (uri && !/security/.test(suites)) candidates.push(uri);
      }
    }
  }
  if (fs.existsSync('/etc/apt/sources.list')) {
    for (const line of fs.readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m && !/security/.test(m[2])) candidates.push(m[1]);
    }
  }
  if (candidates.length === 0) throw new Error('no Debian mirror in apt\'s sources: debootstrap needs one for the stand-in base image');
  return candidates[0];
}

/**
 * Makes sure the stand-in for `python:<version>-slim-<release>` is in the builder's storage: a
 * root file system from debootstrap (kept in the cache as a tar), imported under that name.
 */
export function ensureBaseImage(baseImage: string): void {
  const m = /^python:[0-9.]+-slim-([a-z]+)$/.exec(baseImage);
  if (!m) throw new Error(`no stand-in for base image ${baseImage}`);
  const release = m[1];
  const name = `docker.io/library/${baseImage}`;
  locked(() => {
    if (buildah(['images', '--format', '{{.Name}}:{{.Tag}}']).split('\n').includes(name)) return;
    const key = createHash('sha256').update([release, ...BASE_PACKAGES, 'base-v1'].join('\n')).digest('hex').slice(0, 12);
    const tarball = path.join(builderDir(), `debian-${release}-python-${key}.tar`);
    if (!fs.existsSync(tarball)) {
      const started = Date.now();
      process.stderr.write(`provision: making the stand-in base image for ${baseImage} with debootstrap (Debian ${release} minbase + ${BASE_PACKAGES.join(', ')}; not in the cache)\n`);
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'debootstrap-'));
      try {
        const { debootstrap, debootstrapDir } = provisionedTools().imageBuilder;
        execFileSync('bash', [debootstrap, '--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, release, root, debianMirror()], {
          env: Object.assign({}, process.env, { DEBOOTSTRAP_DIR: debootstrapDir }), stdio: ['ignore', 'ignore', 'pipe'], timeout: 900_000,
        });
        // As the official slim images ship: no package cache, no package lists.
        execFileSync('bash', ['-c', `rm -rf ${q(root)}/var/cache/apt/archives/*.deb ${q(root)}/var/lib/apt/lists/* ${q(root)}/usr/share/doc ${q(root)}/usr/share/man`]);
        execFileSync('tar', ['-C', root, '--numeric-owner', '-cf', `${tarball}.tmp`, '.']);
        fs.renameSync(`${tarball}.tmp`, tarball);
      } finally {
        spawnSync('bash', ['-c', `umount -R ${q(root)}/proc ${q(root)}/sys 2>/dev/null; rm -rf ${q(root)}`]);
      }
      process.stderr.write(`provision: stand-in base image made in ${Math.round((Date.now() - started) / 1000)} s\n`);
    }
    const container = buildah(['from', 'scratch']).trim();
    try {
      const mount = buildah(['mount', container]).trim();
      execFileSync('tar', ['-C', mount, '--numeric-owner', '-xf', tarball]);
      buildah(['config', '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--cmd', 'python3', container]);
      buildah(['commit', '--signature-policy', policyFile(), '--quiet', container, name]);
    } finally {
      buildah(['rm', container]);
    }
  });
}

/** The build context's files written to a folder, the Dockerfile's own among them. */
function writeContext(context: { [file: string]: string }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'image-context-'));
  for (const [file, text] of Object.entries(context)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

/**
 * Builds an image from its context (which holds the Dockerfile and .dockerignore) as a user would:
 * `buildah bud --layers`, the base image never pulled. Steps the layer cache served are listed.
 */
export function buildImage(source: ImageSource): BuiltImage {
  const from = /^FROM\s+(\S+)/m.exec(source.context.Dockerfile ?? '')?.[1];
  if (!from) throw new Error(`the context of ${source.tag} has no Dockerfile with a FROM line`);
  ensureBaseImage(from);
  const dir = writeContext(source.context);
  try {
    return locked(() => {
      const started = Date.now();
      const ca = '/etc/ssl/certs/ca-certificates.crt';
      const out = buildah([
        'bud', '--signature-policy', policyFile(), '--isolation', 'chroot', '--layers', '--pull=never',
        ...(fs.existsSync(ca) ? ['--volume', `${ca}:${ca}:ro`] : []),
        '--tag', source.tag, dir,
      ], { timeout: 900_000 });
      const steps = out.split('\n');
      const cachedSteps: string[] = [];
      const ranSteps: string[] = [];
      steps.forEach((line, i) => {
        const step = /^\[\d+\/\d+\] STEP \d+\/\d+: (.*)$/.exec(line) ?? /^STEP \d+\/\d+: (.*)$/.exec(line);
        if (!step) return;
        const next = steps.slice(i + 1).find((l) => l.startsWith('--> ') || /STEP \d+\/\d+:/.test(l)) ?? '';
        (next.startsWith('--> Using cache') ? cachedSteps : ranSteps).push(step[1]);
      });
      const id = buildah(['images', '--quiet', '--no-trunc', source.tag]).trim().split('\n')[0];
      return { tag: source.tag, id, cachedSteps, ranSteps, seconds: (Date.now() - started) / 1000 };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The image's configuration (user, env, ports, command) and its layer count and size, as buildah reports them. */
export function inspectImage(tag: string): { config: any; layers: number; bytes: number } {
  const info = JSON.parse(buildah(['inspect', '--type', 'image', tag]));
  const sizes = buildah(['images', '--format', '{{.Size}}', tag]).trim();
  return { config: info.OCIv1.config, layers: info.OCIv1.rootfs.diff_ids.length, bytes: parseSize(sizes) };
}

function parseSize(text: string): number {
  const m = /^([0-9.]+)\s*([kMG]?B)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * ({ B: 1, kB: 1e3, MB: 1e6, GB: 1e9 } as { [unit: string]: number })[m[2]];
}

/** Runs `fn` with the image's root file system mounted read-only for a look, then unmounts it. */
export function withImageRoot<T>(tag: string, fn: (root: string) => T): T {
  const container = buildah(['from', '--pull=never', '--quiet', tag]).trim();
  try {
    return fn(buildah(['mount', container]).trim());
  } finally {
    buildah(['rm', container]);
  }
}

/** Pushes an image to a registry on this machine over plain HTTP. */
export function pushImage(tag: string, destination: string): void {
  buildah(['push', '--signature-policy', policyFile(), '--tls-verify=false', '--quiet', tag, `docker://${destination}`]);
}

/** A container run from an image as `docker run IMAGE` would: its own command, no env, nothing mounted. */
export interface PlainRun {
  /** Sends an HTTP request inside the container's network namespace: the status and body, or the error. */
  request(port: number, urlPath: string, headers?: { [name: string]: string }): { status?: number; body: string; error?: string };
  /** Waits until the server answers HTTP on `port` (or its process ends, or `timeoutMs` passes). */
  waitForAnswer(port: number, urlPath: string, timeoutMs?: number): Promise<void>;
  /** Whether the container's process still runs. */
  running(): boolean;
  /** What the container printed. */
  output(): string;
  /** Sends SIGTERM and waits for the end: the exit code and the seconds it took. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: string | null; seconds: number }>;
  /** Kills the container and removes everything the run made. */
  remove(): void;
}

let runs = 0;

/**
 * Runs an image plainly with runc (Debian's, as the node tier provisions it): the image's
 * entrypoint and command, its environment and working directory, its user, a writable root, in a
 * network namespace of its own with only loopback (nothing reaches the host's ports or beyond).
 */
export function plainRun(tag: string): PlainRun {
  const id = `cdk8s-image-${process.pid}-${++runs}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plain-run-'));
  const runc = path.join(provisionedTools().node.runtimeRoot, 'usr', 'sbin', 'runc');
  const { config } = inspectImage(tag);
  const container = buildah(['from', '--pull=never', '--quiet', '--name', id, tag]).trim();
  const rootfs = buildah(['mount', container]).trim();
  execFileSync('ip', ['netns', 'add', id]);
  execFileSync('ip', ['-n', id, 'link', 'set', 'lo', 'up']);
  execFileSync(runc, ['spec'], { cwd: dir });
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const [uid, gid] = String(config.User ?? '0:0').split(':').map(Number);
  const passwd = fs.existsSync(path.join(rootfs, 'etc', 'passwd')) ? fs.readFileSync(path.join(rootfs, 'etc', 'passwd'), 'utf8') : '';
  const home = passwd.split('\n').map((l) => l.split(':')).find((f) => Number(f[2]) === uid)?.[5] ?? '/';
  spec.root = { path: rootfs, readonly: false };
  spec.hostname = id;
  spec.process = Object.assign(spec.process, {
    terminal: false,
    args: [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])],
    // As Docker sets them: the image's variables, HOSTNAME, and HOME from the user's passwd entry.
    env: [...(config.Env ?? []), `HOSTNAME=${id}`, `HOME=${home}`],
    cwd: config.WorkingDir || '/',
    user: { uid, gid: gid ?? 0 },
  });
  spec.linux.namespaces = spec.linux.namespaces.map((ns: any) => (ns.type === 'network' ? { type: 'network', path: `/var/run/netns/${id}` } : ns));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  let output = '';
  let ended: { code: number | null; signal: string | null; at: number } | undefined;
  const child: ChildProcess = spawn(runc, ['run', '--bundle', dir, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  child.on('exit', (code, signal) => { ended = { code, signal, at: Date.now() }; });
  const cleanup = () => {
    spawnSync(runc, ['kill', id, 'KILL']);
    spawnSync(runc, ['delete', '--force', id]);
    spawnSync('ip', ['netns', 'del', id]);
    try {
      buildah(['rm', container]);
    } catch {
      // Already gone.
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return {
    request(port, urlPath, headers = {}) {
      const script = 'import http.client, json, sys\n'
        + 'port, path, headers = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])\n'
        + 'try:\n'
        + '    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)\n'
        + '    c.request("GET", path, headers=headers)\n'
        + '    r = c.getresponse()\n'
        + '    print(json.dumps({"status": r.status, "body": r.read().decode("utf-8", "replace")}))\n'
        + 'except Exception as e:\n'
        + '    print(json.dumps({"error": repr(e), "body": ""}))\n';
      return JSON.parse(execFileSync('ip', ['netns', 'exec', id, 'python3', '-c', script, String(port), urlPath, JSON.stringify(headers)], { encoding: 'utf8', timeout: 30_000 }));
    },
    async waitForAnswer(port, urlPath, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && !ended && this.request(port, urlPath).status === undefined) await new Promise((r) => setTimeout(r, 250));
    },
    running: () => ended === undefined,
    output: () => output,
    async stop(timeoutMs = 60_000) {
      const sent = Date.now();
      spawnSync(runc, ['kill', id, 'TERM']);
      while (!ended && Date.now() - sent < timeoutMs) await new Promise((r) => setTimeout(r, 100));
      if (!ended) throw new Error(`${tag} did not stop within ${timeoutMs / 1000} s of SIGTERM:\n${output.slice(-2000)}`);
      return { code: ended.code, signal: ended.signal, seconds: (ended.at - sent) / 1000 };
    },
    remove: cleanup,
  };
}
