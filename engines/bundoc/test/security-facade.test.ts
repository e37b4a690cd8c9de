import t from 'tap';
import { type AuditEvent, emitAudit } from '../src/security/audit.js';
import { CollectionSecurity, validateSecuritySpec } from '../src/security/collection-security.js';
import type { AuthContext } from '../src/security/context.js';
import {
  InvalidAuthContextError,
  InvalidRuleError,
  InvalidSchemaError,
  InvalidSecuritySpecError,
  PermissionDenied,
  SchemaValidationError,
} from '../src/security/errors.js';
import * as api from '../src/security/index.js';

const NOW = new Date('2026-03-01T00:00:00Z');
const alice: AuthContext = { auth: { uid: 'alice', claims: { role: 'editor' } } };
const bob: AuthContext = { auth: { uid: 'bob' } };
const anon: AuthContext = { auth: null };
const admin: AuthContext = { auth: { uid: 'ops' }, admin: true };

const spec = {
  schema: {
    type: 'object',
    required: ['owner', 'title'],
    properties: {
      _id: { type: 'string' },
      owner: { type: 'string' },
      title: { type: 'string', maxLength: 20 },
      at: { 'x-bundoc-type': 'date' },
      author: { type: ['string', 'null'], 'x-bundoc-ref': { collection: 'users', onDelete: 'setNull' } },
    },
  },
  rules: {
    read: 'request.auth != null',
    list: 'resource.data.owner == request.auth.uid',
    create: 'request.resource.data.owner == request.auth.uid',
    update: 'resource.data.owner == request.auth.uid',
    delete: "request.auth.claims.role == 'editor'",
  },
};

function secured(events: AuditEvent[] = [], extra: object = {}) {
  return CollectionSecurity.compile(
    'notes',
    { ...spec, ...extra },
    { audit: (e) => void events.push(e), now: () => NOW },
  );
}

t.test('the facade checks rules, then the schema; admin bypasses rules, not the schema', async (t) => {
  const events: AuditEvent[] = [];
  const s = secured(events);
  const doc = { _id: 'n1', owner: 'alice', title: 'hello' };
  t.doesNotThrow(() => s.checkCreate(doc, alice));
  t.throws(() => s.checkCreate(doc, bob), PermissionDenied);
  t.throws(() => s.checkCreate(doc, anon), {
    code: 'PERMISSION_DENIED',
    collection: 'notes',
    op: 'create',
    rule: 'create',
  });
  t.throws(() => s.checkCreate(doc), PermissionDenied, 'no context: anonymous');
  // Rules first: an unauthorised caller gets PermissionDenied even for an invalid document.
  t.throws(() => s.checkCreate({ owner: 'bob', title: 5 }, alice), PermissionDenied);
  t.throws(() => s.checkCreate({ owner: 'alice', title: 5 }, alice), SchemaValidationError);
  // Admin: rules skipped (and audited), schema still enforced.
  t.doesNotThrow(() => s.checkCreate({ owner: 'x', title: 't' }, admin));
  t.throws(() => s.checkCreate({ owner: 'x' }, admin), SchemaValidationError);

  t.doesNotThrow(() => s.checkUpdate(doc, { ...doc, title: 'new' }, alice));
  t.throws(() => s.checkUpdate(doc, { ...doc, title: 'new' }, bob), {
    code: 'PERMISSION_DENIED',
    op: 'update',
  });
  t.throws(() => s.checkUpdate(doc, { ...doc, title: 'x'.repeat(30) }, alice), SchemaValidationError);
  t.doesNotThrow(() => s.checkDelete(doc, alice));
  t.throws(() => s.checkDelete(doc, bob), { code: 'PERMISSION_DENIED', op: 'delete', rule: 'delete' });
  t.doesNotThrow(() => s.checkRead(doc, bob));
  t.throws(() => s.checkRead(doc, anon), { code: 'PERMISSION_DENIED', op: 'read' });
  t.equal(s.canRead(doc, anon), false);
  t.equal(s.canRead(doc, bob), true);
  t.equal(s.canList(alice, doc), true);
  t.equal(s.canList(bob, doc), false);
  t.equal(s.canList(admin, doc), true);

  const outcomes = events.map((e) => `${e.op}:${e.outcome}:${e.auth?.uid ?? '-'}`);
  t.same(outcomes, [
    'create:denied:bob',
    'create:denied:-',
    'create:denied:-',
    'create:denied:alice',
    'create:admin:ops',
    'create:admin:ops',
    'update:denied:bob',
    'delete:denied:bob',
    'read:denied:-',
  ]);
  t.match(events[0], {
    time: NOW,
    collection: 'notes',
    id: 'n1',
    admin: false,
    outcome: 'denied',
    reason: 'rule "create" evaluated to false',
  });
  t.equal(events[4]?.admin, true);
  t.notOk('id' in events[4]!, 'no _id, no id');
});

t.test('a collection without rules allows everything; without a schema accepts any document', async (t) => {
  const open = CollectionSecurity.compile('free', undefined);
  t.equal(open.hasRules, false);
  t.equal(open.hasSchema, false);
  t.doesNotThrow(() => open.checkCreate({ anything: [1, { x: new Date() }] }, anon));
  t.equal(open.canList(undefined, {}), true);
  t.same(open.references, []);
  t.same(open.spec, {});
  // Rules present but empty: every operation is denied (fail closed), admin still passes.
  const closed = CollectionSecurity.compile('locked', { rules: {} });
  t.throws(() => closed.checkRead({}, alice), { code: 'PERMISSION_DENIED', rule: 'none' });
  t.doesNotThrow(() => closed.checkRead({}, admin));
});

t.test('validationLevel: strict, moderate (skips updates of already-invalid documents), off', async (t) => {
  const schema = { type: 'object', properties: { n: { type: 'number' } } };
  const invalid = { n: 'x' };
  const valid = { n: 1 };
  const strict = CollectionSecurity.compile('c', { schema });
  t.equal(strict.validationLevel, 'strict');
  t.throws(() => strict.checkUpdate(invalid, { n: 'y' }), SchemaValidationError);
  const moderate = CollectionSecurity.compile('c', { schema, validationLevel: 'moderate' });
  t.doesNotThrow(() => moderate.checkUpdate(invalid, { n: 'y' }), 'was invalid: not validated');
  t.throws(() => moderate.checkUpdate(valid, { n: 'y' }), SchemaValidationError, 'was valid: validated');
  t.throws(() => moderate.checkCreate({ n: 'y' }), SchemaValidationError, 'inserts are always validated');
  t.doesNotThrow(() => moderate.checkUpdate(invalid, valid));
  const off = CollectionSecurity.compile('c', { schema, validationLevel: 'off' });
  t.doesNotThrow(() => off.checkCreate(invalid));
  t.doesNotThrow(() => off.checkUpdate(valid, invalid));
  t.doesNotThrow(() => off.validate(invalid));
  t.throws(() => strict.validate(invalid), SchemaValidationError);
  t.same(moderate.spec, { schema, validationLevel: 'moderate' });
  t.same(strict.spec, { schema }, 'the default level is not stored');
});

t.test('bad specs are rejected with typed errors naming the problem', async (t) => {
  t.throws(() => CollectionSecurity.compile('c', 'x'), InvalidSecuritySpecError);
  t.throws(() => CollectionSecurity.compile('c', { schemas: {} }), /unknown key "schemas"/);
  t.throws(
    () => CollectionSecurity.compile('c', { validationLevel: 'lax' }),
    /validationLevel must be one of/,
  );
  t.throws(() => CollectionSecurity.compile('c', { rules: 'true' }), /"rules" must be an object/);
  t.throws(() => CollectionSecurity.compile('c', { rules: { raed: 'true' } }), /unknown rule "raed"/);
  t.throws(
    () => CollectionSecurity.compile('c', { rules: { update: 'resource.data.x ==' } }),
    InvalidRuleError,
  );
  t.throws(() => CollectionSecurity.compile('c', { rules: { update: 'resource.data.x ==' } }), {
    rule: 'update',
    message: /invalid rule "update": syntax error/,
  });
  t.throws(() => CollectionSecurity.compile('c', { schema: { type: 'nope' } }), InvalidSchemaError);
  t.throws(() => validateSecuritySpec({ rules: { write: '1' } }), /must evaluate to a bool/);
  t.same(validateSecuritySpec(undefined), {});
  t.same(validateSecuritySpec({ rules: { read: 'true' } }), { rules: { read: 'true' } });
});

t.test('the normalized spec round-trips: compiling it again gives the same behaviour', async (t) => {
  const s = secured();
  const json = JSON.parse(JSON.stringify(s.spec));
  const again = CollectionSecurity.compile('notes', json);
  t.same(again.spec, s.spec);
  t.same(
    again.references.map((r) => [r.from, r.path, r.target, r.onDelete]),
    [['notes', 'author', 'users', 'setNull']],
  );
  const doc = { _id: 'n', owner: 'alice', title: 't', at: new Date() };
  t.equal(again.canList(alice, doc), s.canList(alice, doc));
  t.throws(() => again.checkCreate({ ...doc, at: 'x' }, alice), SchemaValidationError);
});

t.test('auth contexts are checked', async (t) => {
  const s = secured();
  const doc = { owner: 'alice', title: 't' };
  for (const bad of [
    null,
    'alice',
    { user: 'alice' },
    { auth: { id: 'alice' } },
    { auth: { uid: '' } },
    { auth: { uid: 7 } },
    { auth: { uid: 'a', claims: [] } },
    { auth: null, admin: 'yes' },
    { auth: undefined },
    { auth: { uid: 'a', claims: { f: () => 1 } } },
    { auth: { uid: 'a', claims: { n: Number.NaN } } },
    { auth: { uid: 'a', claims: { deep: { list: [1, { d: new Date(Number.NaN) }] } } } },
    { auth: { uid: 'a', claims: { m: new Map() } } },
    { auth: { uid: 'a', claims: { u: undefined } } },
  ]) {
    t.throws(() => s.checkRead(doc, bad as AuthContext), InvalidAuthContextError, JSON.stringify(bad));
    t.throws(() => s.canList(bad as AuthContext, doc), InvalidAuthContextError);
  }
});

t.test('claims with Dates and nesting are accepted; cyclic claims are rejected', async (t) => {
  const s = CollectionSecurity.compile(
    'c',
    { rules: { read: 'request.auth.claims.org.since < request.time' } },
    { now: () => NOW },
  );
  const ctx = { auth: { uid: 'a', claims: { org: { since: new Date(0), ids: [1, 'x', null] } } } };
  t.equal(s.canRead({}, ctx), true);
  t.equal(s.canRead({}, ctx), true, 'second use of the same context');
  const cyclic: { [k: string]: unknown } = {};
  cyclic.self = cyclic;
  t.throws(() => s.canRead({}, { auth: { uid: 'a', claims: cyclic } }), /nested deeper/);
});

t.test('a "__proto__" property in a schema is refused (ajv would silently skip it)', async (t) => {
  const schema = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string"}}}');
  t.throws(() => CollectionSecurity.compile('c', { schema }), InvalidSchemaError);
  t.throws(() => CollectionSecurity.compile('c', { schema: { required: ['__proto__'] } }), /__proto__/);
  // Elsewhere a "__proto__" key is copied as data, not used as a prototype.
  const other = CollectionSecurity.compile('c', { schema: JSON.parse('{"default":{"__proto__":1}}') });
  t.same(Object.keys(other.spec.schema?.default as object), ['__proto__']);
});

t.test('audit: a throwing or rejecting hook never breaks the operation', async (t) => {
  const errors: unknown[] = [];
  const throwing = CollectionSecurity.compile('c', spec, {
    audit: () => {
      throw new Error('hook down');
    },
    onAuditError: (e) => errors.push(e),
  });
  t.throws(() => throwing.checkRead({}, anon), PermissionDenied, 'still the real error');
  t.doesNotThrow(() => throwing.checkRead({}, admin));
  const rejecting = CollectionSecurity.compile('c', spec, {
    audit: async () => {
      throw new Error('async hook down');
    },
    onAuditError: (e) => errors.push(e),
  });
  t.doesNotThrow(() => rejecting.checkRead({}, admin));
  await new Promise((r) => setImmediate(r));
  t.same(
    errors.map((e) => (e as Error).message),
    ['hook down', 'hook down', 'async hook down'],
  );
  // A throwing error reporter is contained too.
  t.doesNotThrow(() =>
    emitAudit(
      () => {
        throw new Error('a');
      },
      { time: NOW, op: 'read', collection: 'c', auth: null, admin: false, outcome: 'denied' },
      () => {
        throw new Error('b');
      },
    ),
  );
  t.doesNotThrow(() =>
    emitAudit(undefined, {
      time: NOW,
      op: 'read',
      collection: 'c',
      auth: null,
      admin: true,
      outcome: 'admin',
    }),
  );
  // An explicit audit call, e.g. once per admin query.
  const seen: AuditEvent[] = [];
  const s = CollectionSecurity.compile('c', undefined, { audit: (e) => void seen.push(e), now: () => NOW });
  s.audit({ op: 'list', auth: null, admin: true, outcome: 'admin' });
  t.same(seen, [{ time: NOW, collection: 'c', op: 'list', auth: null, admin: true, outcome: 'admin' }]);
});

t.test('request.time comes from the clock option', async (t) => {
  const s = CollectionSecurity.compile(
    'c',
    { rules: { read: 'request.time > resource.data.opensAt' } },
    { now: () => NOW },
  );
  t.equal(s.canRead({ opensAt: new Date(NOW.getTime() - 1) }, anon), true);
  t.equal(s.canRead({ opensAt: new Date(NOW.getTime() + 1) }, anon), false);
});

t.test('the module index exports the public surface', async (t) => {
  for (const name of [
    'CollectionSecurity',
    'validateSecuritySpec',
    'planDelete',
    'ReferenceGraph',
    'assertReferencesExist',
    'referencesToCheck',
    'applySetNull',
    'emitAudit',
    'checkAuthContext',
    'PermissionDenied',
    'SchemaValidationError',
    'ReferenceRestrictedError',
    'DanglingReferenceError',
  ]) {
    t.ok(name in api, name);
  }
});
