import { deserialize, serialize } from 'node:v8';
import { referenceDocs } from '../data.js';
import { defineSuite } from '../suite.js';

// Encoding of the reference document to bytes and back: the per-document cost paid on every write and
// read. BunBase stores documents as UTF-8 JSON; the peer is V8's structured-clone serializer.
const docs = referenceDocs(1024);
const encodedJson = docs.map((d) => Buffer.from(JSON.stringify(d), 'utf8'));
const encodedV8 = docs.map((d) => serialize(d));
let sink = 0;

export default defineSuite({
  name: 'codec',
  description: 'document encode/decode of the reference document',
  workloads: [
    {
      name: 'encode reference doc',
      kind: 'micro',
      subjects: [
        {
          system: 'bunbase',
          op: () => {
            sink += Buffer.from(JSON.stringify(docs[sink & 1023]), 'utf8').length;
          },
        },
        {
          system: 'node:v8',
          op: () => {
            sink += serialize(docs[sink & 1023]).length;
          },
        },
      ],
    },
    {
      name: 'decode reference doc',
      kind: 'micro',
      subjects: [
        {
          system: 'bunbase',
          op: () => {
            sink += (JSON.parse(encodedJson[sink & 1023]!.toString('utf8')) as { age: number }).age;
          },
        },
        {
          system: 'node:v8',
          op: () => {
            sink += (deserialize(encodedV8[sink & 1023]!) as { age: number }).age;
          },
        },
      ],
    },
  ],
});
