/**
 * The static rule checker against @bufbuild/cel's evaluator, on random expressions whose operand types
 * are all known (no document data): what the checker accepts must evaluate without a type error to a
 * value of the type it inferred, and what it rejects as having no overload must fail at evaluation.
 */
import { celEnv, isCelError, isCelList, isCelMap, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import fc from 'fast-check';
import t from 'tap';
import {
  CelCheckError,
  checkExpr,
  containsDyn,
  DYN,
  mapOf,
  rec,
  TIMESTAMP_T,
  type Ty,
} from '../src/security/cel-check.js';
import { celTimestamp } from '../src/security/cel-values.js';

const env = celEnv({ funcs: strings });
const STR: Ty = { k: 'prim', n: 'string' };
const vars: { [k: string]: Ty } = {
  request: rec('request', {
    auth: rec('request.auth', { uid: STR, claims: mapOf(STR, DYN) }),
    time: TIMESTAMP_T,
    method: STR,
  }),
};
const bindings = {
  request: new Map<string, unknown>([
    [
      'auth',
      new Map<string, unknown>([
        ['uid', 'u1'],
        ['claims', new Map()],
      ]),
    ],
    ['time', celTimestamp(new Date('2026-01-01T00:00:00Z'))],
    ['method', 'read'],
  ]),
};

const leaf = fc.constantFrom(
  '0',
  '2',
  '-3',
  '7u',
  '1.5',
  '0.0',
  "'ab'",
  "''",
  'true',
  'false',
  'null',
  'request.time',
  "duration('90s')",
  'request.auth.uid',
  'request.method',
  "b'xy'",
);

const exprArb: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc
      .tuple(
        tie('e'),
        fc.constantFrom('+', '-', '*', '/', '%', '<', '<=', '>', '>=', '==', '!=', '&&', '||', 'in'),
        tie('e'),
      )
      .map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('e').map((a) => `(!${a})`),
    tie('e').map((a) => `(-${a})`),
    fc.tuple(tie('e'), tie('e'), tie('e')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => `[${a}, ${b}]`),
    tie('e').map((a) => `[${a}]`),
    fc
      .tuple(
        fc.constantFrom('size', 'int', 'double', 'string', 'uint', 'type', 'timestamp', 'bool'),
        tie('e'),
      )
      .map(([f, a]) => `${f}(${a})`),
    fc
      .tuple(tie('e'), fc.constantFrom('startsWith', 'endsWith', 'contains', 'indexOf'), tie('e'))
      .map(([a, m, b]) => `${a}.${m}(${b})`),
    fc.tuple(tie('e'), fc.constantFrom('size', 'lowerAscii', 'getFullYear')).map(([a, m]) => `${a}.${m}()`),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => `${a}[${b}]`),
    tie('e').map((a) => `{'k': ${a}}`),
    tie('e').map((a) => `[1, 2].exists(x, ${a})`),
    tie('e').map((a) => `[${a}].map(x, x)`),
  ),
})).e;

function runtimeMatches(ty: Ty, v: unknown): boolean {
  switch (ty.k) {
    case 'dyn':
      return true;
    case 'list':
      return isCelList(v);
    case 'map':
    case 'rec':
      return isCelMap(v);
    case 'prim':
      switch (ty.n) {
        case 'bool':
          return typeof v === 'boolean';
        case 'int':
          return typeof v === 'bigint';
        case 'double':
          return typeof v === 'number';
        case 'string':
          return typeof v === 'string';
        case 'bytes':
          return v instanceof Uint8Array;
        case 'null_type':
          return v === null;
        default:
          return typeof v === 'object' && v !== null;
      }
  }
}

const TYPE_ERROR = /overload|unbound function|no such|unsupported/i;

t.test('checker and evaluator agree on random expressions over known types', async (t) => {
  let accepted = 0;
  let static_ = 0;
  let rejected = 0;
  await fc.assert(
    fc.property(exprArb, (src) => {
      let parsed: ReturnType<typeof parse>;
      try {
        parsed = parse(src);
      } catch {
        return; // e.g. a literal the grammar glued into something unparsable
      }
      const positions: { [id: string]: number } = {};
      for (const [id, off] of Object.entries(parsed.sourceInfo?.positions ?? {})) positions[id] = off;
      let ty: Ty | undefined;
      let why = '';
      let dynamic = false;
      try {
        ty = checkExpr(parsed.expr, vars, env, positions, (x) => {
          // request.auth.claims is a map of dyn but none of these expressions reach into it.
          if (containsDyn(x) && x.k !== 'rec') dynamic = true;
        });
      } catch (e) {
        if (!(e instanceof CelCheckError)) throw e;
        why = e.message;
      }
      const out = plan(env, parsed)(bindings as never);
      if (ty) {
        accepted++;
        if (dynamic) return; // only checked at run time, by design
        static_++;
        if (isCelError(out)) {
          // @bufbuild/cel reports a list index that is a non-integral double ([x][1.5]: a value error in
          // CEL, like an index out of range) as "unsupported input undefined".
          if (TYPE_ERROR.test(out.message) && out.message !== 'unsupported input undefined')
            throw new Error(`${src}: accepted as ${JSON.stringify(ty)} but ${out.message}`);
          return; // division by zero, overflow, bad index, bad conversion: value errors
        }
        if (!runtimeMatches(ty, out))
          throw new Error(`${src}: inferred ${JSON.stringify(ty)}, got ${String(out)}`);
        return;
      }
      rejected++;
      // Short-circuiting (?:, &&, ||, exists) may skip the ill-typed part at run time.
      if (/\?|&&|\|\||exists/.test(src)) return;
      // (Not "a list index must be a number": @bufbuild/cel 0.6 evaluates [0][false] to 0; CEL rejects it.)
      if (
        /no overload|cannot select|cannot index|cannot iterate|must be a bool|key of|field name of/.test(why)
      ) {
        if (!isCelError(out)) throw new Error(`${src}: rejected (${why}) but evaluates to ${String(out)}`);
      }
    }),
    { numRuns: process.env.BUNBASE_STRESS ? 20000 : 2000 },
  );
  t.ok(accepted > 100, `accepted ${accepted}`);
  t.ok(static_ > 100, `fully static ${static_}`);
  t.ok(rejected > 100, `rejected ${rejected}`);
});

t.test('comparisons the checker rejects as constant really are constant at run time', async (t) => {
  for (const [src, want] of [
    ["1 == 'a'", false],
    ["'a' != true", true],
    ['request.time == 0', false],
    ["b'a' != 'a'", true],
  ] as const) {
    const parsed = parse(src);
    t.throws(() => checkExpr(parsed.expr, vars, env, {}), new RegExp(`always ${want}`));
    t.equal(plan(env, parsed)(bindings as never), want, src);
  }
});
