import type { PythonService } from './python-service';
import { PropValidator } from './validation';

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
}

/** What the Dockerfile needs to agree with. */
export interface PythonDockerfileTarget {
  /** The container port. */
  readonly port: number;
  /** Numeric user the pod runs as. */
  readonly user: number;
  /** Numeric group the pod runs as. */
  readonly group: number;
  /** The server command. */
  readonly command: string[];
  /** Directories the server writes to (mounted as volumes in the pod; created for plain `docker run`). */
  readonly writableDirs: string[];
}

/**
 * A hardened Dockerfile for a Python app that matches a `PythonService`: the image built
 * the way the Deployment expects it.
 *
 * - a pinned slim Python base; a build stage with a virtualenv, so no compiler or pip cache
 *   reaches the final image;
 * - the dependency layer (requirements) before the code, so code changes do not reinstall;
 * - bytecode compiled at build time and `PYTHONDONTWRITEBYTECODE`, so a read-only root
 *   filesystem costs nothing; code owned by root, so the app cannot modify itself;
 * - the numeric non-root USER the pod's `runAsUser`/`runAsGroup` name (runAsNonRoot can only
 *   verify a numeric user);
 * - `EXPOSE` of the service port and the same server command as the Deployment.
 */
export class PythonDockerfile {
  /**
   * The Dockerfile for a service: its port, user, group and server command.
   * @param service the service whose pods run the image
   * @param options the base image, requirements file and app directory
   */
  public static forService(service: PythonService, options: PythonDockerfileOptions = {}): PythonDockerfile {
    const command = options.command ?? service.serverConfig.command;
    const v = new PropValidator(`PythonDockerfile for PythonService '${service.node.id}'`);
    if (!command) {
      v.fail('command', command, 'is needed: the service runs the image\'s own command, so give the Dockerfile one (options.command) or give the service a server');
    }
    const writableDirs = ['/tmp', ...service.container.mounts.map((m) => m.path).filter((p) => p !== '/tmp')];
    return new PythonDockerfile({
      port: service.port,
      user: service.podIdentity.runAsUser!,
      group: service.podIdentity.runAsGroup!,
      command: command!,
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
   * @param options base image and layout
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
    if (!Number.isInteger(target.user) || target.user < 1) v.fail('user', target.user, 'must be a non-root numeric user');
    if (!Array.isArray(target.command) || target.command.length === 0) v.fail('command', target.command, 'must be a non-empty list of strings');
    this.options = options;
    this.baseImage = `python:${version}-slim-${debian}${options.baseImageDigest ? `@${options.baseImageDigest}` : ''}`;
  }

  /** The Dockerfile text. */
  /**
   * A `.dockerignore` for the build context: keeps version control, local secrets (`.env`),
   * local virtualenvs, caches and the synthesized manifests out of the image.
   */
  public renderIgnore(): string {
    return [
      '# Generated by cdk8s-python-service.',
      '.git', '.gitignore', '.env', '.env.*', '*.env',
      '.venv', 'venv', 'env', '__pycache__', '*.py[cod]',
      '.pytest_cache', '.mypy_cache', '.ruff_cache', '.tox', '.coverage', 'htmlcov',
      'node_modules', 'dist', 'cdk8s.out', '*.k8s.yaml',
      'Dockerfile', '.dockerignore',
      '',
    ].join('\n');
  }

  public render(): string {
    const t = this.target;
    const requirements = this.options.requirementsFile ?? 'requirements.txt';
    const appDir = this.options.appDir ?? '/app';
    const dirs = t.writableDirs.filter((d) => d !== '/tmp');
    const lines = [
      '# syntax=docker/dockerfile:1',
      '# Generated by cdk8s-python-service to match the PythonService that runs it.',
      `FROM ${this.baseImage} AS build`,
      'ENV PIP_NO_CACHE_DIR=1 \\',
      '    PIP_DISABLE_PIP_VERSION_CHECK=1 \\',
      '    PYTHONDONTWRITEBYTECODE=1',
      'RUN python -m venv /opt/venv',
      `WORKDIR ${appDir}`,
      '# Dependencies first: this layer is rebuilt only when the requirements change.',
      `COPY ${requirements} ./`,
      `RUN /opt/venv/bin/pip install --no-cache-dir --requirement ${requirements}`,
      'COPY . .',
      '# Compile the app\'s bytecode now: the pod\'s root filesystem is read-only. Only the app: pip',
      '# compiled the dependencies, and compileall exits 1 on any dependency file that does not compile',
      '# (test fixtures, templates). unchecked-hash: the .pyc stays valid whatever the file times.',
      `RUN /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash ${appDir}`,
      '',
      `FROM ${this.baseImage}`,
      'ENV PATH=/opt/venv/bin:$PATH \\',
      '    PYTHONUNBUFFERED=1 \\',
      '    PYTHONDONTWRITEBYTECODE=1',
      `RUN groupadd --gid ${t.group} app \\`,
      `    && useradd --uid ${t.user} --gid ${t.group} --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app` + (dirs.length > 0 ? ' \\' : ''),
      ...(dirs.length > 0 ? [`    && mkdir -p ${dirs.join(' ')} && chown ${t.user}:${t.group} ${dirs.join(' ')}`] : []),
      'COPY --from=build /opt/venv /opt/venv',
      '# Code stays owned by root: the app cannot rewrite itself.',
      `COPY --from=build ${appDir} ${appDir}`,
      `WORKDIR ${appDir}`,
      `USER ${t.user}:${t.group}`,
      `EXPOSE ${t.port}`,
      `CMD ${JSON.stringify(t.command)}`,
      '',
    ];
    return lines.join('\n');
  }
}
