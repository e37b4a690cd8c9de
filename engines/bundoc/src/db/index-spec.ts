import { isPlainObject } from '../keys/types.js';
import { splitPath } from '../query/path.js';
import type { IndexField, IndexMeta } from './catalog.js';
import { InvalidIndexError } from './errors.js';
import { checkIndexName } from './names.js';

export const MAX_INDEX_FIELDS = 32;
export const MAX_INDEXES_PER_COLLECTION = 64;
/** The primary key is an implicit index with this name (as in MongoDB); it cannot be created or dropped. */
export const ID_INDEX_NAME = '_id_';

export interface IndexOptions {
  unique?: boolean;
  sparse?: boolean;
  name?: string;
}

export interface ParsedIndex {
  name: string;
  fields: IndexField[];
  unique: boolean;
  sparse: boolean;
}

/** Validates `{ 'address.city': 1, age: -1 }` plus options; throws InvalidIndexError naming the problem. */
export function parseIndexSpec(spec: unknown, options: unknown): ParsedIndex {
  if (!isPlainObject(spec))
    throw new InvalidIndexError('index spec must be an object like { field: 1 | -1 }');
  const paths = Object.keys(spec);
  if (paths.length === 0) throw new InvalidIndexError('index spec has no fields');
  if (paths.length > MAX_INDEX_FIELDS) {
    throw new InvalidIndexError(`index spec has ${paths.length} fields; the limit is ${MAX_INDEX_FIELDS}`);
  }
  const fields: IndexField[] = paths.map((path) => {
    const dir = spec[path];
    if (dir !== 1 && dir !== -1) {
      throw new InvalidIndexError(
        `index field "${path}": direction must be 1 or -1, got ${JSON.stringify(dir)}`,
      );
    }
    const parts = splitPath(path);
    if (parts === undefined || parts.some((p) => p.startsWith('$'))) {
      throw new InvalidIndexError(`index field "${path}" is not a valid field path`);
    }
    return { path, dir };
  });
  if (fields.length === 1 && fields[0]!.path === '_id') {
    throw new InvalidIndexError('_id is always indexed (index "_id_"); it cannot be indexed again');
  }
  if (options !== undefined && !isPlainObject(options))
    throw new InvalidIndexError('index options must be an object');
  const o = (options ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'unique' && k !== 'sparse' && k !== 'name')
      throw new InvalidIndexError(`unknown index option "${k}"`);
  }
  for (const k of ['unique', 'sparse'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean')
      throw new InvalidIndexError(`index option ${k} must be a boolean`);
  }
  const name =
    o.name === undefined ? fields.map((f) => `${f.path}_${f.dir}`).join('_') : checkIndexName(o.name);
  if (name === ID_INDEX_NAME) throw new InvalidIndexError(`index name "${ID_INDEX_NAME}" is reserved`);
  checkIndexName(name);
  return { name, fields, unique: o.unique === true, sparse: o.sparse === true };
}

/** Same key pattern and options: createIndex is then a no-op, as in MongoDB. */
export function sameIndex(a: ParsedIndex, b: IndexMeta): boolean {
  return (
    a.unique === b.unique &&
    a.sparse === b.sparse &&
    a.fields.length === b.fields.length &&
    a.fields.every((f, i) => f.path === b.fields[i]!.path && f.dir === b.fields[i]!.dir)
  );
}

export function sameKeyPattern(a: ParsedIndex, b: IndexMeta): boolean {
  return (
    a.fields.length === b.fields.length &&
    a.fields.every((f, i) => f.path === b.fields[i]!.path && f.dir === b.fields[i]!.dir)
  );
}
