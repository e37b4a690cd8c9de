import { CorruptDataError } from './errors.js';
import type { ConfChange, ConfChangeType } from './types.js';

const TYPES: readonly ConfChangeType[] = ['addNode', 'addLearner', 'removeNode'];

/** A conf-change entry's data: one byte of type, then the node id as u32 big-endian. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = TYPES.indexOf(cc.type);
  new DataView(out.buffer).setUint32(1, cc.nodeId);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length !== 5) throw new CorruptDataError(`conf change of ${data.length} bytes, expected 5`);
  const type = TYPES[data[0]!];
  if (type === undefined) throw new CorruptDataError(`unknown conf change type ${data[0]}`);
  const nodeId = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
  if (nodeId === 0) throw new CorruptDataError('conf change for node 0');
  return { type, nodeId };
}

export function validNodeId(id: number): boolean {
  return Number.isInteger(id) && id > 0 && id <= 0xffffffff;
}
