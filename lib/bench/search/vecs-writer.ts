// Writes vector sets in the TEXMEX .fvecs / .ivecs layout lib/verify/vectors.ts reads (per record a little-endian int32
// dimension, then the components), streamed in chunks so a million rows never need a second full-size buffer.
import { closeSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import type { VectorSet } from '../../verify/vectors.js';

/** Rows per write. */
const CHUNK_ROWS = 8192;

export function writeVecs(file: string, set: VectorSet<Float32Array | Int32Array>): void {
  const { count, dimension, values } = set;
  const recordBytes = 4 + 4 * dimension;
  const chunk = Buffer.alloc(Math.min(count, CHUNK_ROWS) * recordBytes);
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const littleEndian = os.endianness() === 'LE';
  const fd = openSync(file, 'w', 0o644);
  try {
    for (let start = 0; start < count; start += CHUNK_ROWS) {
      const end = Math.min(start + CHUNK_ROWS, count);
      for (let i = start; i < end; i++) {
        const at = (i - start) * recordBytes;
        view.setInt32(at, dimension, true);
        if (littleEndian) {
          // Same byte order as the file: copy the row's bytes as they are.
          const bytes = new Uint8Array(values.buffer, values.byteOffset + i * dimension * 4, dimension * 4);
          chunk.set(bytes, at + 4);
        } else {
          for (let j = 0; j < dimension; j++) {
            const value = values[i * dimension + j]!;
            if (values instanceof Float32Array) view.setFloat32(at + 4 + 4 * j, value, true);
            else view.setInt32(at + 4 + 4 * j, value, true);
          }
        }
      }
      writeSync(fd, chunk, 0, (end - start) * recordBytes);
    }
  } finally {
    closeSync(fd);
  }
}
