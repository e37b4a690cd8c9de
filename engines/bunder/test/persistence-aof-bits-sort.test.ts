/**
 * The AOF form of the bitmap, SORT … STORE and RESTORE commands: bunder appends them (RESTORE with a
 * relative TTL rewritten to an absolute one, an already-expired RESTORE as DEL), then bunder itself and
 * a real redis-server (started on a free port) replay the AOF to the same data. Skips when redis-server
 * is absent.
 */
import t from 'tap';
import { Bunder } from '../src/index.js';
import { hasBinary, startRedis, tempDir } from './fixtures/persistence/helpers.js';
import { RespClient, type RespValue } from './helpers/resp-client.js';

const skip = hasBinary('redis-server') ? false : 'redis-server is not installed';

const KEYS = ['bits', 'bits2', 'not', 'field', 'sorted', 'alpha', 'restored', 'restored-ttl', 'gone'];

async function contents(c: RespClient): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const k of KEYS) {
    const type = await c.call('TYPE', k);
    const ttl = await c.call('PEXPIRETIME', k);
    const value =
      type.t === 'simple' && type.v === 'list'
        ? await c.call('LRANGE', k, '0', '-1')
        : await c.call('DUMP', k);
    out[k] = {
      type,
      ttl,
      value: type.t === 'simple' && type.v === 'string' ? await c.call('GET', k) : value,
    };
  }
  return out;
}

t.test(
  'bitmap, SORT STORE and RESTORE commands replay from the AOF in bunder and Redis',
  { skip },
  async (t) => {
    const dir = tempDir(t);
    const config = { appendonly: 'yes', appendfsync: 'always' };
    const kv = await Bunder.open({ dir, config });
    const { port } = await kv.listen({ port: 0 });
    const c = await RespClient.connect(port);
    const script: string[][] = [
      ['SETBIT', 'bits', '100', '1'],
      ['SETBIT', 'bits', '3', '1'],
      ['SETBIT', 'bits2', '7', '1'],
      ['BITOP', 'XOR', 'not', 'bits', 'bits2'],
      [
        'BITFIELD',
        'field',
        'SET',
        'i8',
        '#0',
        '-5',
        'INCRBY',
        'u4',
        '20',
        '9',
        'OVERFLOW',
        'FAIL',
        'INCRBY',
        'u2',
        '0',
        '7',
      ],
      ['RPUSH', 'src', '3', '10', '2'],
      ['SORT', 'src', 'STORE', 'sorted'],
      ['SORT', 'src', 'ALPHA', 'DESC', 'LIMIT', '0', '2', 'STORE', 'alpha'],
      ['SET', 'gone', 'x'],
    ];
    for (const cmd of script) {
      const r = await c.call(...cmd);
      t.not(r.t, 'error', `${cmd.join(' ')} → ${JSON.stringify(r)}`);
    }
    const payload = ((await c.call('DUMP', 'src')) as RespValue & { v: string }).v;
    t.same(await c.call('RESTORE', 'restored', '0', payload), { t: 'simple', v: 'OK' });
    t.same(await c.call('RESTORE', 'restored-ttl', '3600000', payload), { t: 'simple', v: 'OK' });
    t.same(await c.call('RESTORE', 'gone', '1', payload, 'REPLACE', 'ABSTTL'), { t: 'simple', v: 'OK' });
    const expected = await contents(c);
    c.close();
    await kv.close();

    const again = await Bunder.open({ dir, config });
    const p2 = (await again.listen({ port: 0 })).port;
    const c2 = await RespClient.connect(p2);
    t.same(await contents(c2), expected, 'bunder replays its AOF to the same data');
    c2.close();
    await again.close();

    const redis = await startRedis(dir, ['--appendonly', 'yes']);
    t.teardown(() => redis.stop());
    const r = await RespClient.connect(redis.port);
    t.teardown(() => r.close());
    t.same(await contents(r), expected, 'Redis replays the same AOF to the same data');
  },
);
