// The floor: the same objects as plain ApiObjects from literal JSON (a template taken from the
// library's output for one service, with the per-service values substituted), at the same
// construct paths so even cdk8s' path-hash labels match. Only cdk8s core is loaded.
const { createHash } = require('crypto');
const { ApiObject, JsonPatch, Names } = require('cdk8s');
const { Construct } = require('constructs');

/** @param template objects of service 0: [{ path: ['svc-0', 'Deployment', 'Resource'], json }] */
function rawService(chart, i, template) {
  const name = `svc-${i}`;
  const image = `registry.example.com/shop/svc-${i}:1.0.${i}`;
  const scopes = new Map([['', chart]]);
  const scopeOf = (parts) => {
    let key = '';
    let scope = chart;
    for (const part of parts) {
      key += `/${part}`;
      if (!scopes.has(key)) scopes.set(key, new Construct(scope, part));
      scope = scopes.get(key);
    }
    return scope;
  };
  for (const { path, text } of template) {
    // The namespace's policy is created once, by the first service of the namespace.
    if (i > 0 && path[1] === 'NamespacePolicy') continue;
    const parts = path.map((p) => p.replace('svc-0', name));
    const scope = scopeOf(parts.slice(0, -1));
    const json = JSON.parse(text.replace(/svc-0-migrate-[0-9a-f]{8}|svc-0|Svc0|1\.0\.0|ADDR:([A-Za-z/]+)/g, (m, addrPath) => {
      if (m.startsWith('svc-0-migrate-')) return `${name}-migrate`;
      if (m === 'svc-0') return name;
      if (m === 'Svc0') return `Svc${i}`;
      if (m === '1.0.0') return `1.0.${i}`;
      return Names.toLabelValue(scopeOf([name, ...addrPath.split('/')]));
    }));
    const obj = new ApiObject(scope, parts[parts.length - 1], json);
    if (json.metadata.namespace === undefined) obj.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    if (json.kind === 'Job') nameByContent(obj);
  }
}

/** A Job's template is immutable: `<name>-<hash of the rendered Job>`, so any change makes a new Job. */
function nameByContent(obj) {
  const render = obj.toJson.bind(obj);
  obj.toJson = () => {
    const manifest = render();
    const { name: _name, ...metadata } = manifest.metadata;
    manifest.metadata.name = `${manifest.metadata.name}-${createHash('sha256').update(JSON.stringify({ ...manifest, metadata })).digest('hex').slice(0, 8)}`;
    return manifest;
  };
}

module.exports = { rawService };
