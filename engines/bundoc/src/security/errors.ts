import { BundocError } from '../storage/errors.js';

/** The operations rules guard. `write` is only a rule name (the fallback), never an operation. */
export type RuleOp = 'read' | 'list' | 'create' | 'update' | 'delete';

/** The security spec of a collection (schema, rules, validationLevel) is malformed; nothing was changed. */
export class InvalidSecuritySpecError extends BundocError {
  constructor(message: string) {
    super('INVALID_SECURITY_SPEC', message);
  }
}

/** A JSON Schema (or its x-bundoc-* extensions) does not compile; rejected when set, never at use. */
export class InvalidSchemaError extends BundocError {
  constructor(problem: string, options?: { cause?: unknown }) {
    super('INVALID_SCHEMA', `invalid schema: ${problem}`, options);
  }
}

/** One failing check of a document against its collection's schema. `path` is a dot path ('' = root). */
export interface SchemaIssue {
  path: string;
  keyword: string;
  message: string;
}

/** A document does not satisfy its collection's JSON Schema; `issues` lists the failures (bounded). */
export class SchemaValidationError extends BundocError {
  readonly collection: string;
  readonly issues: readonly SchemaIssue[];
  /** True when there were more failures than `issues` holds. */
  readonly truncated: boolean;
  /** The position of the offending document in an insertMany batch. */
  readonly batchIndex: number | undefined;
  constructor(collection: string, issues: readonly SchemaIssue[], truncated: boolean, batchIndex?: number) {
    const shown = issues
      .slice(0, 5)
      .map((i) => `${i.path === '' ? '(root)' : i.path} ${i.message}`)
      .join('; ');
    const more = issues.length > 5 || truncated ? '; …' : '';
    super(
      'SCHEMA_VALIDATION',
      `document${atIndex(batchIndex)} fails the schema of collection "${collection}": ${shown}${more}`,
    );
    this.collection = collection;
    this.issues = issues;
    this.truncated = truncated;
    this.batchIndex = batchIndex;
  }

  atIndex(batchIndex: number): SchemaValidationError {
    return new SchemaValidationError(this.collection, this.issues, this.truncated, batchIndex);
  }
}

function atIndex(batchIndex: number | undefined): string {
  return batchIndex === undefined ? '' : ` [${batchIndex}]`;
}

/** A CEL rule does not parse or type-check; `rule` names it (read, list, create, update, delete, write). */
export class InvalidRuleError extends BundocError {
  readonly rule: string;
  constructor(rule: string, problem: string) {
    super('INVALID_RULE', `invalid rule "${rule}": ${problem}`);
    this.rule = rule;
  }
}

/**
 * The collection's rules deny this operation to this caller. `rule` names the rule that decided
 * (`write` when the fallback did, `none` when no rule covers the operation); `reason` says why when
 * the rule did not simply evaluate to false (an evaluation error, a non-boolean result).
 */
export class PermissionDenied extends BundocError {
  readonly collection: string;
  readonly op: RuleOp;
  readonly rule: string;
  readonly reason: string | undefined;
  /** The position of the offending document in an insertMany batch. */
  readonly batchIndex: number | undefined;
  constructor(collection: string, op: RuleOp, rule: string, reason?: string, batchIndex?: number) {
    super(
      'PERMISSION_DENIED',
      `permission denied: ${op}${batchIndex === undefined ? '' : ` of document [${batchIndex}]`} on collection "${collection}" (rule "${rule}"${reason ? `: ${reason}` : ''})`,
    );
    this.collection = collection;
    this.op = op;
    this.rule = rule;
    this.reason = reason;
    this.batchIndex = batchIndex;
  }

  atIndex(batchIndex: number): PermissionDenied {
    return new PermissionDenied(this.collection, this.op, this.rule, this.reason, batchIndex);
  }
}

/** The auth context passed by the caller is not `{ auth: { uid, claims? } | null, admin?: boolean }`. */
export class InvalidAuthContextError extends BundocError {
  constructor(problem: string) {
    super('INVALID_AUTH_CONTEXT', `invalid auth context: ${problem}`);
  }
}

/** A delete is blocked: a document that is not itself being deleted references it with onDelete 'restrict'. */
export class ReferenceRestrictedError extends BundocError {
  readonly collection: string;
  readonly id: string | number;
  readonly referencingCollection: string;
  readonly referencingId: string | number;
  readonly path: string;
  constructor(
    collection: string,
    id: string | number,
    referencingCollection: string,
    referencingId: string | number,
    path: string,
  ) {
    super(
      'REFERENCE_RESTRICTED',
      `cannot delete ${JSON.stringify(id)} from collection "${collection}": document ${JSON.stringify(referencingId)} ` +
        `in collection "${referencingCollection}" references it at "${path}" (onDelete: restrict)`,
    );
    this.collection = collection;
    this.id = id;
    this.referencingCollection = referencingCollection;
    this.referencingId = referencingId;
    this.path = path;
  }
}

/** A written document references a document that does not exist in the target collection. */
export class DanglingReferenceError extends BundocError {
  readonly collection: string;
  readonly path: string;
  readonly targetCollection: string;
  readonly missing: readonly (string | number)[];
  /** The position of the offending document in an insertMany batch. */
  readonly batchIndex: number | undefined;
  constructor(
    collection: string,
    path: string,
    targetCollection: string,
    missing: readonly (string | number)[],
    batchIndex?: number,
  ) {
    const ids = missing
      .slice(0, 5)
      .map((m) => JSON.stringify(m))
      .join(', ');
    super(
      'DANGLING_REFERENCE',
      `document${atIndex(batchIndex)} in collection "${collection}" references ${ids}${missing.length > 5 ? ', …' : ''} at "${path}", ` +
        `which does not exist in collection "${targetCollection}"`,
    );
    this.collection = collection;
    this.path = path;
    this.targetCollection = targetCollection;
    this.missing = missing;
    this.batchIndex = batchIndex;
  }

  atIndex(batchIndex: number): DanglingReferenceError {
    return new DanglingReferenceError(
      this.collection,
      this.path,
      this.targetCollection,
      this.missing,
      batchIndex,
    );
  }
}

/** A delete would touch more documents through cascades and setNull than the plan's limit allows. */
export class DeletePlanTooLargeError extends BundocError {
  readonly limit: number;
  constructor(limit: number) {
    super(
      'DELETE_PLAN_TOO_LARGE',
      `the delete would cascade to more than ${limit} documents (deletes plus setNull updates); nothing was deleted`,
    );
    this.limit = limit;
  }
}
