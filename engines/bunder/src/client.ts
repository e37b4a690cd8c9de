/** Per-connection state: selected db, protocol, transaction, subscriptions, blocking. */
import type { Database } from './keyspace.js';
import type { Reply } from './reply.js';

/** What a blocked client waits for; `retry` re-runs the command when a watched key changes. */
export interface BlockState {
  readonly keys: readonly string[];
  readonly dbIndex: number;
  /** Absolute ms deadline, or 0 for forever. */
  readonly deadline: number;
  /** Returns the reply when the command can complete now, or undefined to keep waiting. */
  readonly retry: () => Reply | undefined;
  /** Reply sent on timeout. */
  readonly onTimeout: Reply;
}

export class Client {
  dbIndex = 0;
  /** The selected database object; the engine refreshes it before each command (SWAPDB safe). */
  db!: Database;
  resp: 2 | 3 = 2;
  name = '';
  authenticated: boolean;
  /** Commands queued after MULTI, or null when not in a transaction. */
  multi: string[][] | null = null;
  /** A queued command failed to parse: EXEC must answer EXECABORT. */
  multiFailed = false;
  /** WATCHed keys as "db\0key". */
  readonly watching = new Set<string>();
  /** A watched key was modified: EXEC must fail. */
  casDirty = false;
  readonly channels = new Set<string>();
  readonly patterns = new Set<string>();
  blocked: BlockState | null = null;
  closeAfterReply = false;
  readonly createdAt = Date.now();
  lastInteraction = Date.now();
  lastCommand = 'NULL';
  /** Receives replies produced outside a command (pub/sub messages, unblocked commands). */
  push: (r: Reply) => void = () => {};
  /** Closes the connection (CLIENT KILL, timeouts). */
  kill: () => void = () => {};
  /** Extra description for CLIENT LIST (addr, laddr, fd), set by the server. */
  addr = '';
  laddr = '';
  fd = -1;
  /** Bytes waiting in the query buffer and output buffer, for CLIENT LIST and limits. */
  qbuf = 0;
  obl = 0;

  constructor(
    readonly id: number,
    requireAuth: boolean,
  ) {
    this.authenticated = !requireAuth;
  }

  get subscriptionCount(): number {
    return this.channels.size + this.patterns.size;
  }
}
