import t from 'tap';
import { CompileCache } from '../src/security/compile-cache.js';
import { InvalidSchemaError, SchemaValidationError } from '../src/security/errors.js';
import { compileSchema, MAX_SCHEMA_ISSUES } from '../src/security/schema.js';
import { isDate, isDateTime } from '../src/security/schema-formats.js';

const userSchema = {
  type: 'object',
  required: ['name', 'age'],
  properties: {
    _id: { type: ['string', 'number'] },
    name: { type: 'string', minLength: 1 },
    age: { type: 'integer', minimum: 0 },
    email: { type: 'string', format: 'email' },
    address: {
      type: 'object',
      required: ['city'],
      properties: { city: { type: 'string' }, zip: { type: 'string', pattern: '^[0-9]{5}$' } },
      additionalProperties: false,
    },
    tags: { type: 'array', items: { type: 'string' }, uniqueItems: true },
    createdAt: { 'x-bundoc-type': 'date' },
  },
};

function issuesOf(fn: () => void): { path: string; keyword: string }[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof SchemaValidationError)
      return e.issues.map((i) => ({ path: i.path, keyword: i.keyword }));
    throw e;
  }
  throw new Error('expected a SchemaValidationError');
}

t.test('valid documents pass, nested and with Dates', async (t) => {
  const s = compileSchema('users', userSchema);
  t.equal(s.check({ name: 'Ada', age: 36 }), null);
  t.equal(
    s.check({
      _id: 'u1',
      name: 'Ada',
      age: 36,
      email: 'ada@example.org',
      address: { city: 'London', zip: '12345' },
      tags: ['a', 'b'],
      createdAt: new Date('2024-02-29T12:00:00Z'),
    }),
    null,
  );
  t.doesNotThrow(() => s.validate({ name: 'B', age: 0 }));
});

t.test('failures list every failing path (allErrors), nested paths in dot form', async (t) => {
  const s = compileSchema('users', userSchema);
  const issues = issuesOf(() =>
    s.validate({
      age: -1,
      email: 'not an email',
      address: { zip: '1', country: 'UK' },
      tags: ['a', 'a', 3],
      createdAt: '2024-01-01T00:00:00Z',
    }),
  );
  const paths = issues.map((i) => `${i.path}:${i.keyword}`).sort();
  t.same(
    paths,
    [
      'address.city:required',
      'address.country:additionalProperties',
      'address.zip:pattern',
      'age:minimum',
      'createdAt:x-bundoc-type',
      'email:format',
      'name:required',
      'tags.2:type',
      'tags:uniqueItems',
    ].sort(),
  );
  try {
    s.validate({ name: 1, age: 1 });
    t.fail('should throw');
  } catch (e) {
    t.ok(e instanceof SchemaValidationError);
    const err = e as SchemaValidationError;
    t.equal(err.code, 'SCHEMA_VALIDATION');
    t.equal(err.collection, 'users');
    t.match(err.message, /collection "users": name must be string/);
  }
});

t.test(
  'Dates: x-bundoc-type "date" accepts only valid Dates; a Date is neither an object nor a string',
  async (t) => {
    const s = compileSchema('events', {
      type: 'object',
      properties: {
        at: { 'x-bundoc-type': 'date' },
        meta: { type: 'object' },
        label: { type: 'string' },
        when: { type: 'string', format: 'date-time' },
        either: { anyOf: [{ 'x-bundoc-type': 'date' }, { type: 'null' }] },
      },
    });
    t.equal(s.check({ at: new Date(0) }), null);
    t.same(
      issuesOf(() => s.validate({ at: new Date(Number.NaN) })),
      [{ path: 'at', keyword: 'x-bundoc-type' }],
    );
    t.same(
      issuesOf(() => s.validate({ at: 0 })),
      [{ path: 'at', keyword: 'x-bundoc-type' }],
    );
    t.same(
      issuesOf(() => s.validate({ at: '2024-01-01T00:00:00Z' })),
      [{ path: 'at', keyword: 'x-bundoc-type' }],
    );
    // Without bundoc's extra check ajv would accept a Date as an empty object.
    t.same(
      issuesOf(() => s.validate({ meta: new Date() })),
      [{ path: 'meta', keyword: 'type' }],
    );
    t.equal(s.check({ meta: {} }), null);
    t.same(
      issuesOf(() => s.validate({ label: new Date() })),
      [{ path: 'label', keyword: 'type' }],
    );
    t.equal(s.check({ when: '2024-02-29T23:59:60.123+01:00' }), null);
    t.same(
      issuesOf(() => s.validate({ when: new Date() })),
      [{ path: 'when', keyword: 'type' }],
    );
    t.same(
      issuesOf(() => s.validate({ when: '2023-02-29T00:00:00Z' })),
      [{ path: 'when', keyword: 'format' }],
    );
    t.equal(s.check({ either: null }), null);
    t.equal(s.check({ either: new Date() }), null);
    t.ok(s.check({ either: 'x' }));
    // The root: a Date is not a document.
    t.ok(compileSchema('x', { type: 'object' }).check(new Date()));
  },
);

t.test('formats: date, date-time, uuid, email; unknown formats are rejected at set time', async (t) => {
  t.ok(isDate('2024-02-29'));
  t.notOk(isDate('2023-02-29'));
  t.notOk(isDate('2024-13-01'));
  t.ok(isDateTime('2024-01-01T00:00:00Z'));
  t.ok(isDateTime('2024-01-01t10:20:30.5-05:30'));
  t.notOk(isDateTime('2024-01-01T00:00:00'), 'offset is mandatory');
  t.notOk(isDateTime('2024-01-01T24:00:00Z'));
  t.notOk(isDateTime('2024-01-01T00:00:00+25:00'));
  const s = compileSchema('x', { properties: { u: { type: 'string', format: 'uuid' } } });
  t.equal(s.check({ u: '123e4567-e89b-12d3-a456-426614174000' }), null);
  t.ok(s.check({ u: '123e4567' }));
  t.throws(() => compileSchema('x', { type: 'string', format: 'hostname' }), InvalidSchemaError);
});

t.test('invalid schemas are rejected when set with InvalidSchemaError', async (t) => {
  const bad: [unknown, RegExp][] = [
    [null, /must be a JSON object/],
    [[], /must be a JSON object/],
    [true, /must be a JSON object/],
    [{ type: 'strin' }, /invalid schema/],
    [{ type: 'object', requried: ['a'] }, /unknown keyword: "requried"/],
    [{ properties: { a: { minimum: 'x' } } }, /invalid schema/],
    [{ $ref: 'http://elsewhere/schema.json' }, /can't resolve reference/],
    [{ $async: true, type: 'object' }, /\$async/],
    [{ 'x-bundoc-type': 'timestamp' }, /invalid schema/],
    [{ 'x-bundoc-object': true }, /reserved/],
    [{ properties: { a: { maximum: Number.POSITIVE_INFINITY } } }, /not a JSON number/],
    [{ properties: { a: { default: () => 1 } } }, /not a JSON value/],
    [{ properties: { a: { const: new Date() } } }, /not a plain JSON object/],
  ];
  for (const [schema, msg] of bad) {
    t.throws(() => compileSchema('c', schema), InvalidSchemaError, JSON.stringify(schema));
    try {
      compileSchema('c', schema);
    } catch (e) {
      t.match((e as Error).message, msg);
      t.equal((e as InvalidSchemaError).code, 'INVALID_SCHEMA');
    }
  }
  const cyclic: { [k: string]: unknown } = { type: 'object' };
  cyclic.properties = { self: cyclic };
  t.throws(() => compileSchema('c', cyclic), /nested deeper/);
  let deep: object = { type: 'object' };
  for (let i = 0; i < 200; i++) deep = { properties: { a: deep } };
  t.throws(() => compileSchema('c', deep), /nested deeper/);
  t.throws(() => compileSchema('c', { description: 'x'.repeat(1 << 20) }), /over the limit/);
});

t.test('local $defs/$ref work; the same $id in two collections does not clash', async (t) => {
  const a = compileSchema('a', {
    $id: 'https://example.org/s',
    $defs: { name: { type: 'string' } },
    properties: { n: { $ref: '#/$defs/name' } },
  });
  const b = compileSchema('b', { $id: 'https://example.org/s', properties: { n: { type: 'number' } } });
  t.equal(a.check({ n: 'x' }), null);
  t.ok(a.check({ n: 1 }));
  t.equal(b.check({ n: 1 }), null);
  t.ok(b.check({ n: 'x' }));
});

t.test('the source is a copy: mutating the given schema changes nothing', async (t) => {
  const schema = { type: 'object', properties: { a: { type: 'string' } } };
  const s = compileSchema('c', schema);
  schema.properties.a.type = 'number';
  t.equal(s.check({ a: 'x' }), null);
  t.same(s.source, { type: 'object', properties: { a: { type: 'string' } } });
  t.notOk('x-bundoc-object' in s.source, 'internal keywords do not leak into the stored schema');
});

t.test('issues are bounded', async (t) => {
  const s = compileSchema('c', { type: 'object', additionalProperties: { type: 'string' } });
  const doc: { [k: string]: number } = {};
  for (let i = 0; i < 100; i++) doc[`f${i}`] = i;
  const r = s.check(doc);
  t.equal(r?.issues.length, MAX_SCHEMA_ISSUES);
  t.equal(r?.truncated, true);
  t.throws(() => s.validate(doc), /; …$/);
});

t.test('compiled forms are cached by source text, bounded, least recently used evicted', async (t) => {
  const c = new CompileCache<number>(2);
  let builds = 0;
  const get = (k: string) => c.get(k, () => ++builds);
  t.equal(get('a'), 1);
  t.equal(get('b'), 2);
  t.equal(get('a'), 1, 'hit');
  t.equal(get('c'), 3, 'evicts b, the least recently used');
  t.equal(c.size, 2);
  t.equal(get('a'), 1, 'a survived');
  t.equal(get('b'), 4, 'b was rebuilt');
  t.throws(() =>
    c.get('bad', () => {
      throw new Error('no');
    }),
  );
  t.equal(get('bad'), 5, 'failures are not cached');
  // The same schema in two collections: one compile, each keeps its own collection name and references.
  const schema = { properties: { u: { 'x-bundoc-ref': { collection: 'users' } } } };
  const a = compileSchema('a', schema);
  const b = compileSchema('b', schema);
  t.equal(a.references[0]?.from, 'a');
  t.equal(b.references[0]?.from, 'b');
  t.throws(() => b.validate({ u: {} }), { code: 'SCHEMA_VALIDATION', collection: 'b' });
});
