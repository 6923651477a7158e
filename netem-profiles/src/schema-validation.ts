import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageDir } from './package-paths';
import type { DataPath, YamlDocument } from './yaml-document';

export type SchemaName = 'topology' | 'profile' | 'inventory';

// verbose: the parent schema lets messages list allowed fields and describe patterns.
// allErrors: a misspelt field also shows up as a missing one; report the misspelling.
const ajv = new Ajv({ verbose: true, allErrors: true });
const compiled = new Map<SchemaName, ValidateFunction>();

export function schemaPath(name: SchemaName): string {
  return join(packageDir, 'schemas', `${name}.schema.json`);
}

function validatorFor(name: SchemaName): ValidateFunction {
  let validate = compiled.get(name);
  if (!validate) {
    validate = ajv.compile(JSON.parse(readFileSync(schemaPath(name), 'utf8')));
    compiled.set(name, validate);
  }
  return validate;
}

/** Throws a ConfigError at a schema violation in `doc`, a misspelt field before anything else. */
export function validateAgainstSchema(doc: YamlDocument, name: SchemaName): void {
  const validate = validatorFor(name);
  if (validate(doc.data)) return;
  // 'if' only says that a then/else branch failed; that branch's own error is more specific.
  const errors = validate.errors!.filter((e) => e.keyword !== 'if');
  const chosen = errors.find((e) => e.keyword === 'additionalProperties') ?? errors[0];
  const { path, problem } = describe(chosen);
  throw doc.error(path, problem);
}

function instancePathParts(instancePath: string): (string | number)[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/** Ajv's wording is generic; say which field and what would be accepted. */
function describe(error: ErrorObject): { path: DataPath; problem: string } {
  const at = instancePathParts(error.instancePath);
  const parent = error.parentSchema as { description?: string; properties?: object } | undefined;
  switch (error.keyword) {
    case 'required':
      return { path: [...at, error.params.missingProperty], problem: 'missing required field' };
    case 'additionalProperties': {
      const allowed = Object.keys(parent?.properties ?? {}).join(', ');
      return { path: [...at, error.params.additionalProperty], problem: `unknown field (allowed: ${allowed})` };
    }
    case 'false schema':
      return { path: at, problem: 'not allowed here' };
    case 'enum':
      return { path: at, problem: `must be one of: ${error.params.allowedValues.join(', ')}` };
    case 'pattern':
      return { path: at, problem: `must be ${parent?.description ?? `like ${error.params.pattern}`}` };
    default:
      return { path: at, problem: error.message ?? error.keyword };
  }
}
