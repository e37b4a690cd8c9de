/**
 * References between collections, declared in a schema property as
 * `"x-bundoc-ref": { "collection": "users", "onDelete": "restrict" | "setNull" | "cascade" }`.
 * A reference value is the target document's `_id` (string or number); null or a missing field
 * references nothing. References may sit on nested properties and on array items (`items`).
 */
import { InvalidSchemaError } from './errors.js';
import { formatSteps, type PathStep, queryPath, type SchemaObject } from './schema-walk.js';

export type DocId = string | number;
export type OnDelete = 'restrict' | 'setNull' | 'cascade';
export const ON_DELETE: readonly OnDelete[] = ['restrict', 'setNull', 'cascade'];

/** The keyword, as written in a schema. */
export const REF_KEYWORD = 'x-bundoc-ref';

/** Longest collection name a reference may name (the collection layer checks the rest of its rules). */
const MAX_TARGET_NAME = 1024;

/** One reference: documents of `from` hold, at `steps`, `_id`s of documents in `target`. */
export interface ReferenceEdge {
  readonly from: string;
  readonly target: string;
  readonly onDelete: OnDelete;
  readonly steps: readonly PathStep[];
  /** For messages: 'author', 'items[].product', 'reviewers[]'. */
  readonly path: string;
  /** The MongoDB filter path matching the same values: `{ [queryPath]: { $in: ids } }` finds referrers. */
  readonly queryPath: string;
}

/** Turns one `x-bundoc-ref` value found at `steps` into an edge, or says what is wrong with it. */
export function parseReference(
  from: string,
  schema: SchemaObject,
  steps: readonly PathStep[] | null,
): ReferenceEdge {
  const spec = schema[REF_KEYWORD];
  const where = steps === null ? 'here' : `at "${formatSteps(steps)}"`;
  if (steps === null) {
    throw new InvalidSchemaError(
      `${REF_KEYWORD} is only supported on properties reached through "properties", "items", ` +
        `allOf/anyOf/oneOf and if/then/else (not under $defs, patternProperties, additionalProperties, not, contains or prefixItems)`,
    );
  }
  if (steps.length === 0 || steps.every((s) => s.kind === 'each')) {
    throw new InvalidSchemaError(`${REF_KEYWORD} must be on a property, not on the document itself`);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new InvalidSchemaError(`${REF_KEYWORD} ${where} must be an object { collection, onDelete }`);
  }
  const s = spec as { [k: string]: unknown };
  for (const k of Object.keys(s)) {
    if (k !== 'collection' && k !== 'onDelete')
      throw new InvalidSchemaError(`${REF_KEYWORD} ${where} has an unknown key "${k}"`);
  }
  const target = s.collection;
  if (typeof target !== 'string' || target.length === 0 || target.length > MAX_TARGET_NAME) {
    throw new InvalidSchemaError(
      `${REF_KEYWORD} ${where}: "collection" must be a non-empty string of at most ${MAX_TARGET_NAME} characters`,
    );
  }
  const onDelete = s.onDelete === undefined ? 'restrict' : s.onDelete;
  if (!ON_DELETE.includes(onDelete as OnDelete)) {
    throw new InvalidSchemaError(
      `${REF_KEYWORD} ${where}: "onDelete" must be one of ${ON_DELETE.join(', ')}, not ${JSON.stringify(onDelete)}`,
    );
  }
  if (onDelete === 'setNull' && !allowsNull(schema)) {
    throw new InvalidSchemaError(
      `${REF_KEYWORD} ${where}: onDelete "setNull" needs the property to accept null (its "type" excludes "null")`,
    );
  }
  return {
    from,
    target,
    onDelete: onDelete as OnDelete,
    steps,
    path: formatSteps(steps),
    queryPath: queryPath(steps),
  };
}

function allowsNull(schema: SchemaObject): boolean {
  const t = schema.type;
  if (t === undefined) return true;
  if (Array.isArray(t)) return t.includes('null');
  return t === 'null';
}

/** Stable key for sets of ids: 1 and '1' are different ids. */
export function idKey(id: DocId): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}

export function isDocId(v: unknown): v is DocId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/** Every id `doc` holds at the edge's path (deduplicated, in document order). */
export function referencedIds(edge: ReferenceEdge, doc: unknown): DocId[] {
  const out: DocId[] = [];
  const seen = new Set<string>();
  collect(doc, edge.steps, 0, (v) => {
    if (!isDocId(v)) return;
    const k = idKey(v);
    if (seen.has(k)) return;
    seen.add(k);
    out.push(v);
  });
  return out;
}

function collect(v: unknown, steps: readonly PathStep[], i: number, emit: (v: unknown) => void): void {
  if (i === steps.length) {
    emit(v);
    return;
  }
  const step = steps[i]!;
  if (step.kind === 'each') {
    if (Array.isArray(v)) for (const e of v) collect(e, steps, i + 1, emit);
    return;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) return;
  if (!Object.hasOwn(v, step.name)) return;
  collect((v as { [k: string]: unknown })[step.name], steps, i + 1, emit);
}

/** Ids `after` references along `edge` that `before` did not: only these need an existence check. */
export function addedIds(edge: ReferenceEdge, before: unknown, after: unknown): DocId[] {
  const old = new Set(referencedIds(edge, before).map(idKey));
  return referencedIds(edge, after).filter((id) => !old.has(idKey(id)));
}

/**
 * A copy of `doc` where every value at the edge's path that is one of `ids` became null (array elements
 * included: they become null in place, keeping positions). Unchanged parts are shared, not copied.
 */
export function applySetNull<T>(doc: T, edge: ReferenceEdge, ids: readonly DocId[]): T {
  const keys = new Set(ids.map(idKey));
  return replace(doc, edge.steps, 0, keys) as T;
}

function replace(v: unknown, steps: readonly PathStep[], i: number, keys: Set<string>): unknown {
  if (i === steps.length) return isDocId(v) && keys.has(idKey(v)) ? null : v;
  const step = steps[i]!;
  if (step.kind === 'each') {
    if (!Array.isArray(v)) return v;
    let copy: unknown[] | undefined;
    for (let j = 0; j < v.length; j++) {
      const r = replace(v[j], steps, i + 1, keys);
      if (r !== v[j]) {
        copy ??= v.slice();
        copy[j] = r;
      }
    }
    return copy ?? v;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) return v;
  if (!Object.hasOwn(v, step.name)) return v;
  const obj = v as { [k: string]: unknown };
  const r = replace(obj[step.name], steps, i + 1, keys);
  if (r === obj[step.name]) return v;
  // Spread keeps field order; a null-prototype object stays one.
  const copy = Object.getPrototypeOf(obj) === null ? Object.assign(Object.create(null), obj) : { ...obj };
  copy[step.name] = r;
  return copy;
}
