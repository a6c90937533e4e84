import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { provisionedTools } from './tools';

/**
 * The node tier's images of single programs (the pod sandbox's pause, the cluster's CoreDNS), made
 * without a registry or a Docker engine: an OCI image layout
 * (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) holding the provisioned
 * program, imported with `ctr images import`. The apps' images are built from the
 * library's Dockerfile (test/support/image-build.ts).
 */

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

/**
 * An image of one static program (e.g. the pause program, CoreDNS) as an archive `ctr images
 * import` reads: the program at `inside` (by default `/<its name>`), run as `user`.
 */
export function programImageArchive(name: string, program: string, dir: string, user = '65535:65535', inside = `/${path.basename(program)}`): string {
  const base = path.basename(program);
  const work = fs.mkdtempSync(path.join(dir, `${base}-image-`));
  const layout = path.join(work, 'oci');
  fs.mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  const root = path.join(work, 'root');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(path.join(root, path.dirname(inside)), { recursive: true });
  fs.copyFileSync(program, path.join(root, inside));
  fs.chmodSync(path.join(root, inside), 0o755);
  const layer = writeBlob(layout, tarOf(root));
  const config = writeBlob(layout, Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Entrypoint: [inside], User: user }, rootfs: { type: 'layers', diff_ids: [layer.digest] },
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
  const archive = path.join(work, 'image.tar');
  execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
  return archive;
}

/** The sandbox image: the provisioned pause program alone. */
export function pauseImageArchive(name: string, dir: string): string {
  return programImageArchive(name, provisionedTools().node.pause, dir);
}
