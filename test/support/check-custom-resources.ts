// Loaded before every test file (jest setupFilesAfterEnv): each custom resource a test builds is
// converted both by the library's copy (customResourceJson) and by the converter `cdk8s import` generated for
// its kind, and a difference fails the test that built it. So every scenario of the suite checks
// that skipping the generated converter loses nothing.
import { isDeepStrictEqual } from 'util';
import { Lazy } from 'cdk8s';
import * as customResources from '../../src/core/custom-resource';

const build = customResources.customResource;

/** `value` with each cdk8s Lazy replaced by what it produces now (cdk8s resolves it when the object renders). */
function resolved(value: any): any {
  if (value instanceof Lazy) return resolved(value.produce());
  if (Array.isArray(value)) return value.map(resolved);
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolved(v)]));
}

jest.spyOn(customResources, 'customResource').mockImplementation((scope, id, gvk, toJson, props) => {
  const generated = toJson(resolved(props));
  const copied = resolved(customResources.customResourceJson(props));
  if (!isDeepStrictEqual(copied, generated)) {
    throw new Error(`the library's copy differs from the generated ${toJson.name} for ${gvk.kind} '${id}':\n`
      + `library:   ${JSON.stringify(copied)}\ngenerated: ${JSON.stringify(generated)}`);
  }
  return build(scope, id, gvk, toJson, props);
});
