/**
 * Stream values through the keyspace converter and DUMP/RESTORE, for random streams (fast-check,
 * seeded): entries with varied field layouts, consumer groups with pending entries and consumers, read
 * counters. Keyspace → model → keyspace loses nothing, and a DUMP payload RESTOREd in bunder dumps back
 * to the same value.
 */
import fc from 'fast-check';
import t from 'tap';
import { Bunder } from '../src/index.js';
import { decodeDumpPayload } from '../src/persistence/rdb-reader.js';
import { encodeDumpPayload } from '../src/persistence/rdb-writer.js';
import { streamFromStored, streamToStored } from '../src/persistence/stream-codec.js';
import { arbStream, canonValue } from './fixtures/persistence/helpers.js';

const SEED = Number(process.env.BUNDER_PROP_SEED ?? 20261130);

t.test('streams survive keyspace ⇄ model conversion', async (t) => {
  fc.assert(
    fc.property(arbStream, (v) => {
      const back = streamToStored(streamFromStored(v));
      t.same(canonValue({ type: 'stream', value: back }), canonValue({ type: 'stream', value: v }));
      return true;
    }),
    { seed: SEED, numRuns: 80 },
  );
});

t.test('DUMP payloads of streams RESTORE and DUMP back unchanged', async (t) => {
  const kv = await Bunder.open();
  t.teardown(() => kv.close());
  const samples = fc.sample(arbStream, { numRuns: 60, seed: SEED });
  for (const [n, v] of samples.entries()) {
    const payload = encodeDumpPayload({ type: 'stream', value: v });
    t.equal(await kv.call('RESTORE', `s${n}`, '0', payload), 'OK');
    t.equal((await kv.call('TYPE', `s${n}`)) as string, 'stream');
    const again = (await kv.call('DUMP', `s${n}`)) as Buffer;
    t.same(canonValue(decodeDumpPayload(again)), canonValue({ type: 'stream', value: v }), `stream ${n}`);
  }
});
