import { Testing } from 'cdk8s';
import { NameRegistry, ServiceIdentity } from '../src/core/service-identity';

describe('ServiceIdentity', () => {
  const identity = new ServiceIdentity({ name: 'shop', namespace: 'prod', version: '1.4.2', labels: { team: 'web' }, errorLabel: "PythonService 'shop'" });

  test('selects one component by name, instance and component, never by version', () => {
    expect(identity.selectorLabels('server')).toEqual({
      'app.kubernetes.io/name': 'shop', 'app.kubernetes.io/instance': 'shop', 'app.kubernetes.io/component': 'server',
    });
    expect(identity.selectorLabels('worker')).not.toEqual(identity.selectorLabels('server'));
    expect(identity.instanceLabels).toEqual({ 'app.kubernetes.io/name': 'shop', 'app.kubernetes.io/instance': 'shop' });
  });

  test('labels every object with the recommended labels plus the user\'s', () => {
    expect(identity.labelsOf('migration')).toEqual({
      'team': 'web',
      'app.kubernetes.io/name': 'shop',
      'app.kubernetes.io/instance': 'shop',
      'app.kubernetes.io/component': 'migration',
      'app.kubernetes.io/version': '1.4.2',
      'app.kubernetes.io/part-of': 'shop',
      'app.kubernetes.io/managed-by': 'cdk8s',
    });
  });

  test('derives object names and checks their length instead of truncating', () => {
    expect(identity.objectName('pdb')).toBe('shop-pdb');
    expect(() => identity.objectName('x'.repeat(60))).toThrow(/PythonService 'shop': name "shop" is too long: the derived object name "shop-x+" has 65 characters; the limit is 63/);
    expect(() => identity.objectName('cron-' + 'x'.repeat(44), 52)).toThrow(/the limit is 52/);
  });
});

describe('NameRegistry', () => {
  test('is per app and per kind', () => {
    const app = Testing.app();
    NameRegistry.of(app, 'service').claim('prod/shop', 'chart/shop');
    expect(NameRegistry.of(app, 'service').ownerOf('prod/shop')).toBe('chart/shop');
    expect(NameRegistry.of(app, 'namespace').ownerOf('prod/shop')).toBeUndefined();
    expect(NameRegistry.of(Testing.app(), 'service').ownerOf('prod/shop')).toBeUndefined();
  });
});
