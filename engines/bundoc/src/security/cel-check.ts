/**
 * A static type checker for rule expressions. @bufbuild/cel 0.6 parses and evaluates but its checker
 * covers only constants and identifiers, and an unknown function or a misspelt variable would otherwise
 * surface only at evaluation (and deny everything). This checker walks the parsed expression with the
 * known shape of `request` and `resource` (document data is `dyn`) and the overloads of the functions
 * in the environment, and rejects: unknown variables and functions, unknown fields of `request`,
 * `request.auth`, `request.resource` and `resource`, calls no overload accepts, comparisons of values of
 * different known types, unsupported syntax (optionals, message construction), and results that cannot
 * be a bool. Anything touching `dyn` is accepted and checked at evaluation.
 */
import type { CelEnv, CelType, parse } from '@bufbuild/cel';

/** The parsed expression tree (types derived from parse() so no direct dependency on cel-spec). */
export type Expr = ReturnType<typeof parse>['expr'];
type Constant = Extract<Expr['exprKind'], { case: 'constExpr' }>['value'];

type Prim =
  | 'bool'
  | 'int'
  | 'uint'
  | 'double'
  | 'string'
  | 'bytes'
  | 'null_type'
  | 'timestamp'
  | 'duration'
  | 'type';

export type Ty =
  | { readonly k: 'dyn' }
  | { readonly k: 'prim'; readonly n: Prim }
  | { readonly k: 'list'; readonly e: Ty }
  | { readonly k: 'map'; readonly key: Ty; readonly val: Ty }
  /** An object whose fields are known: the variables bundoc binds. */
  | { readonly k: 'rec'; readonly name: string; readonly fields: { readonly [f: string]: Ty } };

export const DYN: Ty = { k: 'dyn' };
const prim = (n: Prim): Ty => ({ k: 'prim', n });
export const BOOL = prim('bool');
const INT = prim('int');
const STRING = prim('string');
export const TIMESTAMP_T = prim('timestamp');
export const mapOf = (key: Ty, val: Ty): Ty => ({ k: 'map', key, val });
const listOf = (e: Ty): Ty => ({ k: 'list', e });
export const rec = (name: string, fields: { [f: string]: Ty }): Ty => ({ k: 'rec', name, fields });

/** Thrown by checkExpr; `offset` is the character position in the source when known. */
export class CelCheckError extends Error {
  readonly offset: number | undefined;
  constructor(message: string, offset: number | undefined) {
    super(message);
    this.offset = offset;
  }
}

export function typeName(t: Ty): string {
  switch (t.k) {
    case 'dyn':
      return 'dyn';
    case 'prim':
      return t.n;
    case 'list':
      return `list(${typeName(t.e)})`;
    case 'map':
      return `map(${typeName(t.key)}, ${typeName(t.val)})`;
    case 'rec':
      return t.name;
  }
}

function fromCelType(t: CelType): Ty {
  switch (t.kind) {
    case 'scalar':
      return t.scalar === 'dyn' ? DYN : prim(t.scalar);
    case 'list':
      return listOf(fromCelType(t.element));
    case 'map':
      return mapOf(fromCelType(t.key), fromCelType(t.value));
    case 'object':
      if (t.name === 'google.protobuf.Timestamp') return TIMESTAMP_T;
      if (t.name === 'google.protobuf.Duration') return prim('duration');
      return DYN;
  }
}

function same(a: Ty, b: Ty): boolean {
  if (a.k !== b.k) return false;
  switch (a.k) {
    case 'dyn':
      return true;
    case 'prim':
      return a.n === (b as typeof a).n;
    case 'list':
      return same(a.e, (b as typeof a).e);
    case 'map':
      return same(a.key, (b as typeof a).key) && same(a.val, (b as typeof a).val);
    case 'rec':
      return a.name === (b as typeof a).name;
  }
}

/** True when a value of type `t` may hold parts whose type is only known at run time. */
export function containsDyn(t: Ty): boolean {
  switch (t.k) {
    case 'dyn':
      return true;
    case 'list':
      return containsDyn(t.e);
    case 'map':
      return containsDyn(t.key) || containsDyn(t.val);
    case 'rec':
      return Object.values(t.fields).some(containsDyn);
    default:
      return false;
  }
}

function join(a: Ty, b: Ty): Ty {
  return same(a, b) ? a : DYN;
}

/** Can a value of type `arg` be passed where `param` is expected? `dyn` on either side always can. */
function assignable(arg: Ty, param: Ty): boolean {
  if (arg.k === 'dyn' || param.k === 'dyn') return true;
  switch (param.k) {
    case 'prim':
      return arg.k === 'prim' && arg.n === param.n;
    case 'list':
      return arg.k === 'list' && assignable(arg.e, param.e);
    case 'map':
      if (arg.k === 'rec') return assignable(STRING, param.key);
      return arg.k === 'map' && assignable(arg.key, param.key) && assignable(arg.val, param.val);
    case 'rec':
      return arg.k === 'rec' && arg.name === param.name;
  }
}

const NUMERIC = new Set<string>(['int', 'uint', 'double']);
/** The type-name identifiers CEL defines (`type(x) == int`). */
const TYPE_IDENTS = new Set([
  'bool',
  'int',
  'uint',
  'double',
  'string',
  'bytes',
  'list',
  'map',
  'null_type',
  'type',
  'dyn',
]);
const MAX_DEPTH = 200;
/** Calls the planner handles itself rather than through the function table. */
const SPECIAL = new Set([
  '_&&_',
  '_||_',
  '@not_strictly_false',
  '__not_strictly_false__',
  '_?_:_',
  '_[_]',
  '_[?_]',
  '_?._',
  '_==_',
  '_!=_',
]);

interface Overload {
  target: Ty | undefined;
  args: Ty[];
  result: Ty;
}

/** Checks a parsed expression against `vars` and `env`'s functions; returns its type or throws CelCheckError. */
export function checkExpr(
  expr: Expr,
  vars: { readonly [name: string]: Ty },
  env: CelEnv,
  positions: { [id: string]: number },
  /** Called with the type of every sub-expression (tests use it to find expressions that are fully static). */
  trace?: (t: Ty) => void,
): Ty {
  const overloads = new Map<string, Overload[] | null>();
  const lookup = (name: string): Overload[] | null => {
    let o = overloads.get(name);
    if (o === undefined) {
      const group = env.funcs.find(name);
      o = group
        ? [...group].map((f) => ({
            target: f.target ? fromCelType(f.target) : undefined,
            args: f.arguments.map(fromCelType),
            result: fromCelType(f.result),
          }))
        : null;
      overloads.set(name, o);
    }
    return o;
  };

  const fail = (e: Expr, message: string): never => {
    throw new CelCheckError(message, positions[String(e.id)]);
  };

  const check = (e: Expr, scope: ReadonlyMap<string, Ty>, depth: number): Ty => {
    const t = checkNode(e, scope, depth);
    trace?.(t);
    return t;
  };

  const checkNode = (e: Expr, scope: ReadonlyMap<string, Ty>, depth: number): Ty => {
    if (depth > MAX_DEPTH) fail(e, `the expression is nested deeper than ${MAX_DEPTH} levels`);
    const d = depth + 1;
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr':
        return constType(k.value);
      case 'identExpr': {
        const name = k.value.name;
        const t = scope.get(name) ?? vars[name];
        if (t) return t;
        if (TYPE_IDENTS.has(name)) return prim('type');
        return fail(e, `unknown variable "${name}" (rules can use ${Object.keys(vars).join(' and ')})`);
      }
      case 'selectExpr': {
        const { operand, field, testOnly } = k.value;
        if (!operand) return fail(e, 'malformed field selection');
        const t = check(operand, scope, d);
        const ft = fieldType(e, t, field);
        return testOnly ? BOOL : ft;
      }
      case 'listExpr': {
        if (k.value.optionalIndices.length > 0) fail(e, 'optional list elements are not supported');
        let t: Ty | undefined;
        for (const el of k.value.elements) {
          const et = check(el, scope, d);
          t = t === undefined ? et : join(t, et);
        }
        return listOf(t ?? DYN);
      }
      case 'structExpr': {
        if (k.value.messageName !== '')
          return fail(e, `building messages ("${k.value.messageName}{…}") is not supported`);
        let kt: Ty | undefined;
        let vt: Ty | undefined;
        for (const entry of k.value.entries) {
          if (entry.optionalEntry) fail(e, 'optional map entries are not supported');
          if (entry.keyKind.case !== 'mapKey' || !entry.value) return fail(e, 'malformed map literal');
          const kk = check(entry.keyKind.value, scope, d);
          if (kk.k !== 'dyn' && !(kk.k === 'prim' && ['string', 'int', 'uint', 'bool'].includes(kk.n))) {
            fail(entry.keyKind.value, `a map key must be a string, int, uint or bool, not ${typeName(kk)}`);
          }
          const vv = check(entry.value, scope, d);
          kt = kt === undefined ? kk : join(kt, kk);
          vt = vt === undefined ? vv : join(vt, vv);
        }
        return mapOf(kt ?? DYN, vt ?? DYN);
      }
      case 'comprehensionExpr': {
        const c = k.value;
        if (!c.iterRange || !c.accuInit || !c.loopCondition || !c.loopStep || !c.result) {
          return fail(e, 'malformed comprehension');
        }
        const range = check(c.iterRange, scope, d);
        let elem: Ty;
        let second: Ty | undefined;
        switch (range.k) {
          case 'list':
            elem = c.iterVar2 ? INT : range.e;
            second = range.e;
            break;
          case 'map':
            elem = range.key;
            second = range.val;
            break;
          case 'rec':
            elem = STRING;
            second = DYN;
            break;
          case 'dyn':
            elem = DYN;
            second = DYN;
            break;
          default:
            return fail(c.iterRange, `cannot iterate over a value of type ${typeName(range)}`);
        }
        const accu = check(c.accuInit, scope, d);
        const inner = new Map(scope);
        inner.set(c.accuVar, accu);
        inner.set(c.iterVar, elem);
        if (c.iterVar2) inner.set(c.iterVar2, second);
        expectBool(c.loopCondition, check(c.loopCondition, inner, d), 'a loop condition');
        const step = check(c.loopStep, inner, d);
        const after = new Map(scope);
        after.set(c.accuVar, join(accu, step));
        return check(c.result, after, d);
      }
      case 'callExpr':
        return checkCall(e, scope, d);
      default:
        return fail(e, 'unsupported expression');
    }
  };

  const expectBool = (e: Expr, t: Ty, what: string): void => {
    if (t.k !== 'dyn' && !(t.k === 'prim' && t.n === 'bool'))
      fail(e, `${what} must be a bool, not ${typeName(t)}`);
  };

  const fieldType = (e: Expr, t: Ty, field: string): Ty => {
    switch (t.k) {
      case 'dyn':
        return DYN;
      case 'rec': {
        const f = t.fields[field];
        if (f === undefined) {
          return fail(e, `${t.name} has no field "${field}" (it has ${Object.keys(t.fields).join(', ')})`);
        }
        return f;
      }
      case 'map':
        if (!assignable(STRING, t.key)) return fail(e, `cannot select field "${field}" on ${typeName(t)}`);
        return t.val;
      default:
        return fail(e, `cannot select field "${field}" on a value of type ${typeName(t)}`);
    }
  };

  const checkCall = (e: Expr, scope: ReadonlyMap<string, Ty>, d: number): Ty => {
    if (e.exprKind.case !== 'callExpr') return fail(e, 'malformed call');
    const call = e.exprKind.value;
    const fn = call.function;
    // A receiver that is a dotted name may be a namespace (strings.quote(x)), as the planner resolves it.
    if (call.target) {
      const qual = dottedName(call.target);
      if (
        qual !== undefined &&
        scope.get(qual.split('.')[0]!) === undefined &&
        !(qual.split('.')[0]! in vars)
      ) {
        const global = lookup(`${qual}.${fn}`);
        if (global)
          return resolve(
            e,
            `${qual}.${fn}`,
            global,
            undefined,
            call.args.map((a) => check(a, scope, d)),
          );
      }
    }
    const special = SPECIAL.has(fn);
    const group = special ? null : lookup(fn);
    if (!special && !group) return fail(e, `unknown function "${displayName(fn)}"`);
    const args = call.args.map((a) => check(a, scope, d));
    switch (fn) {
      case '_&&_':
      case '_||_':
        for (let i = 0; i < args.length; i++) {
          expectBool(call.args[i]!, args[i]!, `an operand of ${fn === '_&&_' ? '&&' : '||'}`);
        }
        return BOOL;
      case '@not_strictly_false':
      case '__not_strictly_false__':
        return BOOL;
      case '_?_:_': {
        if (args.length !== 3) return fail(e, 'malformed conditional');
        expectBool(call.args[0]!, args[0]!, 'the condition of ?:');
        const [a, b] = [args[1]!, args[2]!];
        // As in CEL, both branches must have one type unless one of them is only known at run time.
        if (!same(a, b) && !containsDyn(a) && !containsDyn(b)) {
          fail(e, `the branches of ?: have different types (${typeName(a)} and ${typeName(b)})`);
        }
        return join(a, b);
      }
      case '_[_]': {
        if (args.length !== 2) return fail(e, 'malformed index');
        return indexType(e, call.args[1]!, args[0]!, args[1]!);
      }
      case '_[?_]':
      case '_?._':
        return fail(e, 'optional syntax ([?…], .?…) is not supported');
      case '_==_':
      case '_!=_': {
        const [a, b] = args as [Ty, Ty];
        if (a.k === 'prim' && b.k === 'prim' && a.n !== b.n && a.n !== 'null_type' && b.n !== 'null_type') {
          if (!(NUMERIC.has(a.n) && NUMERIC.has(b.n))) {
            fail(e, `comparing ${a.n} with ${b.n} is always ${fn === '_==_' ? 'false' : 'true'}`);
          }
        }
        return BOOL;
      }
    }
    const target = call.target ? check(call.target, scope, d) : undefined;
    return resolve(e, displayName(fn), group!, target, args);
  };

  const resolve = (e: Expr, name: string, group: Overload[], target: Ty | undefined, args: Ty[]): Ty => {
    const shaped = group.filter(
      (o) => (o.target === undefined) === (target === undefined) && o.args.length === args.length,
    );
    if (shaped.length === 0) {
      const asMethod = group.some((o) => o.target !== undefined);
      const asFunction = group.some((o) => o.target === undefined);
      if (target !== undefined && !asMethod)
        return fail(e, `"${name}" is a function, not a method: write ${name}(x, …)`);
      if (target === undefined && !asFunction) return fail(e, `"${name}" is a method: write x.${name}(…)`);
      const counts = [...new Set(group.map((o) => o.args.length))].sort().join(' or ');
      return fail(e, `"${name}" takes ${counts} argument(s), not ${args.length}`);
    }
    const ok = shaped.filter(
      (o) =>
        (o.target === undefined || assignable(target!, o.target)) &&
        o.args.every((p, i) => assignable(args[i]!, p)),
    );
    if (ok.length === 0) {
      const sig = `${target ? `${typeName(target)}.` : ''}(${args.map(typeName).join(', ')})`;
      return fail(e, `no overload of "${name}" accepts ${sig}`);
    }
    return ok.map((o) => o.result).reduce(join);
  };

  const indexType = (e: Expr, indexExpr: Expr, t: Ty, i: Ty): Ty => {
    switch (t.k) {
      case 'dyn':
        return DYN;
      case 'list':
        if (i.k !== 'dyn' && !(i.k === 'prim' && NUMERIC.has(i.n))) {
          return fail(e, `a list index must be a number, not ${typeName(i)}`);
        }
        return t.e;
      case 'map':
        if (!assignable(i, t.key)) return fail(e, `a key of ${typeName(t)} cannot be ${typeName(i)}`);
        return t.val;
      case 'rec': {
        if (i.k !== 'dyn' && !(i.k === 'prim' && i.n === 'string')) {
          return fail(e, `a field name of ${t.name} must be a string, not ${typeName(i)}`);
        }
        const k = indexExpr.exprKind;
        if (k.case === 'constExpr' && k.value.constantKind.case === 'stringValue') {
          return fieldType(e, t, k.value.constantKind.value);
        }
        return DYN;
      }
      default:
        return fail(e, `cannot index a value of type ${typeName(t)}`);
    }
  };

  return check(expr, new Map(), 0);
}

function constType(c: Constant): Ty {
  switch (c.constantKind.case) {
    case 'boolValue':
      return BOOL;
    case 'int64Value':
      return INT;
    case 'uint64Value':
      return prim('uint');
    case 'doubleValue':
      return prim('double');
    case 'stringValue':
      return STRING;
    case 'bytesValue':
      return prim('bytes');
    case 'nullValue':
      return prim('null_type');
    case 'durationValue':
      return prim('duration');
    case 'timestampValue':
      return TIMESTAMP_T;
    default:
      return DYN;
  }
}

/** `a.b.c` for an identifier or a chain of field selections, else undefined. */
function dottedName(e: Expr): string | undefined {
  const k = e.exprKind;
  if (k.case === 'identExpr') return k.value.name;
  if (k.case === 'selectExpr' && !k.value.testOnly && k.value.operand) {
    const base = dottedName(k.value.operand);
    return base === undefined ? undefined : `${base}.${k.value.field}`;
  }
  return undefined;
}

/** Operators as users write them in messages. */
function displayName(fn: string): string {
  const ops: { [k: string]: string } = {
    '_+_': '+',
    '_-_': '-',
    '_*_': '*',
    '_/_': '/',
    '_%_': '%',
    '-_': 'unary -',
    '!_': '!',
    '_<_': '<',
    '_<=_': '<=',
    '_>_': '>',
    '_>=_': '>=',
    '@in': 'in',
  };
  return ops[fn] ?? fn;
}
