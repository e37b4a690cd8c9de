import type { Document } from '../document/index.js';
import { encodeKey } from '../keys/encode.js';
import type { PathReader } from '../query/path.js';
import type { Scope } from './core.js';
import { idOfKey, scanKeys } from './covered.js';
import { type CompiledQuery, execute, planFor } from './exec.js';
import { latin1 } from './index-keys.js';

/**
 * distinct(): the values a field takes in the matching documents (array elements singly), keyed by their
 * encoding. From index keys alone (covered.ts) where the plan's index holds the field, or for `_id`; a
 * null there may be a missing field (which counts no value), so meeting one reads the documents instead,
 * as does a list rule (`visible`) or a plan keys cannot answer.
 */
export function distinctValues(
  scope: Scope,
  name: string,
  q: CompiledQuery,
  field: string,
  read: PathReader,
  visible: ((doc: Document) => boolean) | undefined,
): Map<string, unknown> {
  const meta = scope.meta(name);
  const seen = new Map<string, unknown>();
  if (meta === undefined) return seen;
  const add = (v: unknown) => {
    if (v === undefined) return;
    const k = latin1(encodeKey(v));
    if (!seen.has(k)) seen.set(k, v);
  };
  if (visible === undefined) {
    const plan = planFor(meta, q);
    const at = plan.index?.fields.findIndex((f) => f.path === field) ?? -1;
    if (at >= 0 || field === '_id') {
      let ambiguous = false;
      const covered = scanKeys(scope, meta, plan, q, (pk, values) => {
        const v = at >= 0 && values !== undefined ? values[at] : idOfKey(pk);
        if (v === null) {
          ambiguous = true;
          return false;
        }
        add(v);
        return true;
      });
      if (covered && !ambiguous) return seen;
      seen.clear();
    }
  }
  for (const r of execute(scope, name, q, visible, false).rows) {
    for (const v of read(r.doc)) {
      if (Array.isArray(v)) v.forEach(add);
      else add(v);
    }
  }
  return seen;
}
