import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RUNTIME_PACKAGES, runtimeVenv } from './pod-process';
import { provisionedTools, toolCacheDir } from './tools';

/**
 * The node tier's container images, made without a registry or a Docker engine: an OCI image
 * layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) whose base layer
 * is a root file system of Debian packages (Python 3.11, SQLite, a shell, their libraries) plus the
 * runtime virtual environment at `/opt/venv` (the pinned packages of RUNTIME_PACKAGES, from PyPI),
 * and whose top layer is one fixture app at `/opt/app`, the image's working directory. The base
 * layer is built once into the cache; an archive of several images shares it.
 */

/** One image of an archive: the names it is imported under and the app's files. */
export interface TestImage {
  readonly names: string[];
  readonly app: { [file: string]: string };
}

/** The image's environment, as a Dockerfile's ENV would set it: the venv's scripts first. */
export const IMAGE_PATH = '/opt/venv/bin:/usr/local/bin:/usr/bin:/bin';

interface Blob { readonly digest: string; readonly size: number }

function writeBlob(layout: string, data: Buffer): Blob {
  const digest = createHash('sha256').update(data).digest('hex');
  fs.writeFileSync(path.join(layout, 'blobs', 'sha256', digest), data);
  return { digest: `sha256:${digest}`, size: data.length };
}

/** A reproducible uncompressed tar of a folder (sorted names, time 0, root-owned). */
function tarOf(dir: string): Buffer {
  return execFileSync('tar', ['-C', dir, '--sort=name', '--mtime=@0', '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'], { maxBuffer: 1024 * 1024 * 1024 });
}

/** The base layer (a tar in the cache), built from the provisioned Debian packages and the runtime venv. */
function baseLayer(): string {
  const tools = provisionedTools();
  const venv = runtimeVenv();
  const debs = fs.readdirSync(tools.node.imageDebs).filter((f) => f.endsWith('.deb')).sort();
  const key = createHash('sha256').update([path.basename(venv), ...debs, 'layer-v1'].join('\n')).digest('hex').slice(0, 12);
  const layer = path.join(toolCacheDir(), 'node', 'image', `base-${key}.tar`);
  if (fs.existsSync(layer)) return layer;
  process.stderr.write(`provision: building the node tier's base image layer (Debian's Python 3.11 and ${RUNTIME_PACKAGES.length} PyPI packages; not in the cache)\n`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'image-root-'));
  try {
    // Debian 12 is merged-/usr: /bin, /sbin and /lib are links into /usr, which the packages' files follow.
    for (const dir of ['bin', 'sbin', 'lib', 'lib64']) {
      fs.mkdirSync(path.join(root, 'usr', dir), { recursive: true });
      fs.symlinkSync(`usr/${dir}`, path.join(root, dir));
    }
    for (const deb of debs) {
      execFileSync('bash', ['-o', 'pipefail', '-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x --keep-directory-symlink -C "$2"', '--', path.join(tools.node.imageDebs, deb), root]);
    }
    // The venv's interpreter is /usr/bin/python3 (python3-minimal's link, left out with its maintainer scripts).
    fs.symlinkSync('python3.11', path.join(root, 'usr', 'bin', 'python3'));
    fs.rmSync(path.join(root, 'usr', 'share', 'doc'), { recursive: true, force: true });
    fs.rmSync(path.join(root, 'usr', 'share', 'man'), { recursive: true, force: true });
    fs.mkdirSync(path.join(root, 'opt'));
    execFileSync('cp', ['-a', venv, path.join(root, 'opt', 'venv')]);
    fs.rmSync(path.join(root, 'opt', 'venv', '.complete'));
    fs.mkdirSync(path.join(root, 'tmp'), { mode: 0o1777 });
    fs.writeFileSync(`${layer}.tmp`, tarOf(root));
    fs.renameSync(`${layer}.tmp`, layer);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return layer;
}

/**
 * Writes an OCI archive holding every image (the base layer once), each manifest named by
 * `io.containerd.image.name` annotations as `ctr images import` reads them. Returns its path.
 */
export function buildImageArchive(images: TestImage[], dir: string): string {
  const layout = path.join(dir, 'oci');
  fs.mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  const baseTar = fs.readFileSync(baseLayer());
  const base = writeBlob(layout, baseTar);
  const manifests: object[] = [];
  for (const image of images) {
    const appRoot = fs.mkdtempSync(path.join(dir, 'app-'));
    for (const [file, text] of Object.entries(image.app)) {
      fs.mkdirSync(path.dirname(path.join(appRoot, 'opt', 'app', file)), { recursive: true });
      fs.writeFileSync(path.join(appRoot, 'opt', 'app', file), text);
    }
    execFileSync('chmod', ['-R', 'a+rX', appRoot]);
    const app = writeBlob(layout, tarOf(appRoot));
    fs.rmSync(appRoot, { recursive: true, force: true });
    const config = writeBlob(layout, Buffer.from(JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: [`PATH=${IMAGE_PATH}`, 'PYTHONUNBUFFERED=1'], WorkingDir: '/opt/app', User: '10001:10001' },
      rootfs: { type: 'layers', diff_ids: [base.digest, app.digest] },
    })));
    const manifest = writeBlob(layout, Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [base, app].map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
    })));
    for (const name of image.names) {
      manifests.push({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...manifest,
        annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name },
      });
    }
  }
  fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const archive = path.join(dir, 'images.tar');
  execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
  fs.rmSync(layout, { recursive: true, force: true });
  return archive;
}

/** The sandbox image: the provisioned pause program alone. */
export function pauseImageArchive(name: string, dir: string): string {
  const layout = path.join(dir, 'pause-oci');
  fs.mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  const root = path.join(dir, 'pause-root');
  fs.mkdirSync(root, { recursive: true });
  fs.copyFileSync(provisionedTools().node.pause, path.join(root, 'pause'));
  fs.chmodSync(path.join(root, 'pause'), 0o755);
  const layer = writeBlob(layout, tarOf(root));
  const config = writeBlob(layout, Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/pause'], User: '65535:65535' }, rootfs: { type: 'layers', diff_ids: [layer.digest] },
  })));
  const manifest = writeBlob(layout, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  })));
  fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'io.containerd.image.name': name } }],
  }));
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const archive = path.join(dir, 'pause.tar');
  execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
  return archive;
}
