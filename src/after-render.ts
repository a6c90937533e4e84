import { ApiObject } from 'cdk8s';

/**
 * Edits an object's rendered manifest, after cdk8s has applied its JSON patches and the
 * generated Kubernetes types have dropped the fields they do not know (cdk8s-plus-28 predates
 * `lifecycle.preStop.sleep`, so a JSON patch adding it is filtered out). Edits run in the order
 * they were added, before any wrapper added later (such as the security policy's self-check).
 * Internal.
 */
export function afterRender(apiObject: ApiObject, edit: (manifest: any) => void): void {
  const render = apiObject.toJson.bind(apiObject);
  apiObject.toJson = () => {
    const manifest = render();
    edit(manifest);
    return manifest;
  };
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
