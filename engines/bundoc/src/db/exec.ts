import { documentJson, isPlainDocumentAt } from '../document/codec.js';
import {
  checkId,
  type DocId,
  type Document,
  idKey,
  MAX_ID_KEY_BYTES,
  parseTyped,
  stringifyTyped,
} from '../document/index.js';
import { isPlainObject } from '../keys/types.js';
import { compileFilter, type Matcher } from '../query/filter.js';
import { filterNeedles, NeedleSieve, type Needles } from '../query/needles.js';
import { compileProjection, type Projector } from '../query/projection.js';
import { compileSort, sortDocuments } from '../query/sort.js';
import type { AuthContext } from '../security/context.js';
import { ValueRange, type ValueSieve } from '../storage/btree.js';
import { copyOut } from '../storage/copy-out.js';
import { type CollectionMeta, docTree, indexTree, readyIndexes } from './catalog.js';
import type { Scope } from './core.js';
import { idOfKey, scanKeys } from './covered.js';
import { InvalidOptionError } from './errors.js';
import { latin1 } from './index-keys.js';
import {
  type ByteRange,
  choosePlan,
  idPointPlan,
  isPrimary,
  MAX_OR_BRANCHES,
  type Plan,
  prefixEnd,
} from './planner.js';
import { extractPredicates, type FieldPredicate } from './predicates.js';

export interface FindOptions {
  sort?: Record<string, 1 | -1>;
  skip?: number;
  limit?: number;
  projection?: Record<string, 0 | 1 | boolean>;
  /** A cursor token from a previous page: continue after that document in the same sort order. */
  after?: string;
  /** Who is asking (default: anonymous); documents the collection's rules do not let them list are skipped. */
  ctx?: AuthContext;
}

export interface Explain {
  plan: 'COLLSCAN' | 'IXSCAN' | 'OR';
  index?: string;
  bounds?: Record<string, string[]>;
  /** plan OR: the index scan of each branch of the $or (a document several find is returned once). */
  branches?: Array<{ plan: 'COLLSCAN' | 'IXSCAN' | 'OR'; index?: string; bounds?: Record<string, string[]> }>;
  keysExamined: number;
  docsExamined: number;
  nReturned: number;
  /** Answered from index keys alone, no document read (covered.ts). */
  covered?: true;
}

/**
 * A stored document as a scan yields it: decoded, with the bytes and key it came from (copies; empty in
 * an execution for reading only, which needs the document alone).
 */
export interface Fetched {
  doc: Document;
  bytes: Uint8Array;
  key: Uint8Array;
}

const NO_BYTES = new Uint8Array(0);

/** Everything about a query that can be validated and compiled once, before any read. */
export interface CompiledQuery {
  filter: Record<string, unknown>;
  matcher: Matcher;
  /**
   * Strings a matching document's text must contain (checked before parsing it), worked out on first
   * use: a plan that reads documents by their _id parses them without this sieve.
   */
  needles(): Needles | undefined;
  /** What the planner can use of the filter (extracted on first use, once, whatever the collection). */
  predicates(): Map<string, FieldPredicate>;
  /**
   * Where the filter has a top-level $or: what the planner can use of each branch together with the
   * rest of the filter (for an index union); undefined otherwise. Extracted on first use.
   */
  orBranches(): Array<Map<string, FieldPredicate>> | undefined;
  /** Set when the filter is `{ _id: id }` alone (see idEquality): the key of that document. */
  idKey: Uint8Array | undefined;
  id: DocId | undefined;
  sort: Array<[string, 1 | -1]>;
  explicitId: 1 | -1 | undefined;
  /** The full order including the _id tie-breaker, when any order was asked for. */
  orderSpec: Record<string, 1 | -1> | undefined;
  skip: number;
  limit: number | undefined;
  projector: Projector | undefined;
  after: Document | undefined;
  afterCmp: ((a: unknown, b: unknown) => number) | undefined;
  /** The projection is { _id: 1 } alone: index keys may answer the query (covered.ts). */
  idsOnly: boolean;
}

const MAX_SKIP_LIMIT = Number.MAX_SAFE_INTEGER;

function checkCount(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_SKIP_LIMIT) {
    throw new InvalidOptionError(`${name} must be a non-negative integer`);
  }
  return v;
}

/**
 * The id of a filter that is `{ _id: id }` alone with a valid id (string or finite number), else
 * undefined. MongoDB's "IDHACK": the filter of most updates, deletes and lookups by id, compiled and
 * planned directly (see idPointPlan). Ids whose key could exceed MAX_ID_KEY_BYTES take the general path.
 */
function idEquality(f: unknown): DocId | undefined {
  if (!isPlainObject(f)) return undefined;
  let id: unknown;
  let n = 0;
  for (const k in f) {
    if (++n > 1 || k !== '_id') return undefined;
    id = f[k];
  }
  if (n !== 1) return undefined;
  if (typeof id === 'string') return id.length * 3 + 3 <= MAX_ID_KEY_BYTES ? id : undefined;
  if (typeof id === 'number' && Number.isFinite(id)) return id === 0 ? 0 : id;
  return undefined;
}

export function compileQuery(filter: unknown, options: FindOptions | undefined): CompiledQuery {
  const f = filter === undefined ? {} : filter;
  const id = idEquality(f);
  // A document stored under the id's key has that _id (keys encode ids one to one, 0 and -0 alike).
  const matcher: Matcher = id === undefined ? compileFilter(f) : (doc) => (doc as Document)._id === id;
  if (options !== undefined && !isPlainObject(options))
    throw new InvalidOptionError('find options must be an object');
  const o: FindOptions = options ?? {};
  for (const k of Object.keys(o)) {
    if (!['sort', 'skip', 'limit', 'projection', 'after', 'ctx'].includes(k)) {
      throw new InvalidOptionError(`unknown find option "${k}"`);
    }
  }
  const skip = checkCount(o.skip, 'skip') ?? 0;
  const limit = checkCount(o.limit, 'limit');
  const projector = o.projection === undefined ? undefined : compileProjection(o.projection);
  let sortSpec = o.sort;
  if (sortSpec !== undefined) compileSort(sortSpec); // validates
  if (o.after !== undefined && (sortSpec === undefined || Object.keys(sortSpec).length === 0)) {
    sortSpec = { _id: 1 }; // keyset paging needs an order; _id is the natural one
  }
  const sort: Array<[string, 1 | -1]> = [];
  let explicitId: 1 | -1 | undefined;
  for (const [p, d] of Object.entries(sortSpec ?? {})) {
    if (p === '_id') {
      explicitId = d; // _id is unique: fields after it cannot change the order
      break;
    }
    sort.push([p, d]);
  }
  const orderSpec =
    sort.length > 0 || explicitId !== undefined
      ? { ...Object.fromEntries(sort), _id: explicitId ?? 1 }
      : undefined;
  let after: Document | undefined;
  let afterCmp: CompiledQuery['afterCmp'];
  if (o.after !== undefined) {
    after = decodeToken(o.after, orderSpec!);
    afterCmp = compileSort(orderSpec);
  }
  let needles: Needles | undefined | null = null;
  let predicates: Map<string, FieldPredicate> | undefined;
  let orBranches: Array<Map<string, FieldPredicate>> | undefined | null = null;
  return {
    filter: f as Record<string, unknown>,
    matcher,
    needles() {
      if (needles === null) needles = filterNeedles(f as Record<string, unknown>);
      return needles;
    },
    predicates() {
      predicates ??= extractPredicates(f as Record<string, unknown>);
      return predicates;
    },
    orBranches() {
      if (orBranches === null) orBranches = branchPredicates(f as Record<string, unknown>);
      return orBranches;
    },
    idKey: id === undefined ? undefined : idKey(id),
    id,
    sort,
    explicitId,
    orderSpec,
    skip,
    limit,
    projector,
    after,
    afterCmp,
    idsOnly: isIdsOnly(o.projection),
  };
}

function isIdsOnly(projection: FindOptions['projection']): boolean {
  if (projection === undefined) return false;
  const keys = Object.keys(projection);
  return keys.length === 1 && keys[0] === '_id' && (projection._id === 1 || projection._id === true);
}

/**
 * The predicates of each branch of the filter's $or, each with the rest of the filter: its own $or, else
 * the first one in its top-level $and (`{ $and: [{ $or: [...] }, ...] }`, as a conjunction of
 * disjunctions is written). A document the filter matches matches the rest and one branch, so the
 * union of the branches' scans finds it.
 */
function branchPredicates(filter: Record<string, unknown>): Array<Map<string, FieldPredicate>> | undefined {
  let or = filter.$or;
  let rest: Record<string, unknown>;
  if (or !== undefined) {
    const { $or: _branches, ...others } = filter;
    rest = others;
  } else {
    const and = filter.$and;
    if (!Array.isArray(and)) return undefined;
    const at = and.findIndex((c) => isPlainObject(c) && Array.isArray(c.$or));
    if (at < 0) return undefined;
    const { $or: branches, ...beside } = and[at] as Record<string, unknown>;
    or = branches;
    const { $and: _and, ...others } = filter;
    rest = { ...others, $and: [...and.slice(0, at), beside, ...and.slice(at + 1)] };
  }
  if (!Array.isArray(or) || or.length === 0 || or.length > MAX_OR_BRANCHES) return undefined;
  return or.map((branch) => extractPredicates({ $and: [rest, branch] }));
}

export function planFor(meta: CollectionMeta, q: CompiledQuery): Plan {
  if (q.idKey !== undefined && q.after === undefined) {
    return idPointPlan(q.id!, q.idKey, q.sort.length === 0);
  }
  const indexes = readyIndexes(meta);
  const hasLimit = q.limit !== undefined;
  const plan = choosePlan(indexes, q.predicates(), q.sort, q.explicitId, hasLimit, q.orBranches());
  // Keyset paging in _id order starts right after the token's _id instead of filtering from the start.
  if (q.after && plan.kind === 'COLLSCAN' && q.sort.length === 0) {
    const k = idKey(checkId(q.after._id));
    plan.ranges = [plan.reverse ? { lt: k } : { gte: prefixEnd(k) }];
  }
  return plan;
}

export interface Stats {
  keysExamined: number;
  docsExamined: number;
}

/**
 * Receives a scanned document; returns false to stop the scan. bytes and key are copies, or with
 * `withBytes` false the store's own bytes, to look at once and never keep.
 */
export type Visit = (doc: Document, bytes: Uint8Array, key: Uint8Array) => boolean;

/**
 * Visits the entries of one key range in order (views: scan() looks at each once and copies what it
 * keeps) until `visit` returns false; returns false if it did. With a finite `hint` only that many are
 * read in the first storage batch (a query with a limit usually stops there) and the rest on demand.
 * A callback, not an iterator: the iterator protocol per entry was most of a full scan's cost outside
 * parsing.
 */
function eachEntry(
  scope: Scope,
  tree: string,
  r: ByteRange,
  reverse: boolean,
  hint: number,
  visit: (key: Uint8Array, value: Uint8Array) => boolean,
  sieve?: ValueSieve,
): boolean {
  const tx = scope.tx;
  let stopped = false;
  let last: Uint8Array | undefined;
  let n = 0;
  const step = (key: Uint8Array, value: Uint8Array): boolean => {
    last = key;
    n++;
    stopped = !visit(key, value);
    return !stopped;
  };
  if (!Number.isFinite(hint)) {
    tx.eachView(tree, { gte: r.gte, lt: r.lt, reverse }, step, sieve);
    return !stopped;
  }
  tx.eachView(tree, { gte: r.gte, lt: r.lt, reverse, limit: hint }, step, sieve);
  if (stopped || n < hint || last === undefined) return !stopped;
  // `last` is the store's own key: nothing changed it since (all of this runs synchronously).
  tx.eachView(tree, reverse ? { gte: r.gte, lt: last, reverse } : { gt: last, lt: r.lt }, step, sieve);
  return !stopped;
}

/**
 * Visits the documents a plan reaches, in scan order, before the filter is applied; documents whose
 * JSON lacks a needle are counted as examined but not parsed. `hint`: how many documents the caller
 * expects to take (Infinity: unknown), so a limited query reads no more than it needs.
 */
export function scan(
  scope: Scope,
  meta: CollectionMeta,
  plan: Plan,
  stats: Stats,
  needles: Needles | undefined,
  hint: number,
  visit: Visit,
  withBytes = true,
): void {
  if (plan.branches !== undefined) {
    // The union: each branch's scan in turn, a document found by an earlier one skipped.
    const seen = new Set<string>();
    let stopped = false;
    const once: Visit = (doc, bytes, key) => {
      const k = latin1(key);
      if (seen.has(k)) return true;
      seen.add(k);
      stopped = !visit(doc, bytes, key);
      return !stopped;
    };
    for (const branch of plan.branches) {
      scan(scope, meta, branch, stats, needles, hint, once, withBytes);
      if (stopped) return;
    }
    return;
  }
  const tx = scope.tx;
  const dtree = docTree(meta);
  const ranges: ByteRange[] = plan.reverse ? [...plan.ranges].reverse() : plan.ranges;
  const primary = plan.index !== undefined && isPrimary(plan.index);
  const docs = scope.core.docs;
  const slot = docs.slot(dtree);
  // Where a document fetched by key lies, for decoding it there (withBytes false, nothing to sieve).
  const range = new ValueRange();
  // `owned`: bytes and key are the caller's copies; otherwise the store's own (rangeViews), copied here
  // only for the documents that pass the needles.
  const sieve = needles === undefined ? undefined : new NeedleSieve(needles);
  // `sieved`: the scan already looked for the needles where the document is stored (see `stored`).
  const onDocument = (key: Uint8Array, bytes: Uint8Array, owned: boolean, sieved: boolean): boolean => {
    stats.docsExamined++;
    let json: Uint8Array | undefined;
    if (sieve !== undefined && !(sieved && isPlainDocumentAt(bytes, 0))) {
      json = documentJson(bytes);
      if (!sieve.mayMatch(json)) return true;
    }
    const doc = docs.decode(slot, key, bytes, json);
    return owned || !withBytes ? visit(doc, bytes, key) : visit(doc, copyOut(bytes), copyOut(key));
  };
  // A document scan sieves documents where they are stored: one that cannot match is counted and
  // skipped before any object is made for it (compressed ones are left to onDocument).
  const stored: ValueSieve | undefined =
    sieve === undefined
      ? undefined
      : (bytes, start, end) => {
          if (end <= start || !isPlainDocumentAt(bytes, start) || sieve.mayMatchIn(bytes, start + 1, end))
            return true;
          stats.docsExamined++;
          if (primary) stats.keysExamined++;
          return false;
        };
  if (!plan.index || primary) {
    for (const r of ranges) {
      if (r.point !== undefined) {
        if (!withBytes && sieve === undefined) {
          if (!tx.getRange(dtree, r.point, range)) continue;
          stats.keysExamined++;
          stats.docsExamined++;
          const doc = docs.decodeRange(slot, r.point, range.buf, range.start, range.end);
          if (!visit(doc, NO_BYTES, r.point)) return;
          continue;
        }
        const bytes = tx.getView(dtree, r.point);
        if (bytes === undefined) continue;
        stats.keysExamined++;
        if (!onDocument(r.point, bytes, false, false)) return;
        continue;
      }
      const ok = eachEntry(
        scope,
        dtree,
        r,
        plan.reverse,
        hint,
        (key, bytes) => {
          if (primary) stats.keysExamined++;
          return onDocument(key, bytes, false, stored !== undefined);
        },
        stored,
      );
      if (!ok) return;
    }
    return;
  }
  const itree = indexTree(plan.index);
  // Only a multikey index can list one document under several keys.
  const seen = plan.index.multikey ? new Set<string>() : undefined;
  const visitEntry = (key: Uint8Array): boolean => {
    stats.keysExamined++;
    if (seen) {
      const s = latin1(key);
      if (seen.has(s)) return true;
      seen.add(s);
    }
    if (!withBytes && sieve === undefined) {
      // Decoded where it lies (no bytes go to `visit` when withBytes is false).
      if (!tx.getRange(dtree, key, range)) return true;
      stats.docsExamined++;
      return visit(docs.decodeRange(slot, key, range.buf, range.start, range.end), NO_BYTES, key);
    }
    // The store's bytes, copied (withBytes) only once the needles passed: the sieve searches ahead of a
    // document in the memory after it, which must not change during the scan — copies made one after
    // another into the result arena would (a later document's bytes land where a search found nothing).
    const view = tx.getView(dtree, key);
    return view === undefined || onDocument(key, view, false, false);
  };
  // The walk reads values (the primary keys) only, and stops through visitEntry: no key views, and no
  // limit (eachEntry's hint resumes from the last key, which a keyless walk does not have).
  let stopped = false;
  const onIndexEntry = (_: Uint8Array, key: Uint8Array): boolean => {
    stopped = !visitEntry(key);
    return !stopped;
  };
  for (const r of ranges) {
    scope.tx.eachView(itree, { gte: r.gte, lt: r.lt, reverse: plan.reverse }, onIndexEntry, undefined, false);
    if (stopped) return;
  }
}

export interface Execution {
  rows: Fetched[];
  plan: Plan | undefined;
  stats: Stats;
  /** Answered from index keys alone (covered.ts). */
  covered?: true;
}

/**
 * Runs a query: filter, keyset position, order, skip and limit (projection is the caller's last step).
 * `visible`: documents it rejects are skipped as if they did not match (the caller's rules), before
 * the keyset position, skip and limit apply. `withBytes` false: the rows carry documents only (reads),
 * which spares a copy of each document's bytes and key.
 */
export function execute(
  scope: Scope,
  name: string,
  q: CompiledQuery,
  visible?: (doc: Document) => boolean,
  withBytes = true,
): Execution {
  const stats: Stats = { keysExamined: 0, docsExamined: 0 };
  const meta = scope.meta(name);
  if (!meta) return { rows: [], plan: undefined, stats };
  const plan = planFor(meta, q);
  const needSort = q.orderSpec !== undefined && !plan.sorted;
  const want = needSort || q.limit === undefined ? Number.POSITIVE_INFINITY : q.skip + q.limit;
  let rows: Fetched[] = [];
  // { _id: 1 } alone, read-only, no rule, ordered by _id at most: the ids may come from index keys.
  let covered = false;
  if (q.idsOnly && !withBytes && visible === undefined && want > 0 && !sortsBeyondId(q.orderSpec)) {
    covered =
      scanKeys(
        scope,
        meta,
        plan,
        q,
        (pk) => {
          rows.push({ doc: { _id: idOfKey(pk) }, bytes: NO_BYTES, key: NO_BYTES });
          return rows.length < want;
        },
        true,
        stats,
      ) === true;
  }
  if (want > 0 && !covered) {
    const { matcher, after, afterCmp } = q;
    scan(
      scope,
      meta,
      plan,
      stats,
      // Documents found by their _id usually match: sieving them would only delay parsing them.
      plan.branches === undefined && plan.ranges.every((r) => r.point !== undefined)
        ? undefined
        : q.needles(),
      want,
      (doc, bytes, key) => {
        if (!matcher(doc)) return true;
        if (after && afterCmp!(doc, after) <= 0) return true;
        if (visible !== undefined && !visible(doc)) return true;
        rows.push(withBytes ? { doc, bytes, key } : { doc, bytes: NO_BYTES, key: NO_BYTES });
        return rows.length < want;
      },
      withBytes,
    );
  }
  if (needSort) {
    const byDoc = new Map<Document, Fetched>(rows.map((r) => [r.doc, r]));
    rows = sortDocuments(
      rows.map((r) => r.doc),
      q.orderSpec,
    ).map((d) => byDoc.get(d)!);
  }
  const end = q.limit === undefined ? rows.length : q.skip + q.limit;
  rows = rows.slice(q.skip, end);
  return covered ? { rows, plan, stats, covered } : { rows, plan, stats };
}

/** Whether an order asks for more than _id (the only field a covered row holds). */
function sortsBeyondId(orderSpec: Record<string, 1 | -1> | undefined): boolean {
  return orderSpec !== undefined && Object.keys(orderSpec).some((k) => k !== '_id');
}

export function explainOf(ex: Execution): Explain {
  const p = ex.plan;
  const out: Explain = {
    plan: p?.kind ?? 'COLLSCAN',
    keysExamined: ex.stats.keysExamined,
    docsExamined: ex.stats.docsExamined,
    nReturned: ex.rows.length,
  };
  if (p?.index) out.index = p.index.name;
  if (ex.covered) out.covered = true;
  if (p?.bounds) out.bounds = p.bounds();
  if (p?.branches) {
    out.branches = p.branches.map((b) => ({
      plan: b.kind,
      ...(b.index ? { index: b.index.name } : {}),
      ...(b.bounds ? { bounds: b.bounds() } : {}),
    }));
  }
  return out;
}

// ---- keyset tokens ----

interface TokenBody {
  v: 1;
  /** The order the token belongs to; a token is refused under another order. */
  o: Record<string, 1 | -1>;
  /** The last returned document reduced to its sort fields and _id. */
  d: Document;
}

export function makeToken(doc: Document, orderSpec: Record<string, 1 | -1>): string {
  let reduced: Document;
  try {
    reduced = compileProjection(Object.fromEntries(Object.keys(orderSpec).map((k) => [k, 1])))(doc);
  } catch {
    reduced = doc; // overlapping sort paths cannot be projected; keep the whole document
  }
  const body: TokenBody = { v: 1, o: orderSpec, d: reduced };
  // Typed JSON, so a Date sort value stays a Date (as a string it would compare in the string bracket).
  return Buffer.from(stringifyTyped(body), 'utf8').toString('base64url');
}

function decodeToken(token: unknown, orderSpec: Record<string, 1 | -1>): Document {
  if (typeof token !== 'string' || token.length === 0)
    throw new InvalidOptionError('after must be a cursor token string');
  let body: TokenBody;
  try {
    body = parseTyped(Buffer.from(token, 'base64url').toString('utf8')) as TokenBody;
  } catch {
    throw new InvalidOptionError('after is not a valid cursor token');
  }
  if (!isPlainObject(body) || body.v !== 1 || !isPlainObject(body.d) || !isPlainObject(body.o)) {
    throw new InvalidOptionError('after is not a valid cursor token');
  }
  if (JSON.stringify(body.o) !== JSON.stringify(orderSpec)) {
    throw new InvalidOptionError('after: the cursor token belongs to a different sort order');
  }
  checkId(body.d._id, 'after._id');
  return body.d;
}
