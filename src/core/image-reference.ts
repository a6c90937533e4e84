import { warnOnce } from './warnings';

/**
 * A parsed container image reference (`[registry/]repository[:tag][@digest]`), following the
 * grammar of the distribution reference library that container runtimes use.
 *
 * Internal helper: not exported from the package root.
 */
export interface ImageReference {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/** Parses an image reference, or returns undefined if it is not one. */
export function parseImageReference(image: string): ImageReference | undefined {
  if (typeof image !== 'string' || image.length === 0 || image.length > 4096) return undefined;
  const match = REFERENCE.exec(image);
  if (!match) return undefined;
  // As container runtimes normalize names: the first component is a registry only if it has a
  // "." or ":" or is "localhost"; otherwise it is part of the (lower-case) repository path.
  const [first, ...rest] = match[1].split('/');
  const isRegistry = rest.length > 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!isRegistry && first !== first.toLowerCase()) return undefined;
  // The grammar lets "host:5000/app" parse as repository "host" + tag "5000/app" only if the tag
  // allowed "/", which it does not; so a match here is unambiguous.
  return { repository: match[1], tag: match[2], digest: match[3] };
}

/**
 * Warns, once per image, about a tag that names no version (none, or `latest`): a new build
 * pushed under it changes nothing in the rendered YAML, so the next apply neither rolls the pods
 * nor runs the migrations again (the migration Job is named by its rendered spec).
 */
export function warnMutableTag(label: string, image: string, ref: ImageReference): void {
  if (ref.digest !== undefined || (ref.tag !== undefined && ref.tag !== 'latest')) return;
  warnOnce(`mutable-tag:${image}`, `${label}: image "${image}" ${ref.tag === undefined ? 'has no tag (it means "latest")' : 'is tagged "latest"'}: `
    + 'a new build pushed under the same tag changes nothing in the rendered YAML, so the next apply neither rolls the pods nor runs the migrations again; '
    + `use a version tag (${ref.repository}:1.4.2) or a digest (${ref.repository}@sha256:...)`);
}

/**
 * A label-safe version for `app.kubernetes.io/version`: the tag, else the first 12 hex digits of
 * the digest, else "latest" (what a runtime pulls for a bare repository).
 */
export function versionLabelOf(ref: ImageReference): string {
  if (ref.tag) {
    const cleaned = ref.tag.slice(0, 63).replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
    if (cleaned.length > 0) return cleaned;
  }
  if (ref.digest) return ref.digest.split(':')[1].slice(0, 12);
  return 'latest';
}
