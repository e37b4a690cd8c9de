/**
 * Everything the collection layer asks about one collection's security, behind one object compiled
 * when the collection's spec is set: schema validation (with validationLevel), rules, the audit hook
 * and the collection's outgoing references. The collection layer calls a check before every write
 * and before returning every document; the checks throw typed errors and change nothing.
 *
 * Order inside a check: rules first (an unauthorised caller learns nothing about the schema), then the
 * schema. Admin callers bypass rules (the bypass is audited) but never the schema.
 */
import { isPlainObject } from '../keys/types.js';
import { type AuditEvent, type AuditHook, emitAudit } from './audit.js';
import { type AuthContext, checkAuthContext } from './context.js';
import { InvalidSecuritySpecError, PermissionDenied, type RuleOp } from './errors.js';
import type { ReferenceEdge } from './references.js';
import { isDocId } from './references.js';
import { type CompiledRules, compileRules, RULE_NAMES, type RulesSpec } from './rules.js';
import { type CompiledSchema, compileSchema, VALIDATION_LEVELS, type ValidationLevel } from './schema.js';

/** What createCollection accepts, and what the catalog stores (JSON). */
export interface SecuritySpec {
  /** JSON Schema, draft 2020-12, with bundoc's x-bundoc-type and x-bundoc-ref keywords. */
  schema?: { [keyword: string]: unknown };
  /** CEL expressions by operation; `write` covers create, update and delete without their own rule. */
  rules?: RulesSpec;
  /** 'strict' (default): every write is validated. 'moderate': updates of documents that were already
   * invalid are not. 'off': nothing is validated. */
  validationLevel?: ValidationLevel;
}

export interface SecurityOptions {
  /** Called for every denied operation and every admin operation (see audit.ts). */
  audit?: AuditHook;
  /** Where a throwing audit hook's error goes (default: dropped). */
  onAuditError?: (err: unknown) => void;
  /** The clock for `request.time` and audit events (tests pin it). */
  now?: () => Date;
}

const SPEC_KEYS = ['schema', 'rules', 'validationLevel'];

export class CollectionSecurity {
  readonly collection: string;
  /** The spec as compiled: a normalized copy, safe to store. */
  readonly spec: Readonly<SecuritySpec>;
  readonly validationLevel: ValidationLevel;
  /** References this collection's documents hold (checked on write; see reference-check.ts). */
  readonly references: readonly ReferenceEdge[];
  readonly #schema: CompiledSchema | undefined;
  readonly #rules: CompiledRules | undefined;
  readonly #audit: AuditHook | undefined;
  readonly #onAuditError: ((err: unknown) => void) | undefined;
  readonly #now: () => Date;

  private constructor(
    collection: string,
    schema: CompiledSchema | undefined,
    rules: CompiledRules | undefined,
    level: ValidationLevel,
    options: SecurityOptions,
  ) {
    this.collection = collection;
    this.#schema = schema;
    this.#rules = rules;
    this.validationLevel = level;
    this.references = schema?.references ?? [];
    this.#audit = options.audit;
    this.#onAuditError = options.onAuditError;
    this.#now = options.now ?? (() => new Date());
    const spec: SecuritySpec = {};
    if (schema) spec.schema = schema.source;
    if (rules) spec.rules = { ...rules.source };
    if (level !== 'strict') spec.validationLevel = level;
    this.spec = Object.freeze(spec);
  }

  /** Compiles `spec` (undefined: no schema, no rules); throws InvalidSecuritySpecError, InvalidSchemaError or InvalidRuleError. */
  static compile(collection: string, spec: unknown, options: SecurityOptions = {}): CollectionSecurity {
    if (spec === undefined || spec === null)
      return new CollectionSecurity(collection, undefined, undefined, 'strict', options);
    if (!isPlainObject(spec))
      throw new InvalidSecuritySpecError(
        'the security spec must be an object { schema?, rules?, validationLevel? }',
      );
    for (const k of Object.keys(spec)) {
      if (!SPEC_KEYS.includes(k)) {
        throw new InvalidSecuritySpecError(
          `unknown key "${k}" in the security spec (allowed: ${SPEC_KEYS.join(', ')})`,
        );
      }
    }
    const level = spec.validationLevel ?? 'strict';
    if (!VALIDATION_LEVELS.includes(level as ValidationLevel)) {
      throw new InvalidSecuritySpecError(
        `validationLevel must be one of ${VALIDATION_LEVELS.join(', ')}, not ${JSON.stringify(level)}`,
      );
    }
    const schema = spec.schema === undefined ? undefined : compileSchema(collection, spec.schema);
    let rules: CompiledRules | undefined;
    if (spec.rules !== undefined) {
      if (!isPlainObject(spec.rules))
        throw new InvalidSecuritySpecError('"rules" must be an object of CEL expressions');
      for (const k of Object.keys(spec.rules)) {
        if (!(RULE_NAMES as readonly string[]).includes(k)) {
          throw new InvalidSecuritySpecError(`unknown rule "${k}" (rules are ${RULE_NAMES.join(', ')})`);
        }
      }
      rules = compileRules(spec.rules as RulesSpec);
    }
    return new CollectionSecurity(collection, schema, rules, level as ValidationLevel, options);
  }

  get hasSchema(): boolean {
    return this.#schema !== undefined;
  }

  get hasRules(): boolean {
    return this.#rules !== undefined;
  }

  /** Before inserting `doc` (with its `_id`): rules `create`/`write`, then the schema. */
  checkCreate(doc: unknown, ctx?: AuthContext): void {
    this.#authorize('create', ctx, null, doc, doc);
    if (this.validationLevel !== 'off') this.#schema?.validate(doc);
  }

  /** Before replacing `before` with `after`: rules `update`/`write`, then the schema per validationLevel. */
  checkUpdate(before: unknown, after: unknown, ctx?: AuthContext): void {
    this.#authorize('update', ctx, before, after, after);
    this.validateUpdate(before, after);
  }

  /**
   * Before deleting `doc`: rules `delete`/`write`. Only the documents the caller asked to delete are
   * checked: cascades and setNull are integrity actions declared by the schema and run without the
   * referencing collections' rules (as SQL's ON DELETE CASCADE runs without the caller's privileges).
   */
  checkDelete(doc: unknown, ctx?: AuthContext): void {
    this.#authorize('delete', ctx, doc, null, doc);
  }

  /** Before returning `doc` from a get: rule `read`; throws PermissionDenied (audited). */
  checkRead(doc: unknown, ctx?: AuthContext): void {
    this.#authorize('read', ctx, doc, null, doc);
  }

  /** Whether `doc` may be returned by a get. Not audited: for filtering. */
  canRead(doc: unknown, ctx?: AuthContext): boolean {
    return this.#allowed('read', ctx, doc);
  }

  /** Whether `doc` may be returned by a query (rule `list`, falling back to `read`). Not audited. */
  canList(ctx: AuthContext | undefined, doc: unknown): boolean {
    return this.#allowed('list', ctx, doc);
  }

  /** Schema validation alone (for writes made by the system, e.g. setNull from a delete plan). */
  validate(doc: unknown): void {
    if (this.validationLevel !== 'off') this.#schema?.validate(doc);
  }

  /** Schema validation of an update alone, honouring validationLevel 'moderate'. */
  validateUpdate(before: unknown, after: unknown): void {
    const schema = this.#schema;
    if (!schema || this.validationLevel === 'off') return;
    const r = schema.check(after);
    if (r === null) return;
    // MongoDB's moderate level: a document that was already invalid may be updated into anything.
    if (this.validationLevel === 'moderate' && schema.check(before) !== null) return;
    schema.validate(after);
  }

  /** Emits an audit event for this collection (e.g. once per admin query, or a denied list). */
  audit(event: Omit<AuditEvent, 'collection' | 'time'>): void {
    emitAudit(this.#audit, { time: this.#now(), collection: this.collection, ...event }, this.#onAuditError);
  }

  #allowed(op: RuleOp, ctx: AuthContext | undefined, doc: unknown): boolean {
    const c = checkAuthContext(ctx);
    if (c.admin === true || !this.#rules) return true;
    return this.#rules.evaluate(op, { auth: c.auth, time: this.#now(), stored: doc, incoming: null }).allowed;
  }

  #authorize(
    op: RuleOp,
    ctx: AuthContext | undefined,
    stored: unknown,
    incoming: unknown,
    subject: unknown,
  ): void {
    const c = checkAuthContext(ctx);
    const id = idOf(subject);
    if (c.admin === true) {
      this.audit({ op, ...(id === undefined ? {} : { id }), auth: c.auth, admin: true, outcome: 'admin' });
      return;
    }
    if (!this.#rules) return;
    const d = this.#rules.evaluate(op, { auth: c.auth, time: this.#now(), stored, incoming });
    if (d.allowed) return;
    const reason = d.reason ?? `rule "${d.rule}" evaluated to false`;
    this.audit({
      op,
      ...(id === undefined ? {} : { id }),
      auth: c.auth,
      admin: false,
      outcome: 'denied',
      reason,
    });
    throw new PermissionDenied(this.collection, op, d.rule, d.reason);
  }
}

function idOf(doc: unknown): string | number | undefined {
  if (!isPlainObject(doc)) return undefined;
  const id = doc._id;
  return isDocId(id) ? id : undefined;
}

/** Checks a createCollection spec without keeping the compiled form; returns the normalized spec. */
export function validateSecuritySpec(spec: unknown, collection = '(unnamed)'): SecuritySpec {
  return { ...CollectionSecurity.compile(collection, spec).spec };
}
