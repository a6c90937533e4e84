import { ChildProcess, execFileSync, spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { podTemplateOf } from './manifests';
import type { Manifest } from './manifests';
import { freePort } from './ports';
import { provisionedTools, toolCacheDir } from './tools';

/**
 * Runs the first container of a rendered workload as a real process, the way the kubelet would
 * start it, where no node is at hand: its `command`, `args` and `env` as rendered, its volumes
 * mounted at their `mountPath`s (emptyDirs as tmpfs of their size, ConfigMaps as read-only
 * files), a read-only root filesystem (an overlay of the machine's root, remounted read-only),
 * and its numeric `runAsUser`/`runAsGroup`, in a private mount namespace of its own (`unshare`,
 * as root). The image is the machine's root plus `/opt/venv` (a virtual environment with real
 * packages from PyPI) and the app at `/opt/app`, its working directory. The process shares the
 * machine's loopback network: tests choose free ports and send traffic to 127.0.0.1 only.
 */

/** The Python the "image" runs: Debian's interpreter, which an unprivileged user can execute. */
const IMAGE_PYTHON = '/usr/bin/python3';

/** Packages of the image, pinned. */
export const RUNTIME_PACKAGES = [
  'gunicorn==27.0.1', 'uvicorn==0.55.0', 'uvicorn-worker==0.4.0', 'granian==2.8.9', 'Django==5.2.20', 'fastapi==0.165.0', 'prometheus-client==0.26.0',
  'celery==5.7.0', 'redis==8.2.0',
  // kombu 5.7.0's Redis transport imports `packaging` without declaring it (seen here: the worker died on start).
  'packaging==26.4',
  'rq==2.12.0', 'django-rq==4.2.0',
  // The distro 0.66b1 and exporter 1.45.2 conflict (pip: ResolutionImpossible); 0.66b2 goes with 1.45.2.
  'opentelemetry-distro==0.66b2', 'opentelemetry-exporter-otlp-proto-http==1.45.2', 'opentelemetry-instrumentation-django==0.66b2',
];

/** Runs a Python snippet with the image's packages, outside any namespace (a client of the pods). */
export function runtimePython(code: string, env: { [name: string]: string } = {}): string {
  return execFileSync(path.join(runtimeVenv(), 'bin', 'python'), ['-c', code], { encoding: 'utf8', env: Object.assign({}, process.env, env), timeout: 60_000 });
}

/** A client of a Celery app's broker, as a producer would be: sends tasks, reads their state ("SUCCESS finished"). */
export function celeryClient(brokerUrl: string): { send: (task: string, args: unknown[], queue: string) => string; state: (id: string) => string } {
  const env = { CELERY_BROKER_URL: brokerUrl };
  const app = 'from celery import Celery; import os; app = Celery(broker=os.environ["CELERY_BROKER_URL"], backend=os.environ["CELERY_BROKER_URL"])';
  return {
    send: (task, args, queue) => runtimePython(`${app}; print(app.send_task(${JSON.stringify(task)}, args=${JSON.stringify(args)}, queue=${JSON.stringify(queue)}).id)`, env).trim(),
    state: (id) => runtimePython(`${app}; r = app.AsyncResult(${JSON.stringify(id)}); print(r.state, r.result if r.ready() else "")`, env).trim(),
  };
}

/**
 * A client of RQ's Redis: enqueues `shop.rq_tasks.slow` jobs (or any function by its dotted path,
 * on any queue), reads their status and result ("finished finished").
 */
export function rqClient(redisUrl: string): {
  enqueue: (seconds: number) => string; call: (func: string, args: unknown[], queue: string) => string; status: (id: string) => string;
} {
  const rq = (code: string) => runtimePython(
    `import os; from redis import Redis; from rq import Queue; from rq.job import Job; r = Redis.from_url(os.environ["RQ_REDIS_URL"]); ${code}`, { RQ_REDIS_URL: redisUrl }).trim();
  return {
    enqueue: (seconds) => rq(`print(Queue("default", connection=r).enqueue("shop.rq_tasks.slow", ${seconds}).id)`),
    call: (func, args, queue) => rq(`print(Queue(${JSON.stringify(queue)}, connection=r).enqueue(${JSON.stringify(func)}, *${JSON.stringify(args)}).id)`),
    status: (id) => rq(`j = Job.fetch(${JSON.stringify(id)}, connection=r); s = j.get_status(); print(getattr(s, "value", s), j.return_value() or "")`),
  };
}

/** The direct children of a process (gunicorn's workers, Celery's pool), from /proc. */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return children.sort((a, b) => a - b);
}

/** A Redis server on a free port of `host` (loopback by default), for Celery's broker and results. */
export async function startRedis(host = '127.0.0.1'): Promise<{ url: string; stop: () => void }> {
  const tools = provisionedTools();
  const port = await freePort();
  // Pods reach it from their own network namespaces: no protected mode (it refuses non-loopback clients without a password).
  const child = spawn(tools.redisServer, ['--port', String(port), '--bind', host, '--protected-mode', 'no', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore', env: Object.assign({}, process.env, { LD_LIBRARY_PATH: tools.redisLibraryPath }),
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host, () => { socket.end(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (up) return { url: `redis://${host}:${port}/0`, stop: () => child.kill('SIGKILL') };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start');
}

const q = (s: string) => `'${s.replace(/'/g, '\'\\\'\'')}'`;

/**
 * The image's virtual environment, created once into the cache at the path it has in the image
 * (`/opt/venv`, bound there in a mount namespace while pip runs, so every script's shebang is right).
 */
export function runtimeVenv(): string {
  if (process.getuid?.() !== 0) throw new Error('running rendered pods as processes needs root (mount namespaces, tmpfs, chroot), as .ci/run has');
  const key = createHash('sha256').update([IMAGE_PYTHON, ...RUNTIME_PACKAGES].join('\n')).digest('hex').slice(0, 12);
  const dir = path.join(toolCacheDir(), 'python-runtime', key);
  if (fs.existsSync(path.join(dir, '.complete'))) return dir;
  process.stderr.write(`provision: creating the Python runtime image's virtual environment (${RUNTIME_PACKAGES.join(', ')}; not in the cache)\n`);
  // Test files in parallel workers may all need it first: one creates it, under a lock, and the
  // others find it complete once they hold the lock.
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  execFileSync('flock', [`${dir}.lock`, 'unshare', '--mount', '--propagation', 'private', 'bash', '-euo', 'pipefail', '-c', [
    `if [ -f ${q(dir)}/.complete ]; then exit 0; fi`,
    `rm -rf ${q(dir)}`, `mkdir -p ${q(dir)}`,
    'mount -t tmpfs -o mode=0755 tmpfs /opt', 'mkdir /opt/venv', `mount --bind ${q(dir)} /opt/venv`,
    `${IMAGE_PYTHON} -m venv /opt/venv`,
    `/opt/venv/bin/pip install --quiet --disable-pip-version-check --no-cache-dir ${RUNTIME_PACKAGES.map(q).join(' ')}`,
    `chmod -R a+rX ${q(dir)}`,
    `printf '%s\\n' ${RUNTIME_PACKAGES.map(q).join(' ')} > ${q(dir)}/.complete`,
  ].join('\n')], { stdio: 'pipe' });
  return dir;
}

export interface PodProcessOptions {
  /** The app's files (written to `/opt/app`). */
  readonly app: { [file: string]: string };
  /** The rendered objects the workload's ConfigMap volumes refer to. */
  readonly manifests: Manifest[];
  /** Values for env entries the kubelet would resolve (`valueFrom`), by name. */
  readonly resolvedEnv?: { [name: string]: string };
}

/** A running container process. */
export class PodProcess {
  /** Starts the workload's first container. */
  public static start(workload: Manifest, options: PodProcessOptions): PodProcess {
    const template = podTemplateOf(workload)!;
    const spec = template.spec;
    const container = spec.containers[0];
    const venv = runtimeVenv();
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'pod-process-'));
    const appDir = path.join(stage, 'app');
    for (const [file, text] of Object.entries(options.app)) {
      fs.mkdirSync(path.dirname(path.join(appDir, file)), { recursive: true });
      fs.writeFileSync(path.join(appDir, file), text);
    }
    execFileSync('chmod', ['-R', 'a+rX', stage]);
    const root = path.join(stage, 'root');
    const lines = [
      `mkdir -p ${q(stage)}/layers`, `mount -t tmpfs tmpfs ${q(stage)}/layers`,
      `mkdir -p ${q(stage)}/layers/upper ${q(stage)}/layers/work ${q(root)}`,
      `mount -t overlay overlay -o lowerdir=/,upperdir=${q(stage)}/layers/upper,workdir=${q(stage)}/layers/work ${q(root)}`,
      `mkdir -p ${q(root)}/opt/venv ${q(root)}/opt/app`,
      `mount --bind ${q(venv)} ${q(root)}/opt/venv`, `mount -o remount,bind,ro ${q(root)}/opt/venv`,
      `mount --bind ${q(appDir)} ${q(root)}/opt/app`, `mount -o remount,bind,ro ${q(root)}/opt/app`,
      `mount --rbind /dev ${q(root)}/dev`, `mount --rbind /proc ${q(root)}/proc`,
    ];
    const volumes = new Map<string, any>((spec.volumes ?? []).map((v: any) => [v.name, v]));
    for (const mount of container.volumeMounts ?? []) {
      const volume = volumes.get(mount.name);
      const target = `${q(root)}${q(mount.mountPath)}`;
      lines.push(`mkdir -p ${target}`);
      if (volume.emptyDir) {
        const size = volume.emptyDir.sizeLimit ? `,size=${String(volume.emptyDir.sizeLimit).replace(/i$/, '')}` : '';
        lines.push(`mount -t tmpfs -o mode=1777${size} tmpfs ${target}`);
      } else if (volume.configMap) {
        const configMap = options.manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === volume.configMap.name);
        if (!configMap) throw new Error(`ConfigMap ${volume.configMap.name} is not among the rendered objects`);
        const dir = path.join(stage, 'configmaps', mount.name);
        fs.mkdirSync(dir, { recursive: true });
        for (const [file, text] of Object.entries(configMap.data ?? {})) fs.writeFileSync(path.join(dir, file), String(text));
        execFileSync('chmod', ['-R', 'a+rX', dir]);
        lines.push(`mount --bind ${q(dir)} ${target}`, `mount -o remount,bind,ro ${target}`);
      } else {
        throw new Error(`volume ${mount.name} is of a kind the process runner does not mount: ${Object.keys(volume).join(', ')}`);
      }
    }
    // The root filesystem as the pod has it: read-only (readOnlyRootFilesystem), the volumes writable.
    if (container.securityContext?.readOnlyRootFilesystem) lines.push(`mount -o remount,ro ${q(root)}`);
    const env: string[] = ['PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin', 'HOME=/'];
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env.push(`${e.name}=${e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_m: string, n: string) => env.find((x) => x.startsWith(`${n}=`))?.slice(n.length + 1) ?? `$(${n})`)}`);
      else if (options.resolvedEnv?.[e.name] !== undefined) env.push(`${e.name}=${options.resolvedEnv[e.name]}`);
      else throw new Error(`env ${e.name} comes from ${JSON.stringify(e.valueFrom)}; pass its value in resolvedEnv`);
    }
    const uid = container.securityContext?.runAsUser ?? spec.securityContext?.runAsUser;
    const gid = container.securityContext?.runAsGroup ?? spec.securityContext?.runAsGroup;
    if (uid === undefined || gid === undefined) throw new Error('the container has no numeric runAsUser/runAsGroup');
    const argv = [...(container.command ?? []), ...(container.args ?? [])];
    lines.push(`cd ${q(root)}/opt/app`);
    lines.push(`exec chroot ${q(root)} /usr/bin/setpriv --reuid=${uid} --regid=${gid} --clear-groups /usr/bin/env -i ${env.map(q).join(' ')} /bin/sh -c 'cd /opt/app && exec "$@"' -- ${argv.map(q).join(' ')}`);
    const script = lines.join('\n');
    fs.writeFileSync(path.join(stage, 'start.sh'), script);
    const log = fs.openSync(path.join(stage, 'output.log'), 'a');
    const child = spawn('unshare', ['--mount', '--propagation', 'private', 'bash', '-euo', 'pipefail', path.join(stage, 'start.sh')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    return new PodProcess(child, stage, { uid, gid, argv, env });
  }

  /** The real and effective user and group of a process, from its status. */
  public static idsOf(pid: number): { uid: number; gid: number } {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return { uid: Number(/^Uid:\s+(\d+)/m.exec(status)![1]), gid: Number(/^Gid:\s+(\d+)/m.exec(status)![1]) };
  }

  private exitInfo?: { code: number | null; signal: NodeJS.Signals | null; at: number };

  private constructor(
    public readonly child: ChildProcess,
    public readonly stage: string,
    public readonly rendered: { uid: number; gid: number; argv: string[]; env: string[] },
  ) {
    child.on('exit', (code, signal) => { this.exitInfo = { code, signal, at: Date.now() }; });
  }

  /** The container's main process id (every step of the start script execs into the next). */
  public get pid(): number {
    return this.child.pid!;
  }

  /** When and how it exited, if it did. */
  public get exited(): { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined {
    return this.exitInfo;
  }

  /** What it printed so far. */
  public output(): string {
    return fs.readFileSync(path.join(this.stage, 'output.log'), 'utf8');
  }

  /** A path inside the container's file system, from the machine's side. */
  public pathInside(p: string): string {
    return `/proc/${this.pid}/root${p}`;
  }

  /** The direct children of the main process (gunicorn's workers). */
  public children(): number[] {
    return childrenOf(this.pid);
  }

  /** Waits for the exit; resolves with how long it took from `since`. */
  public async waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exitInfo && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!this.exitInfo) throw new Error(`the process did not exit within ${timeoutMs} ms:\n${this.output()}`);
    return this.exitInfo;
  }

  /** Stops it (SIGKILL) and removes the staging files. */
  public stop(): void {
    if (!this.exitInfo) this.child.kill('SIGKILL');
    for (const pid of this.children()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    // Its mounts live in its own namespace and go with it; the staging files are plain files here.
    fs.rmSync(this.stage, { recursive: true, force: true });
  }
}
