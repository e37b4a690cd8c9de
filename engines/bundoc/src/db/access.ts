import type { Document } from '../document/codec.js';
import { DocumentTooLargeError, InvalidDocumentError } from '../document/errors.js';
import { isPlainObject } from '../keys/types.js';
import type { CollectionSecurity } from '../security/collection-security.js';
import { type AuthContext, checkAuthContext } from '../security/context.js';
import { DanglingReferenceError, PermissionDenied, SchemaValidationError } from '../security/errors.js';
import { DuplicateKeyError, InvalidOptionError } from './errors.js';

/**
 * How the collection layer applies a collection's security to one call: which checks can matter for
 * this caller, the filter a query applies, and the call options that carry the caller's context.
 */

/** The option every reading or writing call accepts: who is asking. Absent: anonymous, not admin. */
export interface CallOptions {
  ctx?: AuthContext;
}

/**
 * Checks an options argument (undefined or an object with only `allowed` keys) and returns it with the
 * caller's context checked (InvalidAuthContextError), `fallback` when the call gives none.
 */
const ANONYMOUS_CALL: { options: CallOptions; ctx: AuthContext } = Object.freeze({
  options: Object.freeze({}),
  ctx: checkAuthContext(undefined),
});

export function callOptions<O extends CallOptions>(
  options: O | undefined,
  allowed: readonly string[],
  what: string,
  fallback: AuthContext | undefined,
): { options: O; ctx: AuthContext } {
  // No options and no context of the collection's: the anonymous call, one shared answer (most calls).
  if (options === undefined && fallback === undefined)
    return ANONYMOUS_CALL as { options: O; ctx: AuthContext };
  if (options !== undefined && !isPlainObject(options))
    throw new InvalidOptionError(`${what} options must be an object`);
  const o = (options ?? {}) as O;
  for (const k of Object.keys(o)) {
    if (k !== 'ctx' && !allowed.includes(k)) {
      const list = [...allowed, 'ctx'].join(', ');
      throw new InvalidOptionError(`unknown ${what} option "${k}" (allowed: ${list})`);
    }
  }
  return { options: o, ctx: checkAuthContext(o.ctx === undefined ? fallback : o.ctx) };
}

/** Whether any check of `sec` can reject or audit a call by `ctx` (else the checks are skipped). */
export function enforced(sec: CollectionSecurity, ctx: AuthContext): boolean {
  return ctx.admin === true || sec.hasRules || sec.hasSchema;
}

/**
 * What a query (and the filter of an update or delete) may see: documents the `list` rule (else
 * `read`) lets this caller list; the others are skipped as if they did not match. Undefined: all.
 */
export function listFilter(
  sec: CollectionSecurity,
  ctx: AuthContext,
): ((doc: Document) => boolean) | undefined {
  if (ctx.admin === true || !sec.hasRules) return undefined;
  return (doc) => sec.canList(ctx, doc);
}

/** An admin query bypasses the list rule for every document it reads: audited once per query. */
export function auditQuery(sec: CollectionSecurity, ctx: AuthContext): void {
  if (ctx.admin === true) sec.audit({ op: 'list', auth: ctx.auth, admin: true, outcome: 'admin' });
}

/** Errors that concern one document of a batch: they name its position, and an unordered insertMany reports them per document. */
export type DocumentError =
  | DuplicateKeyError
  | InvalidDocumentError
  | DocumentTooLargeError
  | PermissionDenied
  | SchemaValidationError
  | DanglingReferenceError;

export function isDocumentError(e: unknown): e is DocumentError {
  return (
    e instanceof DuplicateKeyError ||
    e instanceof InvalidDocumentError ||
    e instanceof DocumentTooLargeError ||
    e instanceof PermissionDenied ||
    e instanceof SchemaValidationError ||
    e instanceof DanglingReferenceError
  );
}
