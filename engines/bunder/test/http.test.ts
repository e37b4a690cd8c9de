/** The HTTP API over a real socket: binary-safe keys and values, listing, commands, auth, limits, errors. */
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { Bunder, type BunderOptions } from '../src/index.js';

async function start(t: Test, opts: BunderOptions = {}, maxBodyBytes?: number) {
  const kv = await Bunder.open(opts);
  const { port } = await kv.listenHttp({ port: 0, ...(maxBodyBytes ? { maxBodyBytes } : {}) });
  t.teardown(() => kv.close());
  const base = `http://127.0.0.1:${port}`;
  return { kv, base };
}

const enc = (b: Buffer) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');

t.test('PUT, GET and DELETE by key are binary safe', async (t) => {
  const { kv, base } = await start(t);
  const key = Buffer.from([0x66, 0xff, 0x00, 0x2f, 0x20, 0xe2, 0x82, 0xac]);
  const value = Buffer.from([0, 1, 2, 255, 13, 10, 128]);
  let r = await fetch(`${base}/kv/${enc(key)}`, { method: 'PUT', body: value });
  t.equal(r.status, 200);
  t.same(await r.json(), { ok: true });
  t.same(await kv.call('GET', key), value, 'stored under the exact key bytes');
  r = await fetch(`${base}/kv/${enc(key)}`);
  t.equal(r.headers.get('content-type'), 'application/octet-stream');
  t.same(Buffer.from(await r.arrayBuffer()), value);
  r = await fetch(`${base}/kv/${enc(key)}`, { method: 'DELETE' });
  t.same(await r.json(), { deleted: 1 });
  r = await fetch(`${base}/kv/${enc(key)}`);
  t.equal(r.status, 404);
  t.same(await r.json(), { error: { code: 'NOT_FOUND', message: 'no such key' } });
});

t.test('PUT with ?ex sets a TTL; ?db picks the database', async (t) => {
  const { kv, base } = await start(t);
  await fetch(`${base}/kv/session?ex=100&db=3`, { method: 'PUT', body: 'x' });
  await kv.call('SELECT', '3');
  const ttl = Number(await kv.call('TTL', 'session'));
  t.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
  t.equal((await fetch(`${base}/kv/session?db=16`)).status, 400, 'db out of range');
  t.equal((await fetch(`${base}/kv/session?db=x`)).status, 400);
  t.equal((await fetch(`${base}/kv/session?ex=-5`, { method: 'PUT', body: 'x' })).status, 400);
});

t.test('GET on a non-string key is a WRONGTYPE error; bad percent-encoding is a 400', async (t) => {
  const { kv, base } = await start(t);
  await kv.call('RPUSH', 'list', 'a');
  const r = await fetch(`${base}/kv/list`);
  t.equal(r.status, 400);
  t.match(await r.json(), { error: { code: 'WRONGTYPE' } });
  t.equal((await fetch(`${base}/kv/a%zz`)).status, 400);
  t.equal((await fetch(`${base}/kv/`)).status, 400);
  t.equal((await fetch(`${base}/kv/a`, { method: 'POST' })).status, 405);
  t.equal((await fetch(`${base}/nowhere`)).status, 404);
});

t.test('/keys pages through every key exactly once', async (t) => {
  const { kv, base } = await start(t);
  for (let i = 0; i < 500; i++) await kv.call('SET', `user:${i}`, '1');
  await kv.call('SET', 'other', '1');
  const seen: string[] = [];
  let cursor = '0';
  do {
    const r = (await (await fetch(`${base}/keys?pattern=user:*&count=37&cursor=${cursor}`)).json()) as {
      cursor: string;
      keys: string[];
    };
    seen.push(...r.keys);
    cursor = r.cursor;
  } while (cursor !== '0');
  t.equal(new Set(seen).size, 500);
  t.ok(
    seen.every((k) => k.startsWith('user:')),
    'the pattern applies',
  );
});

t.test('POST /cmd runs a command and returns its reply as JSON', async (t) => {
  const { base } = await start(t);
  const cmd = async (body: unknown) => {
    const r = await fetch(`${base}/cmd`, { method: 'POST', body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  t.same(await cmd(['HSET', 'h', 'a', '1', 'b', 2]), { status: 200, body: { result: 2 } });
  t.strictSame((await cmd(['HGETALL', 'h'])).body, { result: { a: '1', b: '2' } }, 'maps become objects');
  t.same((await cmd(['SET', 'bin', '\u00ff'])).body, { result: 'OK' });
  t.same((await cmd(['GET', 'bin'])).body, { result: 'ÿ' }, 'UTF-8 text in, UTF-8 text out');
  t.same((await cmd(['ZADD', 'z', '1.5', 'm'])).body, { result: 1 });
  t.same((await cmd(['ZSCORE', 'z', 'm'])).body, { result: '1.5' });
  t.match(await cmd(['LPUSH', 'h', 'x']), { status: 400, body: { error: { code: 'WRONGTYPE' } } });
  t.match(await cmd(['NOSUCH']), { status: 400, body: { error: { code: 'ERR' } } });
  t.match(await cmd(['SELECT', '1']), { status: 400, body: { error: { code: 'NOT_ALLOWED' } } });
  t.match(
    await cmd(['BLPOP', 'empty', '0']),
    { status: 200, body: { result: null } },
    'blocking times out at once',
  );
  for (const bad of [[], {}, 'SET', [1, [2]], [null]]) {
    t.match(await cmd(bad), { status: 400, body: { error: { code: 'BAD_REQUEST' } } }, JSON.stringify(bad));
  }
  const r = await fetch(`${base}/cmd`, { method: 'POST', body: '{not json' });
  t.equal(r.status, 400);
});

t.test('bodies over the limit are refused with 413 and change nothing', async (t) => {
  const { kv, base } = await start(t, {}, 1024);
  const r = await fetch(`${base}/kv/big`, { method: 'PUT', body: Buffer.alloc(2048, 1) });
  t.equal(r.status, 413);
  t.equal(await kv.call('EXISTS', 'big'), 0);
});

t.test('with requirepass every route but /health needs the bearer password', async (t) => {
  const { base } = await start(t, { requirepass: 's3cret' });
  t.equal((await fetch(`${base}/health`)).status, 200);
  t.equal((await fetch(`${base}/kv/a`)).status, 401);
  t.equal((await fetch(`${base}/metrics`)).status, 401);
  t.equal((await fetch(`${base}/kv/a`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  t.equal((await fetch(`${base}/kv/a`, { headers: { authorization: 'Bearer s3cret' } })).status, 404);
});

t.test('/metrics is Prometheus text', async (t) => {
  const { kv, base } = await start(t);
  await kv.call('SET', 'a', '1');
  const text = await (await fetch(`${base}/metrics`)).text();
  t.match(text, /# TYPE bunder_commands_processed_total counter\nbunder_commands_processed_total \d+/);
  t.match(text, /bunder_db_keys\{db="0"\} 1/);
});

t.test('fuzz: arbitrary paths and bodies never take the server down', async (t) => {
  const { kv, base } = await start(t);
  await kv.call('SET', 'keep', 'safe');
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'PUT', 'POST', 'DELETE'),
      fc.string({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 200 }),
      async (method, path, body) => {
        const url = `${base}/${path.replace(/[#?]/g, '')}`;
        let res: Response;
        try {
          res = await fetch(url, { method, ...(method === 'GET' ? {} : { body }) });
        } catch {
          return; // a URL that fetch itself refuses to send
        }
        if (res.status >= 500) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      },
    ),
    { numRuns: 300, seed: 7 },
  );
  t.equal((await kv.call('GET', 'keep'))?.toString(), 'safe');
});
