import t from 'tap';
import * as root from '../src/index.js';
import { BundocError, ConflictError, CorruptionError, LockedError } from '../src/storage/index.js';

t.test('typed errors carry stable codes and name what failed', async (t) => {
  const c = new CorruptionError('data.db', 17, 'checksum mismatch');
  t.ok(c instanceof BundocError);
  t.ok(c instanceof Error);
  t.equal(c.name, 'CorruptionError');
  t.equal(c.code, 'CORRUPTION');
  t.equal(c.file, 'data.db');
  t.equal(c.page, 17);
  t.match(c.message, /data\.db page 17: checksum mismatch/);
  t.match(
    new CorruptionError('wal/000001.log', undefined, 'torn').message,
    /^corruption in wal\/000001\.log: torn$/,
  );
  t.equal(new ConflictError('users').code, 'CONFLICT');
  t.match(new LockedError('/d', 'pid 4').message, /already open in another process \(pid 4\)/);
});

t.test('the root entry point re-exports the storage errors', async (t) => {
  t.equal(root.CorruptionError, CorruptionError);
});
