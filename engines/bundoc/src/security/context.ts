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

const ANONYMOUS: AuthContext = Object.freeze({ auth: null, admin: false });

/** Checks the shape of `ctx` (undefined = anonymous); throws InvalidAuthContextError. */
export function checkAuthContext(ctx: unknown): AuthContext {
  if (ctx === undefined) return ANONYMOUS;
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
    if (auth.claims !== undefined && !isPlainObject(auth.claims)) {
      throw new InvalidAuthContextError('"auth.claims" must be an object');
    }
  }
  return ctx as unknown as AuthContext;
}
