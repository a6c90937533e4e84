import * as fs from 'fs';
import * as path from 'path';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { sharedDir } from './shared';

export type KubernetesVersion = '1.28' | '1.35';
export const KUBERNETES_VERSIONS: KubernetesVersion[] = ['1.28', '1.35'];

type JsonSchema = { [key: string]: any };

/**
 * Makes a schema strict the way `kubeconform -strict` does (see schemas/SOURCES.md): every object
 * schema that declares `properties` and no `additionalProperties` rejects unknown fields, except
 * schemas directly inside allOf/anyOf/oneOf/not and those marked x-kubernetes-preserve-unknown-fields.
 * Also maps the Kubernetes extensions ajv does not know: int-or-string and nullable.
 */
export function strictify(schema: any, insideCombinator = false): any {
  if (Array.isArray(schema)) return schema.map((s) => strictify(s, insideCombinator));
  if (schema === null || typeof schema !== 'object') return schema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties' || key === 'patternProperties' || key === 'definitions') {
      out[key] = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, strictify(v)]));
    } else if (key === 'allOf' || key === 'anyOf' || key === 'oneOf') {
      out[key] = (value as any[]).map((s) => strictify(s, true));
    } else if (key === 'not') {
      out[key] = strictify(value, true);
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = typeof value === 'object' ? strictify(value) : value;
    } else if (key === 'default' || key === 'enum' || key === 'example') {
      out[key] = value;
    } else {
      out[key] = value;
    }
  }
  if (out['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.anyOf = [...(out.anyOf ?? []), { type: 'integer' }, { type: 'string' }];
  }
  if (out.nullable === true && typeof out.type === 'string') {
    out.type = [out.type, 'null'];
  }
  if (out.properties && out.additionalProperties === undefined && !insideCombinator && out['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  return out;
}

export interface ValidationIssue {
  readonly object: string;
  readonly errors: string[];
}

const validators = new Map<KubernetesVersion, ManifestValidator>();

/**
 * Validates synthesized objects strictly against the Kubernetes OpenAPI schemas of one release and
 * against the upstream CRDs in ../shared/crds. An object of an unknown apiVersion/kind is an error.
 */
export class ManifestValidator {
  public static forVersion(version: KubernetesVersion): ManifestValidator {
    let validator = validators.get(version);
    if (!validator) {
      validator = new ManifestValidator(version);
      validators.set(version, validator);
    }
    return validator;
  }

  private readonly ajv: Ajv;
  private readonly gvk: { [gvk: string]: string };
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly crdSchemas = new Map<string, JsonSchema>();

  private constructor(public readonly version: KubernetesVersion) {
    const dir = sharedDir();
    const bundle = JSON.parse(fs.readFileSync(path.join(dir, 'schemas', `k8s-${version}.json`), 'utf8'));
    this.gvk = bundle.gvk;
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { regExp: goRegExp } });
    const schemas: JsonSchema = {};
    for (const [name, schema] of Object.entries(bundle.schemas)) schemas[name] = strictify(schema);
    this.ajv.addSchema({ $id: 'k8s', components: { schemas } });

    for (const file of fs.readdirSync(path.join(dir, 'crds')).filter((f) => f.endsWith('.yaml')).sort()) {
      for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, 'crds', file), 'utf8'))) {
        const crd = doc.toJS();
        if (crd?.kind !== 'CustomResourceDefinition') continue;
        for (const v of crd.spec.versions) {
          if (!v.served) continue;
          const key = `${crd.spec.group}/${v.name}/${crd.spec.names.kind}`;
          this.crdSchemas.set(key, strictify(v.schema.openAPIV3Schema));
        }
      }
    }
  }

  /** True if the schema set knows this apiVersion/kind. */
  public knows(apiVersion: string, kind: string): boolean {
    return this.gvk[`${apiVersion}/${kind}`] !== undefined || this.crdSchemas.has(`${apiVersion}/${kind}`);
  }

  /** Returns the schema errors of one object (empty when valid). */
  public errorsOf(obj: any): string[] {
    const key = `${obj?.apiVersion}/${obj?.kind}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      const builtin = this.gvk[key];
      const crd = this.crdSchemas.get(key);
      if (builtin) {
        validate = this.ajv.compile({ $ref: `k8s#/components/schemas/${builtin}` });
      } else if (crd) {
        validate = this.ajv.compile(crd);
      } else {
        return [`${key} is not a kind known to Kubernetes ${this.version} or to the CRDs in shared/crds`];
      }
      this.compiled.set(key, validate);
    }
    if (validate(obj)) return [];
    return (validate.errors ?? []).map(formatError);
  }

  /** Validates many objects; returns one issue per invalid object. */
  public validateAll(objects: any[]): ValidationIssue[] {
    const issues: ValidationIssue[] = [];
    for (const obj of objects) {
      const errors = this.errorsOf(obj);
      if (errors.length > 0) issues.push({ object: `${obj?.kind}/${obj?.metadata?.name}`, errors });
    }
    return issues;
  }
}

/**
 * CRD patterns are Go (RE2) regular expressions; RE2's flag groups such as `(?i)` (which CRDs put
 * at the start, after an optional `^`) are the one construct they use that JavaScript rejects, so
 * they become RegExp flags.
 */
function goRegExp(pattern: string, flags?: string): RegExp {
  const match = /^(\^?)\(\?([ims]+)\)/.exec(pattern);
  if (!match) return new RegExp(pattern, flags);
  return new RegExp(match[1] + pattern.slice(match[0].length), `${flags ?? ''}${match[2]}`);
}
goRegExp.code = 'goRegExp';

function formatError(e: ErrorObject): string {
  const extra = e.keyword === 'additionalProperties' ? ` (${(e.params as any).additionalProperty})` : '';
  return `${e.instancePath || '/'} ${e.message}${extra}`;
}
