import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { syncDir } from '../storage/fsync-observer.js';

/**
 * A member's directory: `store/` (the bundoc store), `raft/` (the raft log), and transient siblings of
 * the store while a snapshot is restored or taken. Replacing the store is two renames with a directory
 * fsync after each, so a crash at any instant leaves either the old store or the new one in place.
 */
export const STORE_DIR = 'store';
export const RAFT_DIR = 'raft';
/** A snapshot being unpacked; complete and fsynced before the swap starts. */
export const INCOMING_DIR = 'store.incoming';
/** The replaced store, between the two renames and until it is deleted. */
export const OLD_DIR = 'store.old';
/** A backup being packed into a snapshot. */
export const SNAPSHOT_TMP_DIR = 'snapshot.tmp';

/** Test hook: called after each step of a swap (a throw there stands for a crash at that point). */
export type SwapStep = 'old-renamed' | 'new-renamed' | 'old-removed';

/**
 * Brings the directory back to a usable state after a crash in the middle of a swap or a snapshot.
 * The only state without a store is "crashed between the two renames": the old store goes back (raft
 * still holds the snapshot and restores it again at start). Leftovers are deleted.
 */
export async function recoverStoreDirectory(root: string): Promise<'clean' | 'rolled-back' | 'cleaned'> {
  const store = path.join(root, STORE_DIR);
  const old = path.join(root, OLD_DIR);
  let outcome: 'clean' | 'rolled-back' | 'cleaned' = 'clean';
  if (!fs.existsSync(store) && fs.existsSync(old)) {
    await fsp.rename(old, store);
    await syncDir(root);
    outcome = 'rolled-back';
  }
  for (const leftover of [INCOMING_DIR, OLD_DIR, SNAPSHOT_TMP_DIR]) {
    const p = path.join(root, leftover);
    if (fs.existsSync(p)) {
      await fsp.rm(p, { recursive: true, force: true });
      if (outcome === 'clean') outcome = 'cleaned';
    }
  }
  if (outcome !== 'clean') await syncDir(root);
  return outcome;
}

/** Replaces `store/` by the complete `store.incoming/`. The store must be closed. */
export async function swapInIncoming(root: string, after?: (step: SwapStep) => void): Promise<void> {
  const store = path.join(root, STORE_DIR);
  const old = path.join(root, OLD_DIR);
  await fsp.rm(old, { recursive: true, force: true });
  await fsp.rename(store, old);
  await syncDir(root);
  after?.('old-renamed');
  await fsp.rename(path.join(root, INCOMING_DIR), store);
  await syncDir(root);
  after?.('new-renamed');
  await fsp.rm(old, { recursive: true, force: true });
  await syncDir(root);
  after?.('old-removed');
}
