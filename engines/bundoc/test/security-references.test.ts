import fc from 'fast-check';
import t from 'tap';
import {
  type DeletePlan,
  planDelete,
  type ReferenceFinder,
  type StoredDoc,
} from '../src/security/delete-plan.js';
import {
  DanglingReferenceError,
  DeletePlanTooLargeError,
  InvalidSchemaError,
  ReferenceRestrictedError,
} from '../src/security/errors.js';
import { assertReferencesExist, referencesToCheck } from '../src/security/reference-check.js';
import { ReferenceGraph } from '../src/security/reference-graph.js';
import {
  applySetNull,
  type DocId,
  idKey,
  type OnDelete,
  type ReferenceEdge,
  referencedIds,
} from '../src/security/references.js';
import { compileSchema } from '../src/security/schema.js';

const ref = (collection: string, onDelete: OnDelete = 'restrict') => ({
  'x-bundoc-ref': { collection, onDelete },
});
const nullableRef = (collection: string, onDelete: OnDelete) => ({
  type: ['string', 'null'],
  ...ref(collection, onDelete),
});

/** An in-memory database answering the planner's questions by scanning. */
class MemoryDb implements ReferenceFinder {
  readonly calls: { edge: ReferenceEdge; ids: readonly DocId[] }[] = [];
  constructor(readonly docs: Map<string, StoredDoc[]>) {}
  findReferencing(edge: ReferenceEdge, ids: readonly DocId[]): StoredDoc[] {
    this.calls.push({ edge, ids });
    const want = new Set(ids.map(idKey));
    return (this.docs.get(edge.from) ?? []).filter((d) =>
      referencedIds(edge, d).some((id) => want.has(idKey(id))),
    );
  }
  missing(collection: string, ids: readonly DocId[]): DocId[] {
    const have = new Set((this.docs.get(collection) ?? []).map((d) => idKey(d._id)));
    return ids.filter((id) => !have.has(idKey(id)));
  }
}

function graphOf(schemas: { [collection: string]: object }): ReferenceGraph {
  return new ReferenceGraph(Object.entries(schemas).map(([c, s]) => compileSchema(c, s)));
}

t.test('references are parsed from nested properties and array items', async (t) => {
  const s = compileSchema('orders', {
    type: 'object',
    properties: {
      customer: ref('users', 'restrict'),
      shipping: { type: 'object', properties: { carrier: nullableRef('carriers', 'setNull') } },
      items: {
        type: 'array',
        items: {
          type: 'object',
          properties: { product: ref('products', 'cascade'), qty: { type: 'integer' } },
        },
      },
      watchers: { type: 'array', items: ref('users', 'cascade') },
      extra: { allOf: [{ properties: { coupon: ref('coupons') } }] },
    },
  });
  t.same(
    s.references.map((e) => [e.path, e.queryPath, e.target, e.onDelete]),
    [
      ['customer', 'customer', 'users', 'restrict'],
      ['shipping.carrier', 'shipping.carrier', 'carriers', 'setNull'],
      ['items[].product', 'items.product', 'products', 'cascade'],
      ['watchers[]', 'watchers', 'users', 'cascade'],
      ['extra.coupon', 'extra.coupon', 'coupons', 'restrict'],
    ],
  );
  t.ok(s.references.every((e) => e.from === 'orders'));
  // onDelete defaults to restrict.
  t.equal(
    compileSchema('a', { properties: { b: { 'x-bundoc-ref': { collection: 'b' } } } }).references[0]
      ?.onDelete,
    'restrict',
  );
  // A reference value must be an id or null.
  t.equal(s.check({ customer: 'u1', watchers: [1, 'x'] }), null);
  t.equal(s.check({ customer: null }), null);
  t.match(s.check({ customer: { id: 1 } })?.issues, [{ path: 'customer', keyword: 'x-bundoc-ref' }]);
  t.match(s.check({ watchers: [true] })?.issues, [{ path: 'watchers.0', keyword: 'x-bundoc-ref' }]);
});

t.test('malformed references are rejected with the schema', async (t) => {
  const bad: [object, RegExp][] = [
    [{ ...ref('x') }, /on a property, not on the document/],
    [{ patternProperties: { '^a': ref('x') } }, /only supported on properties reached/],
    [{ additionalProperties: ref('x') }, /only supported/],
    [{ $defs: { r: ref('x') }, properties: { a: { $ref: '#/$defs/r' } } }, /only supported/],
    [{ properties: { a: { not: ref('x') } } }, /only supported/],
    [{ properties: { a: { prefixItems: [ref('x')] } } }, /only supported/],
    [{ properties: { a: { 'x-bundoc-ref': 'users' } } }, /must be an object/],
    [{ properties: { a: { 'x-bundoc-ref': { collection: '' } } } }, /non-empty string/],
    [
      { properties: { a: { 'x-bundoc-ref': { collection: 'u', onDelete: 'nullify' } } } },
      /"onDelete" must be one of/,
    ],
    [{ properties: { a: { 'x-bundoc-ref': { collection: 'u', on: 'x' } } } }, /unknown key "on"/],
    [{ properties: { a: { type: 'string', ...ref('u', 'setNull') } } }, /needs the property to accept null/],
  ];
  for (const [schema, msg] of bad) {
    t.throws(() => compileSchema('c', schema), InvalidSchemaError);
    t.throws(() => compileSchema('c', schema), msg, JSON.stringify(schema));
  }
});

t.test('referencedIds and applySetNull follow nested paths and arrays', async (t) => {
  const s = compileSchema('o', {
    properties: {
      items: { type: 'array', items: { properties: { p: nullableRef('p', 'setNull') } } },
      tags: { type: 'array', items: { ...ref('t', 'setNull') } },
      a: { properties: { b: ref('p', 'setNull') } },
    },
  });
  const [items, tags, ab] = s.references as [ReferenceEdge, ReferenceEdge, ReferenceEdge];
  const doc = {
    _id: 1,
    items: [{ p: 'x' }, { p: 'y' }, { p: 'x' }, { q: 1 }, 'junk'],
    tags: [1, '1', 2],
    a: { b: 5 },
  };
  t.same(referencedIds(items, doc), ['x', 'y']);
  t.same(referencedIds(tags, doc), [1, '1', 2], '1 and "1" are different ids');
  t.same(referencedIds(ab, doc), [5]);
  t.same(referencedIds(ab, { a: [{ b: 5 }] }), [], 'a field step does not descend into arrays');
  const after = applySetNull(doc, items, ['x']);
  t.same(after.items, [{ p: null }, { p: 'y' }, { p: null }, { q: 1 }, 'junk']);
  t.equal(after.tags, doc.tags, 'untouched parts are shared');
  t.same(doc.items[0], { p: 'x' }, 'the input is not mutated');
  t.same(applySetNull(doc, tags, [1]).tags, [null, '1', 2]);
  t.equal(applySetNull(doc, ab, [6]), doc, 'no match: same object');
  t.same(Object.keys(applySetNull(doc, ab, [5])), ['_id', 'items', 'tags', 'a'], 'field order kept');
});

t.test(
  'existence checks: all refs on insert, only added ones on update, self-references allowed',
  async (t) => {
    const posts = compileSchema('posts', {
      properties: { author: ref('users'), parent: ref('posts'), cc: { type: 'array', items: ref('users') } },
    });
    const db = new MemoryDb(new Map([['users', [{ _id: 'u1' }, { _id: 'u2' }]]]));
    const edges = posts.references;
    t.same(
      referencesToCheck(edges, null, { _id: 'p1', author: 'u1', parent: 'p1', cc: ['u2', 'u1'] }).map((r) => [
        r.edge.path,
        r.ids,
      ]),
      [
        ['author', ['u1']],
        ['cc[]', ['u2', 'u1']],
      ],
    );
    t.same(
      referencesToCheck(
        edges,
        { _id: 'p1', author: 'u1', cc: ['u1'] },
        { _id: 'p1', author: 'u1', cc: ['u1', 'u3'] },
      ).map((r) => [r.edge.path, r.ids]),
      [['cc[]', ['u3']]],
    );
    await t.resolves(assertReferencesExist(edges, null, { _id: 'p1', author: 'u1' }, db));
    await t.rejects(
      assertReferencesExist(edges, null, { _id: 'p1', author: 'nobody' }, db),
      DanglingReferenceError,
    );
    await t.rejects(assertReferencesExist(edges, null, { _id: 'p1', author: 'nobody' }, db), {
      code: 'DANGLING_REFERENCE',
      targetCollection: 'users',
      path: 'author',
      missing: ['nobody'],
    });
    await t.rejects(assertReferencesExist(edges, null, { _id: 'p1', parent: 'p0' }, db), /"p0" at "parent"/);
  },
);

t.test('restrict blocks; setNull updates; cascade deletes recursively', async (t) => {
  const graph = graphOf({
    users: {},
    posts: { properties: { author: ref('users', 'cascade'), editor: nullableRef('users', 'setNull') } },
    comments: { properties: { post: ref('posts', 'cascade'), author: nullableRef('users', 'setNull') } },
    reports: { properties: { comment: ref('comments', 'restrict') } },
  });
  const docs = new Map<string, StoredDoc[]>([
    ['users', [{ _id: 'u1' }, { _id: 'u2' }]],
    [
      'posts',
      [
        { _id: 'p1', author: 'u1', editor: 'u2' },
        { _id: 'p2', author: 'u2', editor: 'u1' },
      ],
    ],
    [
      'comments',
      [
        { _id: 'c1', post: 'p1', author: 'u2' },
        { _id: 'c2', post: 'p2', author: 'u1' },
      ],
    ],
    ['reports', []],
  ]);
  const db = new MemoryDb(docs);
  const plan = await planDelete(graph, db, 'users', ['u1']);
  t.same(
    plan.deletes.map((d) => `${d.collection}/${d.id}`),
    ['comments/c1', 'posts/p1', 'users/u1'],
    'leaves first, the requested document last',
  );
  t.same(
    plan.updates.map((u) => [`${u.collection}/${u.id}`, u.after]),
    [
      ['posts/p2', { _id: 'p2', author: 'u2', editor: null }],
      ['comments/c2', { _id: 'c2', post: 'p2', author: null }],
    ],
  );
  t.same(
    plan.actions.map((a) => a.kind),
    ['setNull', 'setNull', 'delete', 'delete', 'delete'],
  );
  t.match(plan.deletes[0], { cause: { referenced: 'p1', edge: { from: 'comments', path: 'post' } } });
  t.equal(plan.deletes[2]?.cause, null);

  docs.set('reports', [{ _id: 'r1', comment: 'c1' }]);
  await t.rejects(planDelete(graph, db, 'users', ['u1']), ReferenceRestrictedError);
  await t.rejects(planDelete(graph, db, 'users', ['u1']), {
    code: 'REFERENCE_RESTRICTED',
    collection: 'comments',
    id: 'c1',
    referencingCollection: 'reports',
    referencingId: 'r1',
    path: 'comment',
  });
  // Deleting u2 instead never reaches c1: allowed.
  const p2 = await planDelete(graph, db, 'users', ['u2']);
  t.same(p2.deletes.map((d) => `${d.collection}/${d.id}`).sort(), ['comments/c2', 'posts/p2', 'users/u2']);
});

t.test('a restrict reference from a document the plan deletes anyway does not block', async (t) => {
  const graph = graphOf({
    nodes: { properties: { self: ref('nodes', 'restrict'), parent: ref('nodes', 'cascade') } },
  });
  const db = new MemoryDb(
    new Map([
      [
        'nodes',
        [
          { _id: 1, self: 1 },
          { _id: 2, parent: 1, self: 1 },
          { _id: 3, self: 2 },
        ],
      ],
    ]),
  );
  // Node 3 survives and points at 2.
  await t.rejects(planDelete(graph, db, 'nodes', [1]), {
    code: 'REFERENCE_RESTRICTED',
    referencingId: 3,
    id: 2,
  });
  db.docs.set('nodes', [
    { _id: 1, self: 1 },
    { _id: 2, parent: 1, self: 1 },
  ]);
  const plan = await planDelete(graph, db, 'nodes', [1]);
  t.same(
    plan.deletes.map((d) => d.id),
    [2, 1],
  );
});

t.test('cycles: each document is deleted once', async (t) => {
  const graph = graphOf({
    a: { properties: { b: ref('b', 'cascade') } },
    b: { properties: { a: ref('a', 'cascade') } },
    tree: { properties: { parent: ref('tree', 'cascade') } },
  });
  const db = new MemoryDb(
    new Map<string, StoredDoc[]>([
      [
        'a',
        [
          { _id: 1, b: 1 },
          { _id: 2, b: 2 },
        ],
      ],
      [
        'b',
        [
          { _id: 1, a: 1 },
          { _id: 2, a: 1 },
        ],
      ],
      [
        'tree',
        [
          { _id: 'root', parent: 'root' },
          { _id: 'x', parent: 'root' },
          { _id: 'y', parent: 'x' },
          { _id: 'z', parent: 'y' },
        ],
      ],
    ]),
  );
  const plan = await planDelete(graph, db, 'a', [1, 1]);
  t.same(plan.deletes.map((d) => `${d.collection}/${d.id}`).sort(), ['a/1', 'a/2', 'b/1', 'b/2']);
  const tree = await planDelete(graph, db, 'tree', ['root']);
  t.same(
    tree.deletes.map((d) => d.id),
    ['z', 'y', 'x', 'root'],
  );
});

t.test('a doc referencing several deleted docs gets one merged setNull update', async (t) => {
  const graph = graphOf({
    tags: {},
    users: {},
    posts: {
      properties: {
        owner: nullableRef('users', 'setNull'),
        tags: { type: 'array', items: { type: ['string', 'null'], ...ref('tags', 'setNull') } },
      },
    },
  });
  const db = new MemoryDb(new Map([['posts', [{ _id: 'p', owner: 'u', tags: ['t1', 't2', 't1'] }]]]));
  const plan = await planDelete(graph, db, 'tags', ['t1', 't2']);
  t.equal(plan.updates.length, 1);
  t.same(plan.updates[0]?.after, { _id: 'p', owner: 'u', tags: [null, null, null] });
  t.same(plan.updates[0]?.before, { _id: 'p', owner: 'u', tags: ['t1', 't2', 't1'] });
});

t.test('ids are typed: deleting 1 does not touch references to "1"', async (t) => {
  const graph = graphOf({ n: {}, r: { properties: { to: ref('n', 'cascade') } } });
  const db = new MemoryDb(
    new Map<string, StoredDoc[]>([
      [
        'r',
        [
          { _id: 'a', to: 1 },
          { _id: 'b', to: '1' },
        ],
      ],
    ]),
  );
  const plan = await planDelete(graph, db, 'n', [1]);
  t.same(
    plan.deletes.map((d) => `${d.collection}/${d.id}`),
    ['r/a', 'n/1'],
  );
});

t.test('limits: plan size and finder batch size', async (t) => {
  const graph = graphOf({ tree: { properties: { parent: ref('tree', 'cascade') } } });
  const chain: StoredDoc[] = [{ _id: 0 }];
  for (let i = 1; i < 50; i++) chain.push({ _id: i, parent: i - 1 });
  const db = new MemoryDb(new Map([['tree', chain]]));
  await t.rejects(planDelete(graph, db, 'tree', [0], { maxDocuments: 10 }), DeletePlanTooLargeError);
  const wide: StoredDoc[] = [];
  for (let i = 0; i < 25; i++) wide.push({ _id: i });
  for (let i = 0; i < 25; i++) wide.push({ _id: 100 + i, parent: i });
  const db2 = new MemoryDb(new Map([['tree', wide]]));
  const plan = await planDelete(
    graph,
    db2,
    'tree',
    wide.slice(0, 25).map((d) => d._id),
    { batchSize: 7 },
  );
  t.equal(plan.deletes.length, 50);
  t.ok(db2.calls.every((c) => c.ids.length <= 7));
});

// ---- property tests -------------------------------------------------------------------------

const worldArb = (onDeletes: OnDelete[]) =>
  fc
    .record({
      nColl: fc.integer({ min: 1, max: 4 }),
      edges: fc.array(
        fc.record({
          from: fc.nat(3),
          to: fc.nat(3),
          onDelete: fc.constantFrom(...onDeletes),
          array: fc.boolean(),
        }),
        { maxLength: 6 },
      ),
      docCounts: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 4, maxLength: 4 }),
      seed: fc.array(fc.array(fc.array(fc.nat(11), { maxLength: 3 }), { minLength: 6, maxLength: 6 }), {
        minLength: 48,
        maxLength: 48,
      }),
      roots: fc.array(fc.nat(11), { maxLength: 4 }),
    })
    .map(({ nColl, edges, docCounts, seed, roots }) => ({ nColl, edges, docCounts, seed, roots }));

function buildWorld(w: {
  nColl: number;
  edges: { from: number; to: number; onDelete: OnDelete; array: boolean }[];
  docCounts: number[];
  seed: number[][][];
  roots: number[];
}) {
  const names = ['a', 'b', 'c', 'd'].slice(0, w.nColl);
  const edges = w.edges.map((e) => ({ ...e, from: e.from % w.nColl, to: e.to % w.nColl }));
  const schemas: { [c: string]: { properties: { [f: string]: object } } } = {};
  for (const n of names) schemas[n] = { properties: {} };
  edges.forEach((e, i) => {
    const r = { type: ['number', 'null'], 'x-bundoc-ref': { collection: names[e.to], onDelete: e.onDelete } };
    schemas[names[e.from]!]!.properties[`r${i}`] = e.array ? { type: 'array', items: r } : r;
  });
  const docs = new Map<string, StoredDoc[]>();
  let s = 0;
  names.forEach((n, ci) => {
    const list: StoredDoc[] = [];
    for (let i = 0; i < w.docCounts[ci]!; i++) {
      const doc: { [k: string]: unknown } = { _id: i };
      const refs = w.seed[s++ % w.seed.length]!;
      edges.forEach((e, ei) => {
        if (e.from !== ci) return;
        const targets = refs[ei]!.filter((x) => x < w.docCounts[e.to]!);
        if (e.array) doc[`r${ei}`] = targets;
        else if (targets.length > 0) doc[`r${ei}`] = targets[0];
      });
      list.push(doc as StoredDoc);
    }
    docs.set(n, list);
  });
  const roots = [...new Set(w.roots.filter((r) => r < w.docCounts[0]!))];
  return { names, edges, schemas, docs, roots };
}

/** The expected result, computed the slow obvious way: a fixpoint over all documents. */
function expectedClosure(world: ReturnType<typeof buildWorld>, graph: ReferenceGraph): Set<string> {
  const deleted = new Set(world.roots.map((r) => `a/${r}`));
  for (let changed = true; changed; ) {
    changed = false;
    for (const [coll, docs] of world.docs) {
      for (const edge of graph.outgoing(coll)) {
        if (edge.onDelete !== 'cascade') continue;
        for (const d of docs) {
          const key = `${coll}/${d._id}`;
          if (deleted.has(key)) continue;
          if (referencedIds(edge, d).some((id) => deleted.has(`${edge.target}/${id}`))) {
            deleted.add(key);
            changed = true;
          }
        }
      }
    }
  }
  return deleted;
}

const runs = process.env.BUNBASE_STRESS ? 2000 : 150;

t.test('property: a cascade plan deletes exactly the transitive closure, each document once', async () => {
  await fc.assert(
    fc.asyncProperty(worldArb(['cascade']), async (w) => {
      const world = buildWorld(w);
      const graph = graphOf(world.schemas);
      const plan: DeletePlan = await planDelete(graph, new MemoryDb(world.docs), 'a', world.roots);
      const keys = plan.deletes.map((d) => `${d.collection}/${d.id}`);
      if (new Set(keys).size !== keys.length) throw new Error(`deleted twice: ${keys}`);
      const want = expectedClosure(world, graph);
      if (keys.length !== want.size || !keys.every((k) => want.has(k))) {
        throw new Error(`got ${[...keys].sort()} want ${[...want].sort()}`);
      }
      // Order: a document deleted because it references X comes before X.
      const pos = new Map(keys.map((k, i) => [k, i]));
      for (const d of plan.deletes) {
        if (!d.cause) continue;
        const causeAt = pos.get(`${d.cause.edge.target}/${d.cause.referenced}`)!;
        if (!(causeAt > pos.get(`${d.collection}/${d.id}`)!))
          throw new Error('a cascade came after its cause');
      }
      if (plan.updates.length !== 0) throw new Error('no setNull edges, yet updates');
    }),
    { numRuns: runs },
  );
});

t.test('property: restrict and setNull apply exactly to the surviving referrers', async () => {
  await fc.assert(
    fc.asyncProperty(worldArb(['cascade', 'restrict', 'setNull']), async (w) => {
      const world = buildWorld(w);
      const graph = graphOf(world.schemas);
      const closure = expectedClosure(world, graph);
      const refersToDeleted = (kind: OnDelete) => {
        const out = new Set<string>();
        for (const [coll, docs] of world.docs) {
          for (const edge of graph.outgoing(coll)) {
            if (edge.onDelete !== kind) continue;
            for (const d of docs) {
              const key = `${coll}/${d._id}`;
              if (closure.has(key)) continue;
              if (referencedIds(edge, d).some((id) => closure.has(`${edge.target}/${id}`))) out.add(key);
            }
          }
        }
        return out;
      };
      const blocked = refersToDeleted('restrict');
      let plan: DeletePlan;
      try {
        plan = await planDelete(graph, new MemoryDb(world.docs), 'a', world.roots);
      } catch (e) {
        if (!(e instanceof ReferenceRestrictedError)) throw e;
        if (!blocked.has(`${e.referencingCollection}/${e.referencingId}`))
          throw new Error(`wrong block ${e.message}`);
        if (!closure.has(`${e.collection}/${e.id}`)) throw new Error('blocked on a document not deleted');
        return;
      }
      if (blocked.size > 0) throw new Error(`should have been restricted by ${[...blocked]}`);
      const updated = plan.updates.map((u) => `${u.collection}/${u.id}`);
      const wantUpdated = refersToDeleted('setNull');
      if (updated.length !== wantUpdated.size || !updated.every((k) => wantUpdated.has(k))) {
        throw new Error(`updates ${updated} want ${[...wantUpdated]}`);
      }
      // Applying the plan leaves no reference to a missing document (all references were valid before).
      const after = new Map<string, Map<string, StoredDoc>>();
      for (const [c, docs] of world.docs) after.set(c, new Map(docs.map((d) => [idKey(d._id), d])));
      for (const a of plan.actions) {
        if (a.kind === 'delete') after.get(a.collection)!.delete(idKey(a.id));
        else after.get(a.collection)!.set(idKey(a.id), a.after);
      }
      for (const [c, docs] of after) {
        for (const edge of graph.outgoing(c)) {
          for (const d of docs.values()) {
            for (const id of referencedIds(edge, d)) {
              if (!after.get(edge.target)!.has(idKey(id)))
                throw new Error(`${c}/${d._id} dangles to ${edge.target}/${id}`);
            }
          }
        }
      }
      for (const u of plan.updates) {
        for (const edge of graph.outgoing(u.collection)) {
          const still = referencedIds(edge, u.after).filter((id) => closure.has(`${edge.target}/${id}`));
          if (edge.onDelete === 'setNull' && still.length > 0)
            throw new Error('a setNull reference survived');
          if (
            edge.onDelete !== 'setNull' &&
            JSON.stringify(referencedIds(edge, u.after)) !== JSON.stringify(referencedIds(edge, u.before))
          ) {
            throw new Error('a non-setNull reference changed');
          }
        }
      }
    }),
    { numRuns: runs },
  );
});
