/**
 * Per-collection access rules: CEL expressions (@bufbuild/cel) named by operation, compiled and
 * type-checked when set, evaluated per operation with the caller's auth context. A rule allows only by
 * evaluating to `true`; false, an evaluation error or a non-bool result denies (fail closed).
 *
 * Variables (see SECURITY.md):
 *   request.auth            null, or { uid: string, claims: map }
 *   request.resource.data   the incoming document (create, update: the document after the update)
 *   request.time            timestamp of the request
 *   request.method          'read' | 'list' | 'create' | 'update' | 'delete'
 *   resource.data           the stored document (read, list, update: before the update, delete)
 * `request.resource` is null on read, list and delete; `resource` is null on create.
 */
import { type CelEnv, type CelInput, celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { CelCheckError, checkExpr, DYN, mapOf, rec, TIMESTAMP_T, type Ty, typeName } from './cel-check.js';
import { celTimestamp, toCel } from './cel-values.js';
import { CompileCache } from './compile-cache.js';
import type { AuthInfo } from './context.js';
import { InvalidRuleError, type RuleOp } from './errors.js';

export type RuleName = RuleOp | 'write';
export const RULE_NAMES: readonly RuleName[] = ['read', 'list', 'create', 'update', 'delete', 'write'];
export type RulesSpec = { [R in RuleName]?: string };

/** Longest rule source accepted. */
export const MAX_RULE_LENGTH = 8192;

/** Which rules decide an operation, in order: the first one present decides. */
const FALLBACK: { readonly [op in RuleOp]: readonly RuleName[] } = {
  read: ['read'],
  list: ['list', 'read'],
  create: ['create', 'write'],
  update: ['update', 'write'],
  delete: ['delete', 'write'],
};

const STR = { k: 'prim', n: 'string' } as const satisfies Ty;
const DATA = mapOf(STR, DYN);
const VARS: { [name: string]: Ty } = {
  request: rec('request', {
    auth: rec('request.auth', { uid: STR, claims: mapOf(STR, DYN) }),
    resource: rec('request.resource', { data: DATA }),
    time: TIMESTAMP_T,
    method: STR,
  }),
  resource: rec('resource', { data: DATA }),
};

let env: CelEnv | undefined;
function ruleEnv(): CelEnv {
  env ??= celEnv({ funcs: strings });
  return env;
}

export type Decision =
  | { allowed: true; rule: RuleName }
  | { allowed: false; rule: RuleName | 'none'; reason?: string };

/** What an evaluation sees. Documents are plain bundoc documents (JSON values and Dates). */
export interface RuleInput {
  auth: AuthInfo | null;
  time: Date;
  /** The stored document (`resource.data`), or null on create. */
  stored: unknown;
  /** The incoming document (`request.resource.data`), or null on read, list and delete. */
  incoming: unknown;
}

type Program = (bindings: { [name: string]: CelInput }) => unknown;

export interface CompiledRules {
  /** The rules as given (a copy), safe to store in the catalog. */
  readonly source: Readonly<RulesSpec>;
  evaluate(op: RuleOp, input: RuleInput): Decision;
}

/** Compiles every rule of `spec`; throws InvalidRuleError naming the first bad rule and the CEL error. */
export function compileRules(spec: RulesSpec): CompiledRules {
  const programs = new Map<RuleName, Program>();
  const source: RulesSpec = {};
  for (const name of RULE_NAMES) {
    const text = spec[name];
    if (text === undefined) continue;
    programs.set(name, compileRule(name, text));
    source[name] = text;
  }
  return {
    source: Object.freeze(source),
    evaluate: (op, input) => evaluate(programs, op, input),
  };
}

/** Compiled rules by source text; the name only appears in errors, and failures are not cached. */
const compiledRules = new CompileCache<Program>(1024);

/** Parses, type-checks and plans one rule (or reuses the compiled form of the same text). */
export function compileRule(name: string, text: unknown): Program {
  if (typeof text !== 'string')
    throw new InvalidRuleError(name, 'a rule must be a string (a CEL expression)');
  return compiledRules.get(text, () => compileText(name, text));
}

function compileText(name: string, text: string): Program {
  if (text.length > MAX_RULE_LENGTH) {
    throw new InvalidRuleError(
      name,
      `it is ${text.length} characters long, over the limit of ${MAX_RULE_LENGTH}`,
    );
  }
  if (text.trim() === '') throw new InvalidRuleError(name, 'it is empty');
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(text);
  } catch (e) {
    const msg =
      e instanceof RangeError ? 'it is nested too deeply' : e instanceof Error ? e.message : String(e);
    throw new InvalidRuleError(name, `syntax error: ${msg.replace(/^<input>:/, 'at ')}`);
  }
  const positions: { [id: string]: number } = {};
  for (const [id, off] of Object.entries(parsed.sourceInfo?.positions ?? {})) positions[id] = off;
  let type: Ty;
  try {
    type = checkExpr(parsed.expr, VARS, ruleEnv(), positions);
  } catch (e) {
    if (e instanceof CelCheckError) {
      throw new InvalidRuleError(
        name,
        `${e.message}${e.offset === undefined ? '' : ` (at ${lineCol(text, e.offset)})`}`,
      );
    }
    if (e instanceof RangeError) throw new InvalidRuleError(name, 'it is nested too deeply');
    throw e;
  }
  if (type.k !== 'dyn' && !(type.k === 'prim' && type.n === 'bool')) {
    throw new InvalidRuleError(
      name,
      `a rule must evaluate to a bool, this one evaluates to ${typeName(type)}`,
    );
  }
  let program: ReturnType<typeof plan>;
  try {
    program = plan(ruleEnv(), parsed);
  } catch (e) {
    throw new InvalidRuleError(name, e instanceof Error ? e.message : String(e));
  }
  return program as Program;
}

function lineCol(text: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      col = 1;
    } else col++;
  }
  return `${line}:${col}`;
}

/** The rule that decides `op` under `spec`, or undefined when none does (the operation is denied). */
export function ruleFor(present: (name: RuleName) => boolean, op: RuleOp): RuleName | undefined {
  return FALLBACK[op].find(present);
}

/*
 * Converted auth per auth object: the same caller context is usually reused for many documents
 * (a list), and claims only need converting once.
 */
const authCache = new WeakMap<AuthInfo, CelInput>();
function authValue(auth: AuthInfo | null): CelInput {
  if (auth === null) return null;
  let v = authCache.get(auth);
  if (v === undefined) {
    v = new Map<string, CelInput>([
      ['uid', auth.uid],
      ['claims', toCel(auth.claims ?? {})],
    ]);
    authCache.set(auth, v);
  }
  return v;
}

function evaluate(programs: Map<RuleName, Program>, op: RuleOp, input: RuleInput): Decision {
  const name = ruleFor((n) => programs.has(n), op);
  if (name === undefined) return { allowed: false, rule: 'none', reason: `no "${op}" rule` };
  const program = programs.get(name)!;
  let result: unknown;
  try {
    const request = new Map<string, CelInput>([
      ['auth', authValue(input.auth)],
      ['resource', input.incoming === null ? null : new Map([['data', toCel(input.incoming)]])],
      ['time', celTimestamp(input.time)],
      ['method', op],
    ]);
    const resource = input.stored === null ? null : new Map([['data', toCel(input.stored)]]);
    result = program({ request, resource });
  } catch (e) {
    return {
      allowed: false,
      rule: name,
      reason: `evaluation error: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  if (result === true) return { allowed: true, rule: name };
  if (result === false) return { allowed: false, rule: name };
  if (isCelError(result))
    return { allowed: false, rule: name, reason: `evaluation error: ${result.message}` };
  return { allowed: false, rule: name, reason: 'the rule did not evaluate to a bool' };
}
