import type { Storage } from './storage.js';
import { MemoryStorage } from './storage.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/** What one Ready asks to persist, applied in this order: snapshot, entries, hard state. */
export interface StorageUpdate {
  readonly snapshot?: Snapshot;
  readonly entries?: readonly Entry[];
  readonly hardState?: HardState;
}

/**
 * Storage as a host drives it: the core reads synchronously (Storage), the host persists asynchronously.
 * A returned promise resolves once the change is durable (when `sync`), so the host may then send and
 * acknowledge what depends on it. Calls are applied in call order.
 */
export interface HostStorage extends Storage {
  save(update: StorageUpdate, sync: boolean): Promise<void>;
  /** Records a state machine snapshot taken at applied index `index`. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot>;
  /** Drops log entries up to `index`, which a snapshot must cover. */
  compact(index: number): Promise<void>;
  close(): Promise<void>;
}

/** MemoryStorage behind the host interface: nothing survives the process (tests and benchmarks). */
export class MemoryHostStorage implements HostStorage {
  constructor(readonly memory: MemoryStorage = new MemoryStorage()) {}

  initialState() {
    return this.memory.initialState();
  }
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    return this.memory.entries(lo, hi, maxSize);
  }
  term(index: number): number {
    return this.memory.term(index);
  }
  firstIndex(): number {
    return this.memory.firstIndex();
  }
  lastIndex(): number {
    return this.memory.lastIndex();
  }
  snapshot(): Snapshot {
    return this.memory.snapshot();
  }

  async save(update: StorageUpdate): Promise<void> {
    if (update.snapshot) this.memory.applySnapshot(update.snapshot);
    if (update.entries) this.memory.append(update.entries);
    if (update.hardState) this.memory.setHardState(update.hardState);
  }

  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.memory.createSnapshot(index, confState, data);
  }

  async compact(index: number): Promise<void> {
    this.memory.compact(index);
  }

  async close(): Promise<void> {}
}
