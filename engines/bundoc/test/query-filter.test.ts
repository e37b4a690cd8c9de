import t from 'tap';
import { compileFilter, InvalidFilterError } from '../src/query/index.js';

const matches = (filter: Record<string, unknown>, doc: Record<string, unknown>) => compileFilter(filter)(doc);

t.test('dot paths, arrays and missing vs null', async (t) => {
  t.ok(matches({ 'a.b': 1 }, { a: { b: 1 } }));
  t.ok(matches({ 'a.b': 1 }, { a: [{ b: 2 }, { b: 1 }] }), 'traverses arrays of objects');
  t.ok(matches({ 'a.1': 5 }, { a: [4, 5] }), 'numeric component indexes arrays');
  t.ok(matches({ 'a.0.b': 5 }, { a: [{ b: 5 }] }));
  t.ok(matches({ 'a.0': 5 }, { a: [{ 0: 5 }] }), 'numeric component also names fields of elements');
  t.notOk(matches({ 'a.b': 1 }, { a: [[{ b: 1 }]] }), 'nested arrays are not traversed');
  t.ok(matches({ a: 2 }, { a: [1, 2] }), 'array element matching');
  t.ok(matches({ a: [1, 2] }, { a: [1, 2] }), 'whole array equality');
  t.ok(matches({ a: [1, 2] }, { a: [[1, 2], 3] }), 'nested array equals an element');
  t.notOk(matches({ a: [2, 1] }, { a: [1, 2] }));
  t.ok(matches({ a: null }, {}), 'null matches missing');
  t.ok(matches({ a: null }, { a: null }));
  t.notOk(matches({ a: null }, { a: [] }));
  t.ok(matches({ 'a.b': null }, { a: [{ c: 1 }] }), 'object element without the field counts as missing');
  t.notOk(matches({ 'a.b': null }, { a: [] }), 'empty array reaches nothing');
  t.notOk(matches({ 'a.b': null }, { a: [1] }), 'scalars in arrays reach nothing');
  t.ok(matches({ 'a.b': null }, { a: 5 }), 'a scalar in the way is missing');
  t.ok(matches({ a: { $ne: null } }, { a: 0 }));
  t.notOk(matches({ a: { $ne: 1 } }, { a: [1, 2] }), '$ne is "no element equals"');
  t.ok(matches({ a: { $exists: false } }, {}));
  t.ok(matches({ 'a.b': { $exists: true } }, { a: [{ c: 1 }, { b: 2 }] }));
  t.notOk(matches({ a: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } }), 'object equality is field-order sensitive');
  t.ok(matches({ a: { x: 1, y: 2 } }, { a: { x: 1, y: 2 } }));
});

t.test('comparisons stay within a type bracket', async (t) => {
  t.notOk(matches({ a: { $gt: 1 } }, { a: 'x' }));
  t.notOk(matches({ a: { $lt: 'a' } }, { a: 5 }));
  t.ok(matches({ a: { $gt: 1 } }, { a: [0, 3] }));
  t.ok(matches({ a: { $gt: 1, $lt: 3 } }, { a: [0, 5] }), 'different elements may satisfy each bound');
  t.ok(matches({ a: { $elemMatch: { $gt: 1, $lt: 3 } } }, { a: [0, 2] }));
  t.notOk(matches({ a: { $elemMatch: { $gt: 1, $lt: 3 } } }, { a: [0, 5] }));
  t.ok(matches({ a: { $gte: null } }, {}), 'D6: $gte null matches missing');
  t.ok(matches({ a: { $lte: null } }, { a: null }));
  t.notOk(matches({ a: { $gt: null } }, { a: null }));
  t.ok(matches({ a: { $gt: [1] } }, { a: [2] }), 'arrays compare as whole arrays');
  t.ok(matches({ a: { $gt: { x: 1 } } }, { a: { x: 2 } }));
  t.ok(matches({ a: { $gte: new Date(5) } }, { a: new Date(6) }));
  t.notOk(matches({ a: { $gte: new Date(5) } }, { a: 6 }));
  t.ok(matches({ s: { $gt: '\uffff' } }, { s: '\u{10000}' }), 'strings by code point');
});

t.test('element, evaluation and array operators', async (t) => {
  t.ok(matches({ a: { $in: [1, 'x'] } }, { a: 'x' }));
  t.ok(matches({ a: { $in: [null] } }, {}));
  t.ok(matches({ a: { $in: [/^b/] } }, { a: 'bob' }));
  t.ok(matches({ a: { $nin: [1] } }, {}));
  t.notOk(matches({ a: { $nin: [1] } }, { a: [1, 2] }));
  t.ok(matches({ a: { $type: 'string' } }, { a: [1, 'x'] }), 'D2: $type looks at elements');
  t.ok(matches({ a: { $type: 'array' } }, { a: [] }));
  t.ok(matches({ a: { $type: ['null', 'bool'] } }, { a: false }));
  t.ok(matches({ a: { $type: 16 } }, { a: 3 }));
  t.notOk(matches({ a: { $type: 'int' } }, { a: 3.5 }));
  t.ok(matches({ a: { $regex: 'B', $options: 'i' } }, { a: 'abc' }));
  t.ok(matches({ a: { $regex: 'a b # comment', $options: 'x' } }, { a: 'ab' }));
  t.ok(matches({ a: /^x/ }, { a: ['y', 'xz'] }));
  t.notOk(matches({ a: /1/ }, { a: 1 }), 'regex only matches strings');
  t.ok(matches({ a: { $size: 2 } }, { a: [1, [2, 3]] }));
  t.notOk(matches({ a: { $size: 1 } }, { a: 'x' }));
  t.ok(matches({ a: { $all: [1, 2] } }, { a: [2, 3, 1] }));
  t.notOk(matches({ a: { $all: [] } }, { a: [] }));
  t.ok(matches({ a: { $all: [1] } }, { a: 1 }), 'D4: $all on a scalar');
  t.ok(matches({ a: { $all: [[1, 2]] } }, { a: [1, 2] }));
  t.ok(
    matches(
      { a: { $all: [{ $elemMatch: { x: 1 } }, { $elemMatch: { y: 2 } }] } },
      { a: [{ x: 1 }, { y: 2 }] },
    ),
  );
  t.ok(
    matches(
      { a: { $elemMatch: { x: 1, y: { $gt: 1 } } } },
      {
        a: [
          { x: 1, y: 0 },
          { x: 1, y: 2 },
        ],
      },
    ),
  );
  t.notOk(
    matches(
      { a: { $elemMatch: { x: 1, y: { $gt: 1 } } } },
      {
        a: [
          { x: 1, y: 0 },
          { x: 2, y: 2 },
        ],
      },
    ),
  );
  t.notOk(matches({ a: { $elemMatch: { c: { $ne: 1 } } } }, { a: ['x'] }), 'D5: scalars are not documents');
  t.ok(matches({ a: { $mod: [3, 1] } }, { a: 4 }));
  t.ok(matches({ a: { $mod: [3, 1] } }, { a: 1.5 }), 'D1: value truncated');
  t.ok(matches({ a: { $mod: [3, -1] } }, { a: -4 }), 'truncated remainder keeps the sign');
  t.notOk(matches({ a: { $mod: [2, 1] } }, { a: true }), 'D1: only numbers');
  t.ok(matches({ a: { $not: { $gt: 5 } } }, {}), '$not matches missing');
  t.ok(matches({ a: { $not: /^x/ } }, { a: 'y' }));
  t.ok(matches({ $or: [{ a: 1 }, { b: 1 }] }, { b: 1 }));
  t.notOk(matches({ $nor: [{ a: 1 }, { b: 1 }] }, { b: 1 }));
  t.ok(matches({ $and: [{ a: 1 }, { b: 1 }] }, { a: 1, b: 1 }));
  t.ok(matches({}, { anything: 1 }));
});

t.test('invalid filters throw InvalidFilterError naming the problem', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ a: { $foo: 1 } }, /unknown operator \$foo/],
    [{ $where: 'x' }, /unknown top-level operator \$where/],
    [{ a: { $gt: 1, b: 2 } }, /cannot mix operators and field names/],
    [{ a: { $in: 1 } }, /\$in needs an array/],
    [{ a: { $nin: 'x' } }, /\$nin needs an array/],
    [{ a: { $size: -1 } }, /\$size needs a non-negative integer/],
    [{ a: { $size: 1.5 } }, /\$size/],
    [{ a: { $mod: [0, 1] } }, /divisor must not be 0/],
    [{ a: { $mod: [1] } }, /\$mod needs/],
    [{ a: { $regex: '(' } }, /invalid regular expression/],
    [{ a: { $regex: 'x', $options: 'q' } }, /unsupported \$options flag/],
    [{ a: { $options: 'i' } }, /\$options without \$regex/],
    [{ a: { $type: 'nope' } }, /unknown \$type/],
    [{ a: { $exists: 'yes' } }, /\$exists needs a boolean/],
    [{ a: { $not: {} } }, /\$not needs/],
    [{ a: { $elemMatch: 3 } }, /\$elemMatch needs an object/],
    [{ $and: [] }, /non-empty array/],
    [{ $or: {} }, /non-empty array/],
    [{ 'a..b': 1 }, /invalid field path/],
    [{ a: () => 1 }, /not a valid operand/],
    [{ a: undefined }, /not a valid operand/],
    [{ a: new Map() }, /Map is not a valid operand/],
    [[], /must be a plain object/],
    [{ a: { $all: [{ $gt: 1 }] } }, /\$all elements/],
  ];
  for (const [f, re] of bad) {
    t.throws(() => compileFilter(f), InvalidFilterError, JSON.stringify(f));
    try {
      compileFilter(f);
    } catch (e) {
      t.match((e as Error).message, re);
      t.equal((e as InvalidFilterError).code, 'INVALID_FILTER');
    }
  }
});

t.test('sort: MongoDB array rules and type order', async (t) => {
  const { sortDocuments } = await import('../src/query/index.js');
  const docs = [
    { _id: 1, a: [1, 5] },
    { _id: 2, a: 3 },
    { _id: 3 },
    { _id: 4, a: [] },
    { _id: 5, a: 'x' },
    { _id: 6, a: null },
  ];
  t.same(
    sortDocuments(docs, { a: 1 }).map((d) => d._id),
    [4, 3, 6, 1, 2, 5],
    'ascending: [] first, missing and null equal (input order), then by smallest element',
  );
  t.same(
    sortDocuments(docs, { a: -1 }).map((d) => d._id),
    [5, 1, 2, 3, 6, 4],
    'descending: by largest element, [] last',
  );
  t.same(
    sortDocuments(
      [
        { _id: 1, a: { x: 'b' } },
        { _id: 2, a: { x: 1 } },
      ],
      { a: 1 },
    ).map((d) => d._id),
    [2, 1],
    'objects compare by value type first',
  );
  t.same(
    sortDocuments(
      [
        { a: 1, b: 1 },
        { a: 1, b: 2 },
        { a: 0, b: 3 },
      ],
      { a: -1, b: -1 },
    ),
    [
      { a: 1, b: 2 },
      { a: 1, b: 1 },
      { a: 0, b: 3 },
    ],
  );
});

t.test('projection: inclusion, exclusion, _id, nested and arrays', async (t) => {
  const { compileProjection, InvalidProjectionError } = await import('../src/query/index.js');
  const doc = { x: 0, _id: 7, a: { b: 1, c: 2 }, d: [{ b: 1, c: 2 }, 3, [{ b: 4, c: 5 }]], e: 'e' };
  t.same(compileProjection({ 'a.b': 1, e: 1 })(doc), { _id: 7, a: { b: 1 }, e: 'e' });
  t.same(
    Object.keys(compileProjection({ e: 1, 'a.b': 1 })(doc)),
    ['_id', 'a', 'e'],
    'document order, _id first',
  );
  t.same(
    compileProjection({ 'd.b': 1, _id: 0 })(doc),
    { d: [{ b: 1 }, [{ b: 4 }]] },
    'scalars in arrays dropped',
  );
  t.same(compileProjection({ 'd.b': 0, a: 0, x: 0 })(doc), { _id: 7, d: [{ c: 2 }, 3, [{ c: 5 }]], e: 'e' });
  t.same(compileProjection({ _id: 0 })(doc), { x: 0, a: { b: 1, c: 2 }, d: doc.d, e: 'e' });
  t.same(compileProjection({ _id: 1 })(doc), { _id: 7 });
  t.same(compileProjection({ _id: 1, e: 0 })(doc), { x: 0, _id: 7, a: doc.a, d: doc.d }, 'D8');
  t.same(compileProjection({ 'a.z': 1 })(doc), { _id: 7, a: {} });
  t.same(
    compileProjection({ 'd.0': 1, _id: 0 })(doc),
    { d: [{}, [{}]] },
    'D9: numeric components are field names',
  );
  t.same(compileProjection({})(doc), doc);
  t.throws(() => compileProjection({ a: 1, e: 0 }), InvalidProjectionError);
  t.throws(() => compileProjection({ a: 1, 'a.b': 1 }), /collides/);
  t.throws(() => compileProjection({ 'a.b': 1, a: 1 }), /collides/);
  t.throws(() => compileProjection({ a: { $slice: 1 } }), /only 0\/1/);
  t.throws(() => compileProjection({ 'a.$': 1 }), /unsupported field path/);
});
