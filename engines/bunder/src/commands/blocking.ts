/** Shared parsing for blocking commands (timeouts) and the block/serve protocol with the engine. */
import { E, type ErrorReply } from '../reply.js';
import { parseDouble } from '../util/numbers.js';

/** A blocking timeout in seconds (float) → absolute deadline in ms, 0 meaning forever. */
export function parseTimeout(s: string, now: number): number | ErrorReply {
  const secs = parseDouble(s);
  if (secs === null || !Number.isFinite(secs)) return E.TIMEOUT;
  if (secs < 0) return E.TIMEOUT_NEG;
  if (secs === 0) return 0;
  return now + Math.max(1, Math.round(secs * 1000));
}
