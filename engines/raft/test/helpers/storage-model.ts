import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, Storage } from '../../src/index.js';
import { CompactedError, UnavailableError } from '../../src/index.js';

export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'raft-durable-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) };
}

/** Everything a reader of Storage can observe, as plain data for t.same. */
export function observe(s: Storage): unknown {
  const first = s.firstIndex();
  const last = s.lastIndex();
  let ents: Entry[] = [];
  if (last >= first) ents = s.entries(first, last + 1, Number.POSITIVE_INFINITY);
  const snap = s.snapshot();
  const termAt = (i: number) => {
    try {
      return s.term(i);
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return err.code;
      throw err;
    }
  };
  return {
    state: s.initialState(),
    first,
    last,
    dummyTerm: termAt(first - 1),
    beyond: termAt(last + 1),
    entries: ents.map((e) => ({ ...e, data: Buffer.from(e.data).toString('hex') })),
    snapshot: { metadata: snap.metadata, data: Buffer.from(snap.data).toString('hex') },
  };
}
