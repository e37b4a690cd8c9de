/**
 * JSON Schema validation of documents: draft 2020-12, compiled once by ajv when the schema is set.
 *
 * bundoc extensions (any other unknown keyword is an error, so typos are caught when the schema is set):
 * - `"x-bundoc-type": "date"`: the value must be a valid JavaScript Date (documents store Dates as a
 *   typed value). A Date never satisfies `"type": "object"` (bundoc adds that check), and never
 *   `"type": "string"`: ISO strings are strings, validated with `"format": "date-time"`.
 * - `"x-bundoc-ref": { collection, onDelete }`: the value is an `_id` (string or number) in another
 *   collection, or null (see references.ts).
 * Supported formats: see schema-formats.ts; other formats are rejected at set time.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { CompileCache } from './compile-cache.js';
import { InvalidSchemaError, type SchemaIssue, SchemaValidationError } from './errors.js';
import { parseReference, REF_KEYWORD, type ReferenceEdge } from './references.js';
import { FORMATS } from './schema-formats.js';
import { MAX_SCHEMA_DEPTH, type SchemaObject, walkSchema } from './schema-walk.js';

export const DATE_KEYWORD = 'x-bundoc-type';
/** Added by bundoc next to `type: "object"`; users may not write it. */
const NOT_DATE_KEYWORD = 'x-bundoc-object';

/** Largest schema accepted, as JSON text. */
export const MAX_SCHEMA_BYTES = 1 << 20;
/** At most this many failures are reported per document. */
export const MAX_SCHEMA_ISSUES = 20;

export type ValidationLevel = 'strict' | 'moderate' | 'off';
export const VALIDATION_LEVELS: readonly ValidationLevel[] = ['strict', 'moderate', 'off'];

export interface SchemaCheck {
  issues: SchemaIssue[];
  truncated: boolean;
}

export interface CompiledSchema {
  readonly collection: string;
  /** A deep copy of the schema as given (JSON), safe to store in the catalog. */
  readonly source: SchemaObject;
  /** Outgoing references declared by the schema, in schema order. */
  readonly references: readonly ReferenceEdge[];
  /** The failures of `doc`, or null when it is valid. */
  check(doc: unknown): SchemaCheck | null;
  /** Throws SchemaValidationError when `doc` is invalid. */
  validate(doc: unknown): void;
}

/** Compiled validators by schema text (after bundoc's rewrite); failures are not cached. */
const validators = new CompileCache<ValidateFunction>(512);

function isValidDate(v: unknown): boolean {
  return v instanceof Date && !Number.isNaN(v.getTime());
}

/*
 * One ajv instance for every collection: building one costs tens of milliseconds (meta-schemas), compiling
 * a schema about one. Schemas are not registered by $id (addUsedSchema: false) so two collections may use
 * the same $id, and each is removed from ajv's cache after compiling so replaced schemas do not accumulate.
 */
let shared: Ajv2020 | undefined;
function ajv(): Ajv2020 {
  if (shared) return shared;
  const a = new Ajv2020({
    allErrors: true,
    addUsedSchema: false,
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    validateFormats: true,
    logger: false,
  });
  for (const [name, test] of Object.entries(FORMATS)) a.addFormat(name, { type: 'string', validate: test });
  a.addKeyword({
    keyword: DATE_KEYWORD,
    metaSchema: { enum: ['date'] },
    validate: (_schema: unknown, data: unknown) => isValidDate(data),
    error: { message: 'must be a Date' },
  });
  a.addKeyword({
    keyword: NOT_DATE_KEYWORD,
    metaSchema: { const: true },
    validate: (_schema: unknown, data: unknown) => !(data instanceof Date),
    error: { message: 'must be object (a Date is not an object)' },
  });
  a.addKeyword({
    keyword: REF_KEYWORD,
    metaSchema: {
      type: 'object',
      properties: {
        collection: { type: 'string', minLength: 1 },
        onDelete: { enum: ['restrict', 'setNull', 'cascade'] },
      },
      required: ['collection'],
      additionalProperties: false,
    },
    validate: (_schema: unknown, data: unknown) =>
      data === null || typeof data === 'string' || (typeof data === 'number' && Number.isFinite(data)),
    error: { message: 'must be a document id (string or number) or null' },
  });
  shared = a;
  return a;
}

/** Compiles `schema` for `collection`; throws InvalidSchemaError naming the problem. */
export function compileSchema(collection: string, schema: unknown): CompiledSchema {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new InvalidSchemaError('a schema must be a JSON object');
  }
  const source = copyJson(schema, '', 0) as SchemaObject;
  let text: string;
  try {
    text = JSON.stringify(source);
  } catch (e) {
    throw new InvalidSchemaError('it is not JSON', { cause: e });
  }
  if (text.length > MAX_SCHEMA_BYTES) {
    throw new InvalidSchemaError(`it is ${text.length} bytes as JSON, over the limit of ${MAX_SCHEMA_BYTES}`);
  }
  const compiled = JSON.parse(text) as SchemaObject;
  const references: ReferenceEdge[] = [];
  walkSchema(compiled, (sub, steps) => {
    if (Object.hasOwn(sub, NOT_DATE_KEYWORD)) {
      throw new InvalidSchemaError(`"${NOT_DATE_KEYWORD}" is reserved for bundoc`);
    }
    if (Object.hasOwn(sub, '$async'))
      throw new InvalidSchemaError('asynchronous schemas ($async) are not supported');
    if (Object.hasOwn(sub, REF_KEYWORD)) references.push(parseReference(collection, sub, steps));
    // ajv skips a property named __proto__ (prototype-pollution guard): refuse rather than not check it.
    const props = sub.properties;
    const named = typeof props === 'object' && props !== null && Object.hasOwn(props, '__proto__');
    if (named || (Array.isArray(sub.required) && sub.required.includes('__proto__'))) {
      throw new InvalidSchemaError('a property named "__proto__" cannot be validated (ajv ignores it)');
    }
    const t = sub.type;
    const object = t === 'object' || (Array.isArray(t) && t.includes('object'));
    if (object && !Object.hasOwn(sub, DATE_KEYWORD)) sub[NOT_DATE_KEYWORD] = true;
  });
  const fn = validators.get(JSON.stringify(compiled), () => {
    const a = ajv();
    try {
      return a.compile(compiled);
    } catch (e) {
      throw new InvalidSchemaError(describeCompileError(e), { cause: e });
    } finally {
      a.removeSchema(compiled);
    }
  });
  const check = (doc: unknown): SchemaCheck | null => {
    if (fn(doc)) return null;
    const errors = fn.errors ?? [];
    return {
      issues: errors.slice(0, MAX_SCHEMA_ISSUES).map(toIssue),
      truncated: errors.length > MAX_SCHEMA_ISSUES,
    };
  };
  return {
    collection,
    source,
    references,
    check,
    validate(doc) {
      const r = check(doc);
      if (r) throw new SchemaValidationError(collection, r.issues, r.truncated);
    },
  };
}

function describeCompileError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // ajv reports meta-schema failures with the internal keyword name for data; make them read naturally.
  return msg.replace(/^schema is invalid: /, '').replaceAll(/\bdata(?=[/ .])/g, 'schema');
}

function copyJson(v: unknown, path: string, depth: number): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw new InvalidSchemaError(`${v} at "${path}" is not a JSON number`);
      return v;
    case 'object':
      break;
    default:
      throw new InvalidSchemaError(`a ${typeof v} at "${path}" is not a JSON value`);
  }
  if (v === null) return null;
  if (Array.isArray(v)) {
    if (depth >= MAX_SCHEMA_DEPTH)
      throw new InvalidSchemaError(`it is nested deeper than ${MAX_SCHEMA_DEPTH} levels`);
    return v.map((e, i) => copyJson(e, `${path}/${i}`, depth + 1));
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    throw new InvalidSchemaError(`the value at "${path}" is not a plain JSON object`);
  }
  if (depth >= MAX_SCHEMA_DEPTH)
    throw new InvalidSchemaError(`it is nested deeper than ${MAX_SCHEMA_DEPTH} levels`);
  const out: { [k: string]: unknown } = {};
  for (const [k, x] of Object.entries(v)) {
    // defineProperty: a "__proto__" key is data here, not the prototype setter.
    Object.defineProperty(out, k, {
      value: copyJson(x, `${path}/${k}`, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function toIssue(e: ErrorObject): SchemaIssue {
  let path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.');
  const p = e.params as { missingProperty?: string; additionalProperty?: string };
  const extra =
    e.keyword === 'required'
      ? p.missingProperty
      : e.keyword === 'additionalProperties'
        ? p.additionalProperty
        : undefined;
  if (extra !== undefined) path = path === '' ? extra : `${path}.${extra}`;
  return {
    path,
    keyword: e.keyword === NOT_DATE_KEYWORD ? 'type' : e.keyword,
    message: e.message ?? 'is invalid',
  };
}
