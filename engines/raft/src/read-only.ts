import type { NodeId, ReadState } from './types.js';

interface PendingRead {
  readonly index: number;
  readonly context: Uint8Array;
  readonly acks: Set<NodeId>;
}

function key(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('base64');
}

/**
 * ReadIndex requests waiting for a quorum of heartbeat acks that prove the leader was still the leader
 * when the request arrived. An ack for a later request also confirms every earlier one.
 */
export class ReadOnly {
  private readonly pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  add(index: number, context: Uint8Array, self: NodeId): void {
    const k = key(context);
    if (this.pending.has(k)) return;
    this.pending.set(k, { index, context, acks: new Set([self]) });
    this.queue.push(k);
  }

  /** Records an ack; returns the number of distinct acks for that context, 0 if unknown. */
  recvAck(from: NodeId, context: Uint8Array, isVoter: (id: NodeId) => boolean): number {
    const p = this.pending.get(key(context));
    if (!p) return 0;
    if (isVoter(from)) p.acks.add(from);
    let n = 0;
    for (const id of p.acks) if (isVoter(id)) n++;
    return n;
  }

  /** Releases every request up to and including `context`. */
  advance(context: Uint8Array): ReadState[] {
    const k = key(context);
    const at = this.queue.indexOf(k);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    return done.map((d) => {
      const p = this.pending.get(d)!;
      this.pending.delete(d);
      return { index: p.index, context: p.context };
    });
  }

  lastContext(): Uint8Array | undefined {
    const k = this.queue[this.queue.length - 1];
    return k === undefined ? undefined : this.pending.get(k)!.context;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
