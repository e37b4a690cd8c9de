/**
 * Memory figures for INFO and MEMORY. Redis reports the bytes its allocator handed out; the closest V8
 * figure is the heap in use plus memory held outside it (Buffers). The heap in use also counts garbage
 * that has not been collected yet, so MEMORY PURGE runs a full collection first, which makes the figure
 * comparable with Redis's `used_memory`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFunction: (() => void) | null | undefined;

/** Runs a full, synchronous garbage collection; false when the runtime does not allow one. */
export function collectGarbage(): boolean {
  if (!collectGarbageFunction()) return false;
  gcFunction!();
  return true;
}

function collectGarbageFunction(): boolean {
  if (gcFunction === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') gcFunction = exposed;
    else {
      try {
        // Exposing gc after start-up: the flag applies to contexts created afterwards.
        setFlagsFromString('--expose-gc');
        gcFunction = runInNewContext('gc') as () => void;
      } catch {
        gcFunction = null;
      }
    }
  }
  return gcFunction !== null;
}

/** A scavenge of the young generation only (about a millisecond): the garbage most commands leave. */
export function collectYoungGarbage(): boolean {
  if (!collectGarbageFunction()) return false;
  (gcFunction as unknown as (o: { type: string }) => void)({ type: 'minor' });
  return true;
}

export interface MemoryFigures {
  /** Heap in use plus external memory (Buffers): the analogue of Redis's used_memory. */
  readonly used: number;
  readonly rss: number;
}

export function memoryFigures(): MemoryFigures {
  const m = process.memoryUsage();
  // `arrayBuffers` is part of `external`: adding it again would count Buffers twice.
  return { used: m.heapUsed + m.external, rss: m.rss };
}
