/**
 * Durable replacement of a file: write a temp file in the same directory, fsync it, rename it over the
 * target, fsync the directory (so the rename itself survives a crash). Readers see the old file or the
 * new one, never a partial one.
 */

import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export type ChunkWriter = (chunk: Uint8Array) => Promise<void>;

export async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Runs `produce` with a writer into a temp file, then atomically installs it at `path`. */
export async function writeFileAtomically(
  path: string,
  produce: (write: ChunkWriter) => Promise<void>,
): Promise<number> {
  const dir = dirname(path);
  const temp = join(dir, `temp-${basename(path)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fh = await open(temp, 'wx', 0o644);
  let bytes = 0;
  let installed = false;
  try {
    await produce(async (chunk) => {
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
        off += bytesWritten;
      }
      bytes += chunk.length;
    });
    await fh.sync();
    await fh.close();
    await rename(temp, path);
    installed = true;
    await fsyncDirectory(dir);
    return bytes;
  } finally {
    if (!installed) {
      await fh.close().catch(() => {});
      await unlink(temp).catch(() => {});
    }
  }
}
