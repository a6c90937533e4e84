import { GUNICORN_CONFIG_DIR } from './gunicorn-config';
import { PropValidator } from '../core/validation';
import type { PythonService } from '../kinds/python-service';

/**
 * Options for `PythonDockerfile`.
 */
export interface PythonDockerfileOptions {
  /**
   * Python version of the base image (`python:<version>-slim-<debian>`).
   * @default "3.15" - the newest stable Python (released October 2026); cp315 wheels of the common compiled dependencies (numpy, psycopg, pydantic-core, lxml, grpcio, uvloop) are on PyPI
   */
  readonly pythonVersion?: string;

  /**
   * Debian release of the slim base image.
   * @default "trixie" - Debian 13, the current stable release
   */
  readonly debianRelease?: string;

  /**
   * Pin the base image to this digest (`sha256:...`) as well as its tag, so rebuilds are
   * reproducible.
   * @default - tag only
   */
  readonly baseImageDigest?: string;

  /**
   * The requirements file, relative to the build context.
   * @default "requirements.txt"
   */
  readonly requirementsFile?: string;

  /**
   * Where the app's code goes in the image.
   * @default "/app"
   */
  readonly appDir?: string;

  /**
   * The command to run, when the service runs the image's own command (no `server`).
   * @default - the service's server command
   */
  readonly command?: string[];

  /**
   * Commands run in the build stage after the code is copied, each without a shell and with the
   * virtual environment first on `PATH`: what writes into the app directory once per build, such as
   * `['python', 'manage.py', 'collectstatic', '--noinput']`, `compilemessages` or an asset build.
   * The pod's root filesystem is read-only, so these cannot run there.
   * @default - none
   */
  readonly buildCommands?: string[][];

  /**
   * Environment of the build commands (build stage only, never in the image), e.g.
   * `{ DJANGO_SETTINGS_MODULE: 'shop.settings' }`. No secrets: build arguments and environment are
   * kept in the build's history.
   * @default - none
   */
  readonly buildEnv?: { [name: string]: string };

  /**
   * Debian packages installed in the build stage only: compilers and headers that packages without
   * wheels build against, e.g. `['build-essential', 'libpq-dev']`.
   * @default - none: wheels need no compiler
   */
  readonly buildPackages?: string[];

  /**
   * Debian packages installed in the runtime image: the shared libraries the app loads at run time,
   * e.g. `['libpq5', 'libmagic1']`. Installed with `--no-install-recommends`, the package lists removed.
   * @default - none
   */
  readonly runtimePackages?: string[];
}

/** What the Dockerfile needs to agree with. */
export interface PythonDockerfileTarget {
  /** The container port. */
  readonly port: number;
  /**
   * Further ports the container listens on (a metrics port), exposed as well.
   * @default - none
   */
  readonly extraPorts?: number[];
  /** Numeric user the pod runs as. */
  readonly user: number;
  /** Numeric group the pod runs as. */
  readonly group: number;
  /** The image's command: what a plain `docker run IMAGE` starts. */
  readonly command: string[];
  /**
   * Variables set in the image, for a plain `docker run IMAGE` (the pod sets its own).
   * @default - none
   */
  readonly env?: { [name: string]: string };
  /**
   * Directories the server writes to: writable volumes in the pod, created and owned by the user in
   * the image for a plain `docker run`.
   */
  readonly writableDirs: string[];
}

/**
 * A hardened Dockerfile for a Python app that matches a `PythonService`: the image built
 * the way the Deployment expects it.
 *
 * - a pinned slim Python base; a build stage with a virtualenv, so no compiler, pip or pip cache
 *   reaches the final image;
 * - the dependency layer (requirements) before the code, so code changes do not reinstall;
 * - build commands (collectstatic, compilemessages) in the build stage, where the app directory is
 *   writable;
 * - bytecode compiled at build time and `PYTHONDONTWRITEBYTECODE`, so a read-only root
 *   filesystem costs nothing; code owned by root, so the app cannot modify itself;
 * - the numeric non-root USER the pod's `runAsUser`/`runAsGroup` name (runAsNonRoot can only
 *   verify a numeric user);
 * - `EXPOSE` of the service and metrics ports, and the Deployment's server command as `CMD`, less
 *   what only the pod provides, so a plain `docker run IMAGE` starts the app.
 */
export class PythonDockerfile {
  /**
   * The Dockerfile for a service: its ports, user, group and server command. The image's `CMD` is
   * the Deployment's command without the gunicorn configuration file the pod mounts from a
   * ConfigMap (the multiprocess-metrics hooks), so a plain `docker run IMAGE` starts the server
   * with the app's own `./gunicorn.conf.py`, if any, and no metrics port.
   * @param service the service whose pods run the image
   * @param options the base image, requirements file, app directory and build steps
   */
  public static forService(service: PythonService, options: PythonDockerfileOptions = {}): PythonDockerfile {
    const command = options.command ?? service.serverConfig.command;
    const v = new PropValidator(`PythonDockerfile for PythonService '${service.node.id}'`);
    if (!command) {
      v.fail('command', command, 'is needed: the service runs the image\'s own command, so give the Dockerfile one (options.command) or give the service a server');
    }
    // Read-only mounts (ConfigMaps, Secrets) are the pod's to provide: the image leaves them out.
    const writableDirs = ['/tmp', ...service.container.mounts.filter((m) => !m.readOnly).map((m) => m.path).filter((p) => p !== '/tmp')];
    // The server's variables that name a directory the image creates (gunicorn's XDG_RUNTIME_DIR for
    // its control socket): without them a plain run writes to a home directory that does not exist.
    const env = Object.fromEntries(Object.entries(service.serverConfig.env).filter(([, value]) => writableDirs.includes(value)));
    return new PythonDockerfile({
      port: service.port,
      extraPorts: service.container.ports.map((p) => p.number).filter((p) => p !== service.port),
      user: service.podIdentity.runAsUser!,
      group: service.podIdentity.runAsGroup!,
      command: withoutPodOnlyConfig(command!),
      env,
      writableDirs,
    }, options);
  }

  /** The base image reference, e.g. `python:3.15-slim-trixie`. */
  public readonly baseImage: string;

  private readonly options: PythonDockerfileOptions;

  /** What the Dockerfile agrees with: port, user, group, command, writable directories. */
  public readonly target: PythonDockerfileTarget;

  /**
   * @param target what the Dockerfile must agree with (usually from `forService`)
   * @param options base image, layout and build steps
   */
  constructor(target: PythonDockerfileTarget, options: PythonDockerfileOptions = {}) {
    this.target = target;
    const v = new PropValidator('PythonDockerfile');
    const version = options.pythonVersion ?? '3.15';
    if (!/^3\.[0-9]{1,2}(\.[0-9]{1,2})?$/.test(version)) v.fail('pythonVersion', version, 'must be a Python 3 version such as "3.15" or "3.14.2"');
    const debian = options.debianRelease ?? 'trixie';
    if (!/^[a-z]+$/.test(debian)) v.fail('debianRelease', debian, 'must be a Debian release name such as "trixie"');
    if (options.baseImageDigest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(options.baseImageDigest)) {
      v.fail('baseImageDigest', options.baseImageDigest, 'must be "sha256:" and 64 hex digits');
    }
    for (const [prop, value] of [['requirementsFile', options.requirementsFile], ['appDir', options.appDir]] as const) {
      if (value !== undefined && !/^[A-Za-z0-9._\-/]+$/.test(value)) v.fail(prop, value, 'must be a plain path (letters, digits, ".", "_", "-", "/")');
    }
    if (options.appDir !== undefined && !options.appDir.startsWith('/')) v.fail('appDir', options.appDir, 'must be an absolute path');
    for (const prop of ['buildPackages', 'runtimePackages'] as const) {
      (options[prop] ?? []).forEach((name, i) => {
        if (typeof name !== 'string' || !DEBIAN_PACKAGE.test(name)) {
          v.fail(`${prop}[${i}]`, name, 'must be a Debian package name such as "libpq5", optionally with "=<version>"');
        }
      });
    }
    (options.buildCommands ?? []).forEach((cmd, i) => {
      if (!Array.isArray(cmd) || cmd.length === 0 || cmd.some((a) => typeof a !== 'string' || a.includes('\n'))) {
        v.fail(`buildCommands[${i}]`, cmd, 'must be a non-empty list of strings (a command and its arguments, run without a shell), none with a line break');
      }
    });
    validateImageVariables(v, 'buildEnv', options.buildEnv);
    if (!Number.isInteger(target.user) || target.user < 1) v.fail('user', target.user, 'must be a non-root numeric user');
    if (!Array.isArray(target.command) || target.command.length === 0) v.fail('command', target.command, 'must be a non-empty list of strings');
    validateImageVariables(v, 'env', target.env);
    this.options = options;
    this.baseImage = `python:${version}-slim-${debian}${options.baseImageDigest ? `@${options.baseImageDigest}` : ''}`;
  }

  /**
   * A `.dockerignore` for the build context: keeps version control, local secrets (`.env`),
   * local virtualenvs, caches and the synthesized manifests out of the image, at any depth
   * (a plain pattern matches only at the root of the context).
   */
  public renderIgnore(): string {
    return [
      '# Generated by cdk8s-python-service.',
      '**/.git', '**/.gitignore', '**/.env', '**/.env.*', '**/*.env',
      '**/.venv', '**/venv', 'env', '**/__pycache__', '**/*.py[cod]',
      '**/.pytest_cache', '**/.mypy_cache', '**/.ruff_cache', '**/.tox', '**/.coverage', 'htmlcov',
      '**/node_modules', 'dist', 'cdk8s.out', '*.k8s.yaml',
      'Dockerfile', '.dockerignore',
      '',
    ].join('\n');
  }

  /** The Dockerfile text. */
  public render(): string {
    const t = this.target;
    const o = this.options;
    const requirements = o.requirementsFile ?? 'requirements.txt';
    const appDir = o.appDir ?? '/app';
    const dirs = t.writableDirs.filter((d) => d !== '/tmp');
    const buildEnv = Object.entries(o.buildEnv ?? {}).sort(([a], [b]) => a.localeCompare(b));
    const imageEnv = Object.entries(t.env ?? {}).sort(([a], [b]) => a.localeCompare(b));
    const lines = [
      '# syntax=docker/dockerfile:1',
      '# Generated by cdk8s-python-service to match the PythonService that runs it.',
      `FROM ${this.baseImage} AS build`,
      'ENV PATH=/opt/venv/bin:$PATH \\',
      '    PIP_NO_CACHE_DIR=1 \\',
      '    PIP_DISABLE_PIP_VERSION_CHECK=1 \\',
      '    PYTHONDONTWRITEBYTECODE=1',
      ...aptInstall(o.buildPackages),
      'RUN python -m venv /opt/venv',
      `WORKDIR ${appDir}`,
      '# Dependencies first: this layer is rebuilt only when the requirements change.',
      `COPY ${requirements} ./`,
      `RUN /opt/venv/bin/pip install --no-cache-dir --requirement ${requirements}`,
      'COPY . .',
      ...(buildEnv.length > 0 ? [`ENV ${buildEnv.map(([k, v]) => `${k}=${envValue(v)}`).join(' \\\n    ')}`] : []),
      ...(o.buildCommands ?? []).map((cmd) => `RUN ${JSON.stringify(cmd)}`),
      '# Compile the app\'s bytecode now: the pod\'s root filesystem is read-only. Only the app: pip',
      '# compiled the dependencies, and compileall exits 1 on any dependency file that does not compile',
      '# (test fixtures, templates). unchecked-hash: the .pyc stays valid whatever the file times.',
      `RUN /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash ${appDir}`,
      '# pip builds the environment; the app does not need it at run time.',
      'RUN /opt/venv/bin/python -m pip uninstall --yes --quiet pip',
      '',
      `FROM ${this.baseImage}`,
      'ENV PATH=/opt/venv/bin:$PATH \\',
      '    PYTHONUNBUFFERED=1 \\',
      '    PYTHONDONTWRITEBYTECODE=1' + imageEnv.map(([k, v]) => ` \\\n    ${k}=${envValue(v)}`).join(''),
      ...aptInstall(o.runtimePackages),
      `RUN groupadd --gid ${t.group} app \\`,
      `    && useradd --uid ${t.user} --gid ${t.group} --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app` + (dirs.length > 0 ? ' \\' : ''),
      ...(dirs.length > 0 ? [`    && mkdir -p ${dirs.join(' ')} && chown ${t.user}:${t.group} ${dirs.join(' ')}`] : []),
      'COPY --from=build /opt/venv /opt/venv',
      '# Code stays owned by root: the app cannot rewrite itself.',
      `COPY --from=build ${appDir} ${appDir}`,
      `WORKDIR ${appDir}`,
      `USER ${t.user}:${t.group}`,
      `EXPOSE ${[t.port, ...(t.extraPorts ?? [])].join(' ')}`,
      `CMD ${JSON.stringify(t.command)}`,
      '',
    ];
    return lines.join('\n');
  }
}

function validateImageVariables(v: PropValidator, prop: string, variables: { [name: string]: string } | undefined): void {
  for (const [name, value] of Object.entries(variables ?? {})) {
    v.variableName(`${prop} name`, name);
    if (typeof value !== 'string' || value.includes('\n')) v.fail(`${prop}.${name}`, value, 'must be a string without a line break');
  }
}

/** An `ENV` value: double-quoted, with `$` escaped so the builder substitutes nothing in it. */
function envValue(value: string): string {
  return JSON.stringify(value).replace(/\$/g, '\\$');
}

/** A Debian package name (policy §5.6.1), optionally pinned to a version. */
const DEBIAN_PACKAGE = /^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+:~-]+)?$/;

function aptInstall(packages: string[] | undefined): string[] {
  if (!packages || packages.length === 0) return [];
  return [
    'RUN apt-get update \\',
    `    && DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends ${packages.join(' ')} \\`,
    // Not every Debian base removes the downloaded packages and apt's caches by itself (the slim
    // images' docker-clean hook does): left behind they double the layer.
    '    && apt-get clean \\',
    '    && rm -rf /var/lib/apt/lists/*',
  ];
}

/** The command less the gunicorn configuration file the pod mounts from a ConfigMap. */
function withoutPodOnlyConfig(command: string[]): string[] {
  const i = command.findIndex((arg, n) => arg === '--config' && command[n + 1]?.startsWith(`${GUNICORN_CONFIG_DIR}/`));
  return i < 0 ? [...command] : [...command.slice(0, i), ...command.slice(i + 2)];
}
