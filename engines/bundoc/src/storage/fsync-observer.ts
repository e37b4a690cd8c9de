import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * Called when an fsync is issued; the returned callback runs once it has completed. Only tests set one:
 * the power-loss test snapshots each file at its fsyncs to rebuild exactly what a disk must have kept.
 */
export type FsyncObserver = (target: string, kind: 'file' | 'dir') => (() => void) | undefined;

let observer: FsyncObserver | undefined;

/** Installs (or, with undefined, removes) the process-wide fsync observer. */
export function setFsyncObserver(o: FsyncObserver | undefined): void {
  observer = o;
}

/** fdatasync of an open file, off the event loop. */
export async function syncFile(fh: FileHandle, file: string): Promise<void> {
  const done = observer?.(file, 'file');
  await fh.datasync();
  done?.();
}

/**
 * fdatasync of an open file on the calling thread. It blocks the event loop for the disk's flush, but
 * skips the thread pool's two hand-offs, which on a small VM cost more than a fast disk's flush.
 */
export function syncFileNow(fd: number, file: string): void {
  const done = observer?.(file, 'file');
  fs.fdatasyncSync(fd);
  done?.();
}

/** fsync of a directory, so that files created, renamed or removed in it stay so after power loss. */
export async function syncDir(dir: string): Promise<void> {
  const done = observer?.(dir, 'dir');
  const fd = fs.openSync(dir, 'r');
  try {
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
  } finally {
    fs.closeSync(fd);
  }
  done?.();
}
