import { CorruptDataError } from '../errors.js';
import type { StateMachine } from '../group.js';
import type { Entry } from '../types.js';

/** A command of the replicated key-value store. */
export type KvCommand =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'del'; readonly key: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeKvCommand(data: Uint8Array): KvCommand {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch {
    throw new CorruptDataError('kv command is not JSON');
  }
  const c = v as Partial<KvCommand> & { value?: unknown };
  if (typeof c?.key !== 'string') throw new CorruptDataError('kv command without a string key');
  if (c.op === 'put' && typeof c.value === 'string') return { op: 'put', key: c.key, value: c.value };
  if (c.op === 'del') return { op: 'del', key: c.key };
  throw new CorruptDataError(`unknown kv command ${String(c.op)}`);
}

/**
 * A string-to-string map replicated through a RaftGroup: the reference application of the cluster
 * tests and benchmarks. apply returns the previous value of the key.
 */
export class KvStateMachine implements StateMachine<string | null> {
  readonly map = new Map<string, string>();
  /** Entries applied since start, and snapshots restored (tests check how a member caught up). */
  appliedEntries = 0;
  restores = 0;

  apply(entry: Entry): string | null {
    const cmd = decodeKvCommand(entry.data);
    this.appliedEntries++;
    const prev = this.map.get(cmd.key) ?? null;
    if (cmd.op === 'put') this.map.set(cmd.key, cmd.value);
    else this.map.delete(cmd.key);
    return prev;
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify([...this.map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  }

  restore(data: Uint8Array): void {
    this.map.clear();
    if (data.length > 0)
      for (const [k, v] of JSON.parse(decoder.decode(data)) as [string, string][]) this.map.set(k, v);
    this.restores++;
  }

  get(key: string): string | null {
    return this.map.get(key) ?? null;
  }
}
