import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** fsync of a directory, so that a create, rename or unlink inside it survives a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes a whole file so that after a crash either the old content or the new one is there, never a
 * mix: write a temporary file, fsync it, rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    const parts = data instanceof Uint8Array ? [data] : data;
    for (const p of parts) {
      let off = 0;
      while (off < p.length) off += (await fh.write(p, off, p.length - off)).bytesWritten;
    }
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  await syncDir(dirname(path));
}

export function isTempFile(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}
