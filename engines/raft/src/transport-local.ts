import type { Transport, TransportHandler } from './transport.js';
import type { Message, NodeId } from './types.js';

/**
 * Transports for members in one process (tests, benchmarks): messages are handed over on the next turn
 * of the event loop, never encoded. Members can be cut off to simulate a dead or partitioned node.
 */
export class LocalNetwork {
  private readonly handlers = new Map<NodeId, TransportHandler>();
  private readonly down = new Set<NodeId>();

  transport(id: NodeId): Transport {
    return {
      start: async (handler) => {
        this.handlers.set(id, handler);
      },
      send: (messages) => this.send(id, messages),
      close: async () => {
        this.handlers.delete(id);
      },
    };
  }

  /** Drops every message to and from `id` until reconnect(id). */
  disconnect(id: NodeId): void {
    this.down.add(id);
  }

  reconnect(id: NodeId): void {
    this.down.delete(id);
  }

  private send(from: NodeId, messages: readonly Message[]): void {
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    setImmediate(() => {
      const sender = this.handlers.get(from);
      for (const [to, batch] of byPeer) {
        const target = this.handlers.get(to);
        const ok = target !== undefined && !this.down.has(to) && !this.down.has(from);
        if (ok) target.onMessages(batch);
        else sender?.onUnreachable(to);
        for (const m of batch) if (m.type === 'snap') sender?.onSnapshotStatus(to, ok);
      }
    });
  }
}
