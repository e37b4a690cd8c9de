/**
 * Writers of documents share the lock; schema changes (index builds, drops) take it alone, so an index
 * never misses a write that began before it existed. FIFO so a waiting schema change is not starved.
 */
export class SharedExclusiveLock {
  #shared = 0;
  #exclusive = false;
  #queue: Array<{ exclusive: boolean; grant: () => void }> = [];

  /** Resolves immediately (no extra tick) when nothing exclusive is held or waiting. */
  acquireShared(): Promise<void> | undefined {
    if (!this.#exclusive && this.#queue.length === 0) {
      this.#shared++;
      return undefined;
    }
    return new Promise((grant) => this.#queue.push({ exclusive: false, grant }));
  }

  releaseShared(): void {
    this.#shared--;
    this.#drain();
  }

  acquireExclusive(): Promise<void> {
    if (!this.#exclusive && this.#shared === 0 && this.#queue.length === 0) {
      this.#exclusive = true;
      return Promise.resolve();
    }
    return new Promise((grant) => this.#queue.push({ exclusive: true, grant }));
  }

  releaseExclusive(): void {
    this.#exclusive = false;
    this.#drain();
  }

  #drain(): void {
    while (this.#queue.length > 0 && !this.#exclusive) {
      const next = this.#queue[0]!;
      if (next.exclusive) {
        if (this.#shared > 0) return;
        this.#queue.shift();
        this.#exclusive = true;
        next.grant();
        return;
      }
      this.#queue.shift();
      this.#shared++;
      next.grant();
    }
  }
}
