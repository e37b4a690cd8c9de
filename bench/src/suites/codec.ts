import { deserialize, serialize } from 'node:v8';
import { decodeDocument, encodeDocument } from '@bunbase/bundoc';
import { referenceDocs } from '../data.js';
import { defineSuite, type Subject } from '../suite.js';

// Encoding of documents to stored bytes and back: the per-document cost paid on every write and read.
// BunBase runs its real document codec (validation, header byte, UTF-8 JSON; above 1 KiB an LZ4 block
// when it saves at least 1/8; Dates as typed values); the peer is V8's structured-clone serializer.
// The reference document is small and Date-free (the fast path); the large one (~16 KiB, 80 reference
// documents and a Date each) takes the compressed, typed path.
const docs = referenceDocs(1024);
const large = Array.from({ length: 16 }, (_, k) => ({
  _id: `batch${k}`,
  createdAt: new Date(Date.UTC(2024, 0, 1 + k)),
  items: referenceDocs(80, 100 + k).map((d, i) => ({ ...d, seen: new Date(Date.UTC(2024, 1, 1, 0, i)) })),
}));
let sink = 0;

type Codec = { encode(d: unknown): Uint8Array; decode(b: Uint8Array): unknown };
const codecs: Record<string, Codec> = {
  bunbase: { encode: (d) => encodeDocument(d), decode: (b) => decodeDocument(b) },
  'node:v8': { encode: (d) => serialize(d), decode: (b) => deserialize(b) },
};

function encodeSubjects(set: readonly unknown[]): Subject[] {
  const mask = set.length - 1; // sizes are powers of two
  return Object.entries(codecs).map(([system, c]) => ({
    system,
    op: () => {
      sink += c.encode(set[sink & mask]).length;
    },
  }));
}

function decodeSubjects(set: readonly unknown[]): Subject[] {
  const mask = set.length - 1;
  return Object.entries(codecs).map(([system, c]) => {
    const encoded = set.map((d) => c.encode(d));
    return {
      system,
      op: () => {
        sink += (c.decode(encoded[sink & mask]!) as { _id: string })._id.length;
      },
    };
  });
}

export default defineSuite({
  name: 'codec',
  description: 'document encode/decode: the reference document, and a ~16 KiB document with Dates',
  workloads: [
    { name: 'encode reference doc', kind: 'micro', subjects: encodeSubjects(docs) },
    { name: 'decode reference doc', kind: 'micro', subjects: decodeSubjects(docs) },
    { name: 'encode 16 KiB doc with Dates', kind: 'micro', subjects: encodeSubjects(large) },
    { name: 'decode 16 KiB doc with Dates', kind: 'micro', subjects: decodeSubjects(large) },
    {
      name: 'stored bytes, 16 KiB doc with Dates',
      lowerIsBetter: true,
      subjects: Object.entries(codecs).map(([system, c]) => ({
        system,
        measure: () => ({
          value: Math.round(large.reduce((n, d) => n + c.encode(d).length, 0) / large.length),
          unit: 'B/doc',
        }),
      })),
    },
  ],
});
