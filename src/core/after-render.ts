import { ApiObject } from 'cdk8s';

/**
 * What runs on an object's rendered manifest, in one order: the overlay of fields cdk8s-plus-28
 * cannot render (plus-gaps.ts, typed), then the edits whose input is the rendered JSON (a
 * content-derived name), then the checks. One wrapper per object, whatever the number of
 * fields, edits and checks. The lists are replaced, not pushed to, so each is exactly as long as
 * it needs to be (an array grown by push keeps room for 17), with one shared empty list.
 */
interface RenderHooks {
  readonly render: () => any;
  overlay?: RenderOverlay<any>;
  edits: ReadonlyArray<(manifest: any) => void>;
  checks: ReadonlyArray<(manifest: any) => void>;
}

/** Typed fields set on one object, and how they are written into its rendered manifest. */
export interface RenderOverlay<T> {
  readonly fields: T;
  readonly apply: (manifest: any, fields: T) => void;
}

const NONE: ReadonlyArray<(manifest: any) => void> = Object.freeze([]);

const hooksByObject = new WeakMap<ApiObject, RenderHooks>();

function hooksOf(apiObject: ApiObject): RenderHooks {
  const existing = hooksByObject.get(apiObject);
  if (existing !== undefined) return existing;
  const hooks: RenderHooks = { render: apiObject.toJson.bind(apiObject), edits: NONE, checks: NONE };
  apiObject.toJson = () => {
    const manifest = renderEdited(hooks);
    for (const check of hooks.checks) check(manifest);
    return manifest;
  };
  hooksByObject.set(apiObject, hooks);
  return hooks;
}

function renderEdited(hooks: RenderHooks): any {
  const manifest = hooks.render();
  if (hooks.overlay !== undefined) hooks.overlay.apply(manifest, hooks.overlay.fields);
  for (const edit of hooks.edits) edit(manifest);
  return manifest;
}

/**
 * The overlay of `apiObject`: its typed fields, made by `create` on first use. The rendered
 * manifest gets them after cdk8s has applied its JSON patches and the generated Kubernetes
 * types have dropped the fields they do not know (cdk8s-plus-28 predates
 * `lifecycle.preStop.sleep`, so a JSON patch adding it is filtered out). Internal.
 */
export function overlayOf<T>(apiObject: ApiObject, create: () => RenderOverlay<T>): T {
  const hooks = hooksOf(apiObject);
  hooks.overlay ??= create();
  return hooks.overlay.fields;
}

/**
 * Edits an object's rendered manifest when the edit's input is the rendered JSON itself (a name
 * derived from the content), after its overlay. Edits run in the order they were added, all of
 * them before any check. Internal.
 */
export function afterRender(apiObject: ApiObject, edit: (manifest: any) => void): void {
  const hooks = hooksOf(apiObject);
  hooks.edits = hooks.edits.concat([edit]);
}

/**
 * Checks an object's rendered manifest on every rendering, after every edit (also those added
 * after the check); a check throws to fail the rendering. Internal.
 */
export function checkRendered(apiObject: ApiObject, check: (manifest: any) => void): void {
  const hooks = hooksOf(apiObject);
  hooks.checks = hooks.checks.concat([check]);
}

/** The manifest with its overlay and edits, without running its checks. Internal. */
export function renderUnchecked(apiObject: ApiObject): any {
  const hooks = hooksByObject.get(apiObject);
  return hooks === undefined ? apiObject.toJson() : renderEdited(hooks);
}

/**
 * `object` with `key` set to `value` and its keys in the sorted order cdk8s writes them (only
 * this object is rebuilt, so the output stays byte-for-byte what cdk8s would have written).
 */
export function withSortedKey(object: { [key: string]: any }, key: string, value: unknown): { [key: string]: any } {
  const result: { [key: string]: any } = {};
  for (const k of [...Object.keys(object).filter((k2) => k2 !== key), key].sort()) result[k] = k === key ? value : object[k];
  return result;
}
