import { deserialize, serialize } from 'node:v8';
import { decodeDocument, encodeDocument } from '@bunbase/bundoc';
import { referenceDocs } from '../data.js';
import { defineSuite } from '../suite.js';

// Encoding of the reference document to stored bytes and back: the per-document cost paid on every write
// and read. BunBase runs its real document codec (validation, header byte, UTF-8 JSON; LZ4 and typed
// Dates do not apply to this small Date-free document); the peer is V8's structured-clone serializer.
const docs = referenceDocs(1024);
const encodedBunbase = docs.map((d) => encodeDocument(d));
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
            sink += encodeDocument(docs[sink & 1023]).length;
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
            sink += (decodeDocument(encodedBunbase[sink & 1023]!) as { age: number }).age;
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
