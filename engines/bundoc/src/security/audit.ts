/**
 * The audit hook: a callback told about every denied operation and every administrative (rule-bypassing)
 * one. It observes and must never decide: a hook that throws or rejects does not change the operation.
 */
import type { AuthInfo } from './context.js';
import type { RuleOp } from './errors.js';
import type { DocId } from './references.js';

/** Schema changes, audited by the collection layer (always `outcome: 'admin'`). */
export type AdminOp = 'createCollection' | 'setCollectionSecurity' | 'dropCollection';

export interface AuditEvent {
  time: Date;
  op: RuleOp | AdminOp;
  collection: string;
  id?: DocId;
  auth: AuthInfo | null;
  admin: boolean;
  outcome: 'denied' | 'admin';
  reason?: string;
}

export type AuditHook = (event: AuditEvent) => void | Promise<void>;

/** Calls `hook` with `event`; its exceptions and rejections go to `onError` (default: dropped). */
export function emitAudit(
  hook: AuditHook | undefined,
  event: AuditEvent,
  onError: (err: unknown) => void = () => {},
): void {
  if (!hook) return;
  const report = (err: unknown) => {
    try {
      onError(err);
    } catch {
      // An error reporter that throws has nowhere left to report to.
    }
  };
  try {
    const r = hook(event) as unknown;
    if (typeof r === 'object' && r !== null && typeof (r as PromiseLike<void>).then === 'function') {
      (r as PromiseLike<void>).then(undefined, report);
    }
  } catch (err) {
    report(err);
  }
}
