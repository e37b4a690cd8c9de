/**
 * The auth context callers pass on every read and write: who is asking (`auth`, null when nobody is
 * signed in) and whether the call is administrative (`admin: true` bypasses rules, and is audited).
 * A missing context means an anonymous, non-admin caller.
 */
import { isPlainObject } from '../keys/types.js';
import { InvalidAuthContextError } from './errors.js';

export interface AuthInfo {
  uid: string;
  /** Token claims; JSON values (and Dates). Available to rules as `request.auth.claims`. */
  claims?: { [claim: string]: unknown };
}

export interface AuthContext {
  auth: AuthInfo | null;
  admin?: boolean;
}

export const MAX_UID_LENGTH = 1024;

/** Claims nesting limit. */
export const MAX_CLAIMS_DEPTH = 32;

const ANONYMOUS: AuthContext = Object.freeze({ auth: null, admin: false });

/*
 * Contexts already checked: a query checks the same context against every document it returns, and
 * the claims walk need not repeat. (A context mutated after its first use is not re-checked.)
 */
const checked = new WeakSet<object>();

/** Checks the shape of `ctx` (undefined = anonymous); throws InvalidAuthContextError. */
export function checkAuthContext(ctx: unknown): AuthContext {
  if (ctx === undefined) return ANONYMOUS;
  if (typeof ctx === 'object' && ctx !== null && checked.has(ctx)) return ctx as AuthContext;
  if (!isPlainObject(ctx)) throw new InvalidAuthContextError('it must be an object { auth, admin? }');
  for (const k of Object.keys(ctx)) {
    if (k !== 'auth' && k !== 'admin') throw new InvalidAuthContextError(`unknown key "${k}"`);
  }
  if (ctx.admin !== undefined && typeof ctx.admin !== 'boolean') {
    throw new InvalidAuthContextError('"admin" must be a boolean');
  }
  const auth = ctx.auth;
  if (auth !== null) {
    if (!isPlainObject(auth))
      throw new InvalidAuthContextError('"auth" must be null or an object { uid, claims? }');
    for (const k of Object.keys(auth)) {
      if (k !== 'uid' && k !== 'claims') throw new InvalidAuthContextError(`unknown key "auth.${k}"`);
    }
    if (typeof auth.uid !== 'string' || auth.uid.length === 0 || auth.uid.length > MAX_UID_LENGTH) {
      throw new InvalidAuthContextError(
        `"auth.uid" must be a non-empty string of at most ${MAX_UID_LENGTH} characters`,
      );
    }
    if (auth.claims !== undefined) {
      if (!isPlainObject(auth.claims)) throw new InvalidAuthContextError('"auth.claims" must be an object');
      checkClaim(auth.claims, 'auth.claims', 0);
    }
  }
  checked.add(ctx);
  return ctx as unknown as AuthContext;
}

/** Claims become CEL values: JSON values and valid Dates only. Depth-limited, so cycles end too. */
function checkClaim(v: unknown, path: string, depth: number): void {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(v)) throw new InvalidAuthContextError(`"${path}" is ${v}, not a finite number`);
      return;
    case 'object':
      break;
    default:
      throw new InvalidAuthContextError(`"${path}" is a ${typeof v}, not a JSON value`);
  }
  if (v === null) return;
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new InvalidAuthContextError(`"${path}" is an invalid Date`);
    return;
  }
  if (depth >= MAX_CLAIMS_DEPTH) {
    throw new InvalidAuthContextError(`"auth.claims" is nested deeper than ${MAX_CLAIMS_DEPTH} levels`);
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) checkClaim(v[i], `${path}.${i}`, depth + 1);
    return;
  }
  if (!isPlainObject(v)) throw new InvalidAuthContextError(`"${path}" is not a plain object`);
  for (const [k, x] of Object.entries(v)) checkClaim(x, `${path}.${k}`, depth + 1);
}
