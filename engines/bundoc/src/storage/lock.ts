import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOCK_FILE } from './constants.js';
import { LockedError } from './errors.js';

/** Directories open in this process (a second in-process open must fail like another process's). */
const openHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Exclusive lock on a store directory: a LOCK file created with O_EXCL holding the owner's pid.
 * A lock left by a dead process (crash, SIGKILL) is taken over; a live owner gives LockedError.
 */
export class DirLock {
  readonly #file: string;
  readonly #key: string;
  #held = true;

  private constructor(file: string, key: string) {
    this.#file = file;
    this.#key = key;
  }

  static acquire(dir: string): DirLock {
    const key = fs.realpathSync(dir);
    if (openHere.has(key)) throw new LockedError(dir, `this process, pid ${process.pid}`);
    const file = path.join(dir, LOCK_FILE);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(file, 'wx');
        fs.writeSync(fd, `${process.pid}\n`);
        fs.closeSync(fd);
        openHere.add(key);
        return new DirLock(file, key);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let pid = Number.NaN;
      try {
        pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      } catch {
        continue; // removed meanwhile: retry
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new LockedError(dir, `pid ${pid}`);
      }
      // Stale: the owner is gone (or it was this pid from an earlier life of a reused pid).
      fs.rmSync(file, { force: true });
    }
    throw new LockedError(dir, 'lock file keeps reappearing');
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    openHere.delete(this.#key);
    fs.rmSync(this.#file, { force: true });
  }
}
