import { ApiObject, Chart, JsonPatch, Testing } from 'cdk8s';
import { afterRender, checkRendered, renderUnchecked, withSortedKey } from '../src/core/after-render';

function configMap(): ApiObject {
  const chart = new Chart(Testing.app(), 'test');
  return new ApiObject(chart, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { a: '1' } });
}

describe('edits and checks on the rendered manifest', () => {
  test('edits run in the order added, on the manifest after JSON patches', () => {
    const obj = configMap();
    const seen: string[] = [];
    obj.addJsonPatch(JsonPatch.replace('/data/a', '1-patched'));
    afterRender(obj, (m) => { seen.push(`first saw ${m.data.a}`); m.data.a = '2'; });
    afterRender(obj, (m) => { seen.push(`second saw ${m.data.a}`); m.data.b = 'x'; });
    expect(obj.toJson().data).toEqual({ a: '2', b: 'x' });
    expect(seen).toEqual(['first saw 1-patched', 'second saw 2']);
  });

  test('a check sees every edit, also one added after the check', () => {
    const obj = configMap();
    checkRendered(obj, (m) => {
      if (m.data.privileged === 'true') throw new Error('privileged');
    });
    afterRender(obj, (m) => { m.data.privileged = 'true'; });
    expect(() => obj.toJson()).toThrow('privileged');
  });

  test('renderUnchecked gives the edited manifest without running the checks', () => {
    const obj = configMap();
    afterRender(obj, (m) => { m.data.edited = 'yes'; });
    checkRendered(obj, () => { throw new Error('checked'); });
    expect(renderUnchecked(obj).data).toEqual({ a: '1', edited: 'yes' });
    expect(renderUnchecked(configMap()).data).toEqual({ a: '1' });
  });

  test('one wrapper per object, however many edits and checks', () => {
    const obj = configMap();
    afterRender(obj, () => undefined);
    const wrapped = obj.toJson;
    afterRender(obj, () => undefined);
    checkRendered(obj, () => undefined);
    expect(obj.toJson).toBe(wrapped);
  });

  test('withSortedKey keeps the keys in sorted order and leaves the input alone', () => {
    const input = { b: 1, d: 2 };
    expect(Object.keys(withSortedKey(input, 'c', 3))).toEqual(['b', 'c', 'd']);
    expect(withSortedKey(input, 'b', 9)).toEqual({ b: 9, d: 2 });
    expect(input).toEqual({ b: 1, d: 2 });
  });
});
