#!/usr/bin/env node
// The Quick start's demo: opens an embedded bundoc store and an embedded bunder in this process, uses
// each the way an app would, and shows what they guarantee. Files go to a temp dir, removed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bunder } from '@bunbase/bunder';
import { Storage } from '@bunbase/bundoc/storage';

const enc = (s) => Buffer.from(s, 'utf8');
const dec = (v) => (typeof v === 'object' && v !== null ? Buffer.from(v).toString('utf8') : String(v));

async function bundocDemo(dir) {
  console.log(`bundoc storage — ${dir}`);
  let st = await Storage.open(dir);
  await st.transaction((tx) => {
    for (let i = 0; i < 1000; i++)
      tx.put('users', enc(`user:${String(i).padStart(4, '0')}`), enc(`{"n":${i}}`));
  });
  console.log('  committed 1000 keys in one durable transaction (WAL fsynced)');

  const older = st.begin({ readOnly: true });
  await st.transaction((tx) => tx.put('users', enc('user:0000'), enc('{"n":"changed"}')));
  const newer = st.begin({ readOnly: true });
  console.log(
    `  snapshot isolation: an older reader sees ${dec(older.get('users', enc('user:0000')))}, ` +
      `a newer one sees ${dec(newer.get('users', enc('user:0000')))}`,
  );
  const page = [...newer.range('users', { gte: enc('user:0500'), limit: 3 })];
  console.log(`  range from user:0500: ${page.map(([k]) => dec(k)).join(', ')}`);
  older.abort();
  newer.abort();
  await st.close();

  st = await Storage.open(dir);
  const back = st.begin({ readOnly: true });
  let count = 0;
  for (const _ of back.range('users', {})) count++;
  back.abort();
  console.log(`  closed and reopened: ${count} keys present`);
  await st.close();
}

function respRoundTrip(port, payload) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(payload));
    let got = '';
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.split('\r\n').length > 2) {
        sock.end();
        resolve(got);
      }
    });
    sock.on('error', reject);
  });
}

async function bunderDemo(dir) {
  console.log(`bunder — ${dir}`);
  const kv = await Bunder.open({ dir });
  const events = [];
  kv.on('keyspace', (ev) => events.push(ev));
  await kv.set('greeting', 'hello', { EX: 60 });
  await kv.incr('visits');
  await kv.incr('visits');
  await kv.call('RPUSH', 'queue', 'a', 'b', 'c');
  await kv.call('ZADD', 'board', '10', 'ada', '30', 'grace', '20', 'alan');
  const top = await kv.call('ZRANGE', 'board', '0', '-1', 'REV', 'WITHSCORES');
  console.log(
    `  GET greeting = ${dec(await kv.get('greeting'))}, TTL = ${await kv.call('TTL', 'greeting')} s`,
  );
  console.log(
    `  visits = ${dec(await kv.get('visits'))}, LRANGE queue = ${(await kv.call('LRANGE', 'queue', '0', '-1')).map(dec).join(',')}`,
  );
  console.log(`  ZRANGE board REV WITHSCORES = ${top.map(dec).join(' ')}`);
  console.log(`  ${events.length} in-process keyspace events`);

  const { port } = await kv.listen({ port: 0, host: '127.0.0.1' });
  const reply = await respRoundTrip(port, '*2\r\n$3\r\nGET\r\n$6\r\nvisits\r\n');
  console.log(
    `  RESP over TCP on port ${port}: GET visits -> ${JSON.stringify(reply)} (try redis-cli -p PORT)`,
  );
  await kv.close();
}

const root = mkdtempSync(join(tmpdir(), 'bunbase-demo-'));
try {
  await bundocDemo(join(root, 'bundoc'));
  await bunderDemo(join(root, 'bunder'));
  console.log('demo complete');
} finally {
  rmSync(root, { recursive: true, force: true });
}
