import t, { type Test } from 'tap';
import type { AuthInfo } from '../src/security/context.js';
import { InvalidRuleError, type RuleOp } from '../src/security/errors.js';
import { compileRule, compileRules, type RuleInput } from '../src/security/rules.js';

const NOW = new Date('2026-01-15T12:00:00Z');
const alice: AuthInfo = { uid: 'alice', claims: { role: 'editor', level: 3, groups: ['a', 'b'] } };
const bob: AuthInfo = { uid: 'bob' };

function input(p: Partial<RuleInput>): RuleInput {
  return { auth: null, time: NOW, stored: null, incoming: null, ...p };
}

function rejects(t: Test, rule: string, msg: RegExp, name = 'read'): void {
  try {
    compileRule(name, rule);
    t.fail(`expected ${JSON.stringify(rule)} to be rejected`);
  } catch (e) {
    t.ok(e instanceof InvalidRuleError, rule);
    t.equal((e as InvalidRuleError).rule, name);
    t.equal((e as InvalidRuleError).code, 'INVALID_RULE');
    t.match((e as Error).message, msg, rule);
  }
}

t.test('bad rules are rejected at compile time, naming the rule and the problem', async (t) => {
  rejects(t, 'request.auth.uid ==', /syntax error/);
  rejects(t, '(((true', /syntax error/);
  rejects(t, '', /empty/);
  rejects(t, 'x'.repeat(9000), /over the limit/);
  rejects(t, 'user.id == "a"', /unknown variable "user"/);
  rejects(t, 'request.user != null', /request has no field "user"/);
  rejects(t, 'request.auth.id == "a"', /request.auth has no field "id".*at 1:13/);
  rejects(t, 'true &&\n  resource.dat.x == 1', /resource has no field "dat" \(it has data\) \(at 2:11\)/);
  rejects(t, 'request["auth"].name == 1', /request.auth has no field "name"/);
  rejects(t, 'lower(request.auth.uid) == "a"', /unknown function "lower"/);
  rejects(t, 'request.auth.uid.lowerAscii(1) == "a"', /takes 0 argument/);
  rejects(t, 'request.auth.uid.startsWith(1)', /no overload of "startsWith" accepts string.\(int\)/);
  rejects(t, 'request.time > 5', /no overload of ">" accepts \(timestamp, int\)/);
  rejects(t, 'request.auth.uid + 1 == "a1"', /no overload of "\+"/);
  rejects(t, 'request.auth.uid == 1', /comparing string with int is always false/);
  rejects(t, 'request.auth.uid', /must evaluate to a bool, this one evaluates to string/);
  rejects(t, '1 + 2', /evaluates to int/);
  rejects(t, 'request.time.seconds == 1', /cannot select field "seconds" on a value of type timestamp/);
  rejects(t, 'request.auth.uid ? true : false', /condition of \?: must be a bool/);
  rejects(t, 'request.auth.uid && true', /operand of && must be a bool/);
  rejects(
    t,
    "(request.time > request.time ? 1 : 'one') == 1",
    /branches of \?: have different types \(int and string\)/,
  );
  rejects(t, 'resource.data.tags.all(i, v, v > 0)', /unknown function "all"/);
  rejects(t, 'google.protobuf.Duration{seconds: 1} == null', /building messages/);
  rejects(t, '[1, 2][?0] == 1', /syntax error|optional/);
  rejects(t, 'size(1) == 1', /no overload of "size"/);
  rejects(t, 'startsWith("a", "b")', /is a method/);
  t.throws(() => compileRule('read', 42), /must be a string/);
  let deep = 'true';
  for (let i = 0; i < 400; i++) deep = `(true && ${deep})`;
  rejects(t, `${deep} == true`, /nested/);
});

t.test('good rules compile, including macros, casts, strings extension and type names', async (t) => {
  for (const rule of [
    'true',
    'request.auth != null',
    'request.auth.uid == resource.data.owner',
    "'admin' in request.auth.claims && request.auth.claims.admin == true",
    'has(request.resource.data.title) && size(request.resource.data.title) <= 100',
    'request.resource.data.tags.all(t, t in ["a", "b"])',
    'resource.data.members.exists(m, m == request.auth.uid)',
    'request.time - resource.data.createdAt < duration("1h")',
    'timestamp(resource.data.iso) < request.time',
    'int(resource.data.count) + 1 == 3',
    'resource.data.price * 1.5 > 10.0',
    'type(resource.data.n) == double',
    'request.auth.uid.lowerAscii().startsWith("a")',
    'request.method in ["create", "update"]',
    '{"a": 1}["a"] == 1',
    'resource.data.items.map(i, i.qty).size() > 0 ? true : false',
    'request.resource.data.keys == null || request.auth.claims.groups.exists(g, g == "a")',
  ]) {
    t.doesNotThrow(() => compileRule('write', rule), rule);
  }
});

function decide(rules: Parameters<typeof compileRules>[0], op: RuleOp, p: Partial<RuleInput>) {
  return compileRules(rules).evaluate(op, input(p));
}

t.test('truth table: auth absent / present / claims, per op, resource vs request data', async (t) => {
  const rules = {
    read: 'request.auth != null && (resource.data.public == true || resource.data.owner == request.auth.uid)',
    list: 'resource.data.public == true',
    create: 'request.auth != null && request.resource.data.owner == request.auth.uid',
    update: 'request.auth.uid == resource.data.owner && request.resource.data.owner == resource.data.owner',
    delete: "request.auth.claims.role == 'editor'",
  };
  const mine = { _id: 1, owner: 'alice', public: false };
  const pub = { _id: 2, owner: 'bob', public: true };
  const cases: [RuleOp, Partial<RuleInput>, boolean][] = [
    ['read', { auth: null, stored: pub }, false],
    ['read', { auth: alice, stored: pub }, true],
    ['read', { auth: alice, stored: mine }, true],
    ['read', { auth: bob, stored: mine }, false],
    ['list', { auth: null, stored: pub }, true],
    ['list', { auth: null, stored: mine }, false],
    ['create', { auth: null, incoming: mine }, false],
    ['create', { auth: alice, incoming: mine }, true],
    ['create', { auth: bob, incoming: mine }, false],
    ['update', { auth: alice, stored: mine, incoming: { ...mine, public: true } }, true],
    ['update', { auth: alice, stored: mine, incoming: { ...mine, owner: 'bob' } }, false],
    ['update', { auth: bob, stored: mine, incoming: mine }, false],
    ['update', { auth: null, stored: mine, incoming: mine }, false], // error on null.uid: denied
    ['delete', { auth: alice, stored: mine }, true],
    ['delete', { auth: bob, stored: mine }, false], // bob has no claims: empty map, no "role" key -> error -> deny
    ['delete', { auth: null, stored: mine }, false],
  ];
  for (const [op, p, want] of cases) {
    const d = decide(rules, op, p);
    t.equal(d.allowed, want, `${op} auth=${p.auth?.uid ?? 'none'} -> ${want}`);
    t.equal(d.rule, op);
  }
});

t.test('fallbacks: write covers create/update/delete, list falls back to read, no rule denies', async (t) => {
  const w = { write: 'request.auth != null', read: 'true' };
  t.equal(decide(w, 'create', { auth: bob, incoming: {} }).rule, 'write');
  t.equal(decide(w, 'update', { auth: bob, stored: {}, incoming: {} }).allowed, true);
  t.equal(decide(w, 'delete', { auth: null, stored: {} }).allowed, false);
  t.same(decide(w, 'list', { stored: {} }), { allowed: true, rule: 'read' });
  const own = { create: 'false', write: 'true' };
  t.same(decide(own, 'create', { incoming: {} }), { allowed: false, rule: 'create' });
  t.same(decide(own, 'update', { stored: {}, incoming: {} }), { allowed: true, rule: 'write' });
  const none = decide({ read: 'true' }, 'delete', { stored: {} });
  t.equal(none.allowed, false);
  t.equal(none.rule, 'none');
  t.equal(decide({}, 'read', { stored: {} }).allowed, false);
  t.equal(decide({ list: 'false', read: 'true' }, 'list', { stored: {} }).allowed, false);
});

t.test('request.time, Dates as timestamps, numbers as doubles', async (t) => {
  const created = new Date(NOW.getTime() - 30 * 60_000);
  t.equal(
    decide({ read: 'resource.data.at < request.time' }, 'read', { stored: { at: created } }).allowed,
    true,
  );
  t.equal(
    decide({ read: 'request.time - resource.data.at < duration("1h")' }, 'read', { stored: { at: created } })
      .allowed,
    true,
  );
  t.equal(
    decide({ read: 'request.time - resource.data.at < duration("10m")' }, 'read', { stored: { at: created } })
      .allowed,
    false,
  );
  t.equal(
    decide({ read: 'request.time == timestamp("2026-01-15T12:00:00Z")' }, 'read', { stored: {} }).allowed,
    true,
  );
  t.equal(
    decide({ read: 'resource.data.at.getFullYear() == 2026' }, 'read', { stored: { at: created } }).allowed,
    true,
  );
  // Dates nested in arrays and objects convert too.
  t.equal(
    decide({ read: 'resource.data.log.all(e, e.at <= request.time)' }, 'read', {
      stored: { log: [{ at: created }, { at: NOW }] },
    }).allowed,
    true,
  );
  // Dates before 1970 and at the ends of CEL's range. Beyond year 9999 comparisons still work but
  // conversions and arithmetic error, and the rule denies.
  const early = {
    a: new Date(-1),
    b: new Date(0),
    first: new Date('0001-01-01T00:00:00Z'),
    far: new Date(8.64e15),
  };
  t.equal(decide({ read: 'resource.data.a < resource.data.b' }, 'read', { stored: early }).allowed, true);
  t.equal(
    decide({ read: 'resource.data.b - resource.data.a == duration("1ms")' }, 'read', { stored: early })
      .allowed,
    true,
  );
  // (Not getFullYear(): @bufbuild/cel 0.6 gets years below 100 wrong, as JavaScript's Date.UTC does.)
  t.equal(
    decide({ read: 'resource.data.first == timestamp("0001-01-01T00:00:00Z")' }, 'read', { stored: early })
      .allowed,
    true,
  );
  t.equal(decide({ read: 'resource.data.far > request.time' }, 'read', { stored: early }).allowed, true);
  t.equal(decide({ read: 'string(resource.data.far) != ""' }, 'read', { stored: early }).allowed, false);
  // Numbers are doubles: comparisons with int literals work, mixed arithmetic does not (denied).
  const n = { stored: { n: 3, f: 2.5 } };
  t.equal(decide({ read: 'resource.data.n == 3' }, 'read', n).allowed, true);
  t.equal(decide({ read: 'resource.data.n >= 3 && resource.data.f < 3' }, 'read', n).allowed, true);
  t.equal(decide({ read: 'type(resource.data.n) == double' }, 'read', n).allowed, true);
  t.equal(decide({ read: 'resource.data.n + 1.0 == 4.0' }, 'read', n).allowed, true);
  t.equal(decide({ read: 'int(resource.data.n) + 1 == 4' }, 'read', n).allowed, true);
  const mixed = decide({ read: 'resource.data.n + 1 == 4' }, 'read', n);
  t.equal(mixed.allowed, false);
  t.match(mixed, { reason: /evaluation error: .*no matching overload/ });
  t.equal(
    decide({ read: 'request.auth.claims.level == 3' }, 'read', { auth: alice, stored: {} }).allowed,
    true,
  );
  t.equal(
    decide({ read: '"b" in request.auth.claims.groups' }, 'read', { auth: alice, stored: {} }).allowed,
    true,
  );
});

t.test('fail closed: evaluation errors and non-bool results deny, with a reason', async (t) => {
  const missing = decide({ read: 'resource.data.nope == 1' }, 'read', { stored: { a: 1 } });
  t.equal(missing.allowed, false);
  t.match(missing, { reason: /evaluation error/ });
  t.equal(
    decide({ read: '1 / (resource.data.z - resource.data.z) == 1.0' }, 'read', { stored: { z: 0 } }).allowed,
    false,
  );
  t.equal(decide({ read: 'resource.data.x' }, 'read', { stored: { x: 'yes' } }).allowed, false);
  t.match(decide({ read: 'resource.data.x' }, 'read', { stored: { x: 'yes' } }), {
    reason: /not evaluate to a bool/,
  });
  t.equal(decide({ read: 'resource.data.x' }, 'read', { stored: { x: true } }).allowed, true);
  // request.resource is null on read, resource is null on create.
  t.equal(decide({ read: 'request.resource.data.a == 1' }, 'read', { stored: { a: 1 } }).allowed, false);
  t.equal(decide({ create: 'resource.data.a == 1' }, 'create', { incoming: { a: 1 } }).allowed, false);
  t.equal(decide({ create: 'resource == null' }, 'create', { incoming: { a: 1 } }).allowed, true);
  t.equal(decide({ write: 'has(resource.data)' }, 'create', { incoming: {} }).allowed, false);
  // An || with a true side still allows (CEL's commutative error handling).
  t.equal(decide({ read: 'resource.data.nope == 1 || true' }, 'read', { stored: {} }).allowed, true);
  t.equal(decide({ read: 'resource.data.nope == 1 && false' }, 'read', { stored: {} }).allowed, false);
});

t.test('macros and functions listed in SECURITY.md evaluate', async (t) => {
  const stored = { tags: ['a', 'b'], email: 'ada@example.org', name: '  Ada ' };
  for (const rule of [
    'resource.data.tags.all(t, t in ["a", "b"])',
    'resource.data.tags.exists(t, t == "b")',
    'resource.data.tags.exists_one(t, t == "a")',
    'resource.data.tags.filter(t, t != "a").size() == 1',
    'resource.data.tags.map(t, t + "!")[0] == "a!"',
    'resource.data.email.matches("^[a-z]+@")',
    'resource.data.email.endsWith(".org") && resource.data.email.contains("@")',
    'resource.data.name.trim().lowerAscii() == "ada"',
    'resource.data.email.split("@")[1] == "example.org"',
    'resource.data.email.substring(0, 3).upperAscii() == "ADA"',
    'resource.data.tags.join(",") == "a,b"',
    'size(resource.data.tags) == 2 && resource.data.tags.size() == 2',
    'string(size(resource.data.tags)) == "2"',
  ]) {
    t.equal(decide({ read: rule }, 'read', { stored }).allowed, true, rule);
  }
});

t.test('documents as CEL maps: size, in, keys, equality, nested and null-prototype objects', async (t) => {
  const inner = Object.assign(Object.create(null), { x: 1, at: new Date(0) });
  const stored = { a: 1, o: { k: 'v', n: [1, { d: new Date(0) }] }, inner };
  for (const rule of [
    'size(resource.data) == 3',
    '"a" in resource.data && !("b" in resource.data)',
    'resource.data.exists(k, k == "o") && resource.data.all(k, k in ["a", "o", "inner"])',
    'resource.data.o == {"k": "v", "n": [1, {"d": timestamp("1970-01-01T00:00:00Z")}]}',
    'resource.data.o != {"k": "v"}',
    'resource.data.o.n[1].d == timestamp("1970-01-01T00:00:00Z")',
    'resource.data.inner.x == 1 && resource.data.inner.at < request.time',
    'has(resource.data.o.k) && !has(resource.data.o.missing)',
    'resource.data["o"]["k"] == "v"',
    'resource.data.o.map(k, k).size() == 2',
  ]) {
    t.equal(decide({ read: rule }, 'read', { stored }).allowed, true, rule);
  }
});

t.test('request.method names the operation', async (t) => {
  const rules = { write: 'request.method == "update"' };
  t.equal(decide(rules, 'update', { stored: {}, incoming: {} }).allowed, true);
  t.equal(decide(rules, 'create', { incoming: {} }).allowed, false);
});

t.test('claims objects are converted once per auth object and reused', async (t) => {
  const rules = compileRules({ read: 'request.auth.claims.role == "editor"' });
  for (let i = 0; i < 3; i++)
    t.equal(rules.evaluate('read', input({ auth: alice, stored: {} })).allowed, true);
});
