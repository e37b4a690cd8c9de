// lz4js ships no types; only the raw block functions are used (see lz4.ts).
declare module 'lz4js' {
  const lz4: {
    compressBound(n: number): number;
    /** Returns the compressed length, or 0 when nothing could be encoded (incompressible input). */
    compressBlock(
      src: Uint8Array,
      dst: Uint8Array,
      sIndex: number,
      sLength: number,
      hashTable: Uint32Array,
    ): number;
    decompressBlock(
      src: Uint8Array,
      dst: Uint8Array,
      sIndex: number,
      sLength: number,
      dIndex: number,
    ): number;
  };
  export default lz4;
}
