import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { setFsyncObserver } from '../src/storage/fsync-observer.js';
import { type Durability, Storage } from '../src/storage/index.js';
import { checkWorkload } from './fixtures-storage/check.js';
import { applyCommit } from './fixtures-storage/workload.js';

// Simulated power loss. An fsync observer records, for every file, its bytes at each completed fsync and,
// for every directory, its entries at each completed directory fsync. A power-loss image taken at any
// instant keeps exactly that: files as of their last fsync, directories as of theirs — every write after
// the last fsync is dropped. A second, "partial" image also lets a random subset of the later writes land
// (512-byte sectors, random lengths, unsynced creations and removals), as real disks may reorder them.
// Each image is opened: every commit acknowledged before the instant must be there (durability full),
// nothing torn or invented, and verify() clean.

const STRESS = process.env.BUNBASE_STRESS === '1';
const seed = Number(process.env.BUNDOC_SEED ?? Date.now() % 1_000_000);
t.comment(`seed ${seed} (BUNDOC_SEED=${seed} to replay)`);

function rng(s: number): () => number {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** What the disk is guaranteed to hold: file bytes by inode, directory entries (name → inode). */
class DiskModel {
  readonly files = new Map<number, Buffer>();
  readonly dirs = new Map<string, Map<string, number>>();

  /** `onEvent` runs at every fsync issue and completion, before the model changes. */
  install(onEvent?: () => void): void {
    setFsyncObserver((target, kind) => {
      onEvent?.();
      if (kind === 'file') {
        const ino = fs.statSync(target).ino;
        const bytes = fs.readFileSync(target);
        return () => {
          onEvent?.();
          this.files.set(ino, bytes);
        };
      }
      const listing = new Map<string, number>();
      for (const name of fs.readdirSync(target)) {
        // A file removed meanwhile (a segment dropped on the thread pool between the two calls): its
        // removal reaching the disk is one of the outcomes a power loss may leave.
        const st = fs.statSync(path.join(target, name), { throwIfNoEntry: false });
        if (st) listing.set(name, st.ino);
      }
      return () => {
        onEvent?.();
        this.dirs.set(path.resolve(target), listing);
      };
    });
  }

  /** Writes the image of `dir` (and its wal/ subdirectory) into `out`. */
  image(dir: string, out: string, partial: (() => number) | undefined): void {
    fs.mkdirSync(out, { recursive: true });
    const top = this.#entries(dir, partial);
    for (const [name, ino] of top) {
      if (name === 'wal') {
        const walOut = path.join(out, 'wal');
        fs.mkdirSync(walOut);
        for (const [seg, sino] of this.#entries(path.join(dir, 'wal'), partial)) {
          fs.writeFileSync(path.join(walOut, seg), this.#content(path.join(dir, 'wal', seg), sino, partial));
        }
        continue;
      }
      if (name === 'LOCK') continue; // the process holding it died with the power
      fs.writeFileSync(path.join(out, name), this.#content(path.join(dir, name), ino, partial));
    }
  }

  #entries(dir: string, partial: (() => number) | undefined): Map<string, number> {
    const durable = this.dirs.get(path.resolve(dir)) ?? new Map<string, number>();
    if (!partial) return durable;
    const out = new Map<string, number>();
    let current = new Map<string, number>();
    try {
      for (const name of fs.readdirSync(dir)) current.set(name, fs.statSync(path.join(dir, name)).ino);
    } catch {
      current = new Map();
    }
    for (const [n, ino] of durable) if (current.get(n) === ino || partial() < 0.5) out.set(n, ino);
    for (const [n, ino] of current) if (!durable.has(n) && partial() < 0.5) out.set(n, ino);
    return out;
  }

  #content(file: string, ino: number, partial: (() => number) | undefined): Buffer {
    const durable = this.files.get(ino) ?? Buffer.alloc(0);
    if (!partial) return durable;
    let current: Buffer;
    try {
      current = fs.statSync(file).ino === ino ? fs.readFileSync(file) : durable;
    } catch {
      current = durable;
    }
    const len =
      current.length >= durable.length
        ? durable.length + Math.floor(partial() * (current.length - durable.length + 1))
        : partial() < 0.5
          ? durable.length
          : current.length;
    const out = Buffer.alloc(len);
    durable.copy(out, 0, 0, Math.min(len, durable.length));
    for (let off = 0; off < len; off += 512) {
      const end = Math.min(len, off + 512);
      if (off >= current.length) break;
      if (off >= durable.length || partial() < 0.5)
        current.copy(out, off, off, Math.min(end, current.length));
    }
    return out;
  }
}

interface Image {
  dir: string;
  acked: Set<number>;
  /** Acknowledged commits whose delete removed a key (applyCommit's result). */
  removers: Set<number>;
  started: number;
  partial: boolean;
}

async function run(
  t: Test,
  durability: Durability,
  commits: number,
  maxImages: number,
  rand: () => number,
): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-power-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'live');
  fs.mkdirSync(dir);
  const disk = new DiskModel();
  disk.install();
  t.teardown(() => setFsyncObserver(undefined));
  const images: Image[] = [];
  const acked = new Set<number>();
  const removers = new Set<number>();
  let next = 0;
  const snap = (partial: boolean, always = false) => {
    if (images.length >= maxImages && !always) return;
    const img = path.join(root, `img-${images.length}`);
    disk.image(dir, img, partial ? rand : undefined);
    images.push({ dir: img, acked: new Set(acked), removers: new Set(removers), started: next, partial });
  };
  const st = await Storage.open(dir, {
    pageSize: 4096,
    cacheBytes: 32 * 4096,
    durability,
    checkpointBytes: 48 * 1024,
    walSegmentBytes: 16 * 1024,
    checkpointIntervalMs: 0,
  });
  snap(false);
  const writer = async () => {
    while (next < commits) {
      const i = next++;
      if (await st.transaction((tx) => applyCommit(tx, i))) removers.add(i);
      acked.add(i);
      if (rand() < (2 * maxImages) / commits) snap(rand() < 0.5);
      if (rand() < 0.01) await st.checkpoint();
    }
  };
  // Images are also taken between events that have nothing to do with acknowledgements.
  const ticker = setInterval(() => {
    if (rand() < 0.2) snap(rand() < 0.5);
  }, 5);
  try {
    await Promise.all([writer(), writer(), writer(), writer()]);
    snap(false, true);
  } finally {
    clearInterval(ticker);
    await st.close();
    setFsyncObserver(undefined);
  }

  let present = 0;
  for (const img of images) {
    const label = `${durability} image ${path.basename(img.dir)}${img.partial ? ' (partial)' : ''}`;
    // 'normal' and 'off' promise nothing about power loss: only consistency is checked there.
    const mustHave = durability === 'full' ? img.acked : new Set<number>();
    const mustBeGone = durability === 'full' ? img.removers : new Set<number>();
    // Recovery must also survive being interrupted and redone: every fifth image is opened twice.
    for (let round = 0; round < (images.indexOf(img) % 5 === 0 ? 2 : 1); round++) {
      const s2 = await Storage.open(img.dir, { pageSize: 4096, checkpointIntervalMs: 0 });
      try {
        present += checkWorkload(s2, mustHave, mustBeGone, img.started);
      } catch (e) {
        t.fail(`${label}, open ${round + 1}: ${(e as Error).message} (seed ${seed})`);
        return;
      } finally {
        await s2.close();
      }
    }
  }
  t.pass(`${durability}: ${images.length} power-loss images recovered, ${present} entries checked`);
}

t.test('power loss: durability full keeps every acknowledged commit', async (t) => {
  await run(t, 'full', STRESS ? 8000 : 1000, STRESS ? 300 : 50, rng(seed));
});

t.test('power loss: durability normal and off recover to a consistent state', async (t) => {
  await run(t, 'normal', STRESS ? 4000 : 500, STRESS ? 150 : 25, rng(seed + 1));
  await run(t, 'off', STRESS ? 4000 : 500, STRESS ? 150 : 25, rng(seed + 2));
});

t.test('power loss while a store is being created leaves a directory that opens', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-power-create-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'live');
  fs.mkdirSync(dir);
  const disk = new DiskModel();
  const shots: string[] = [];
  const rand = rng(seed + 3);
  // An image at every fsync issued and completed during creation, strict and partial.
  disk.install(() => {
    for (const partial of [false, true]) {
      const shot = path.join(root, `shot-${shots.length}`);
      disk.image(dir, shot, partial ? rand : undefined);
      shots.push(shot);
    }
  });
  t.teardown(() => setFsyncObserver(undefined));
  const st = await Storage.open(dir, { pageSize: 4096 });
  setFsyncObserver(undefined);
  await st.close();
  for (const shot of shots) {
    const s2 = await Storage.open(shot, { pageSize: 4096 });
    t.same(s2.trees(), [], `${path.basename(shot)} opens as an empty store`);
    s2.verify();
    await s2.close();
  }
});

t.test(
  'a creation cut short (leftover LOCK of a dead process and a partial data file) is redone',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-power-left-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'LOCK'), '999999999\n');
    fs.writeFileSync(path.join(dir, 'data.bdb.creating'), Buffer.alloc(100, 7));
    fs.mkdirSync(path.join(dir, 'wal'));
    const st = await Storage.open(dir);
    await st.transaction((tx) => tx.put('t', Buffer.from('k'), Buffer.from('v')));
    st.verify();
    await st.close();
    t.same(fs.readdirSync(dir).sort(), ['data.bdb', 'wal']);
  },
);
