/**
 * A walk over every subschema of a JSON Schema (draft 2020-12 keywords), telling the visitor where in a
 * document the subschema applies: a list of steps (field names and "each array element") when that
 * place is fixed, or null when it is not (patternProperties, additionalProperties, $defs, not, …).
 * Malformed parts are skipped here; ajv's meta-schema check reports them.
 */

/** One step of a document path: a named field, or every element of an array. */
export type PathStep = { readonly kind: 'field'; readonly name: string } | { readonly kind: 'each' };

export type SchemaObject = { [keyword: string]: unknown };

export type SchemaVisitor = (schema: SchemaObject, steps: readonly PathStep[] | null) => void;

const EACH: PathStep = Object.freeze({ kind: 'each' });

/** Keywords whose subschemas apply to the same value as their parent. */
const SAME_PLACE_ONE = ['if', 'then', 'else'] as const;
const SAME_PLACE_MANY = ['allOf', 'anyOf', 'oneOf'] as const;
/** Keywords whose subschemas apply to values whose place is not fixed (or to no value at all). */
const NOWHERE_ONE = ['not', 'additionalProperties', 'propertyNames', 'unevaluatedProperties', 'contains'];
const NOWHERE_MAP = ['patternProperties', 'dependentSchemas', '$defs', 'definitions'];

export function walkSchema(schema: unknown, visit: SchemaVisitor): void {
  walk(schema, [], visit, 0);
}

/** Deeper than this the schema is rejected by the caller; the walk just stops. */
export const MAX_SCHEMA_DEPTH = 64;

function isObject(v: unknown): v is SchemaObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function walk(schema: unknown, steps: readonly PathStep[] | null, visit: SchemaVisitor, depth: number): void {
  if (!isObject(schema) || depth > MAX_SCHEMA_DEPTH) return;
  visit(schema, steps);
  const next = depth + 1;
  for (const k of SAME_PLACE_ONE) walk(schema[k], steps, visit, next);
  for (const k of SAME_PLACE_MANY) {
    const list = schema[k];
    if (Array.isArray(list)) for (const s of list) walk(s, steps, visit, next);
  }
  const props = schema.properties;
  if (isObject(props)) {
    for (const [name, s] of Object.entries(props)) {
      walk(s, steps === null ? null : [...steps, { kind: 'field', name }], visit, next);
    }
  }
  walk(schema.items, steps === null ? null : [...steps, EACH], visit, next);
  walk(schema.unevaluatedItems, steps === null ? null : [...steps, EACH], visit, next);
  if (Array.isArray(schema.prefixItems)) {
    // A tuple position is a fixed place, but references there would need positional updates: not addressed.
    for (const s of schema.prefixItems) walk(s, null, visit, next);
  }
  for (const k of NOWHERE_ONE) walk(schema[k], null, visit, next);
  for (const k of NOWHERE_MAP) {
    const map = schema[k];
    if (isObject(map)) for (const s of Object.values(map)) walk(s, null, visit, next);
  }
}

/** 'a.b[].c' for display and error messages. */
export function formatSteps(steps: readonly PathStep[]): string {
  let out = '';
  for (const s of steps) {
    if (s.kind === 'each') out += '[]';
    else out += out === '' ? s.name : `.${s.name}`;
  }
  return out;
}

/** 'a.b.c': the MongoDB dot path that matches the same values (array elements match implicitly). */
export function queryPath(steps: readonly PathStep[]): string {
  return steps
    .filter((s): s is { kind: 'field'; name: string } => s.kind === 'field')
    .map((s) => s.name)
    .join('.');
}
