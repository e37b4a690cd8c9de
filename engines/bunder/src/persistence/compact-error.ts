/**
 * Raised by the decoders of Redis's compact blobs (listpack, ziplist, intset, zipmap). The position is
 * inside the (possibly decompressed) blob; the RDB reader adds the file offset of the blob itself.
 */
export class CompactFormatError extends Error {
  readonly position: number;
  constructor(what: string, message: string, position: number) {
    super(`${what}: ${message} at byte ${position} of the blob`);
    this.name = 'CompactFormatError';
    this.position = position;
  }
}
