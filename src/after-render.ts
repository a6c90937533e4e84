import { ApiObject } from 'cdk8s';

/**
 * Edits an object's rendered manifest, after cdk8s has applied its JSON patches and the
 * generated Kubernetes types have dropped the fields they do not know (cdk8s-plus-28 predates
 * `lifecycle.preStop.sleep`, so a JSON patch adding it is filtered out). Edits run in the order
 * they were added, before any wrapper added later (such as the security policy's self-check);
 * the keys are sorted again afterwards, as cdk8s writes them. Internal.
 */
export function afterRender(apiObject: ApiObject, edit: (manifest: any) => void): void {
  const render = apiObject.toJson.bind(apiObject);
  apiObject.toJson = () => {
    const manifest = render();
    edit(manifest);
    return sortKeys(manifest);
  };
}

function sortKeys(value: any): any {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: { [key: string]: any } = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys(value[key]);
  return sorted;
}
