// Loaded before every test file (jest setupFilesAfterEnv): each custom resource a test builds is
// converted both by the library's copy (customResourceJson) and by the converter `cdk8s import` generated for
// its kind, and a difference fails the test that built it. So every scenario of the suite checks
// that skipping the generated converter loses nothing.
import { isDeepStrictEqual } from 'util';
import * as customResources from '../../src/custom-resource';

const build = customResources.customResource;

jest.spyOn(customResources, 'customResource').mockImplementation((scope, id, gvk, toJson, props) => {
  const generated = toJson(props);
  const copied = customResources.customResourceJson(props);
  if (!isDeepStrictEqual(copied, generated)) {
    throw new Error(`the library's copy differs from the generated ${toJson.name} for ${gvk.kind} '${id}':\n`
      + `library:   ${JSON.stringify(copied)}\ngenerated: ${JSON.stringify(generated)}`);
  }
  return build(scope, id, gvk, toJson, props);
});
