import os from 'node:os';

/**
 * PostgreSQL's COPY binary format, the parts the kit writes: the file header and trailer, and pgvector's binary form
 * of a `vector` field (int16 dimension, int16 0, big-endian float4s). The float32 values travel as their own bytes,
 * so nothing is rounded and neither side formats or parses decimals.
 */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** Signature, flags (0) and header extension length (0). */
export const COPY_HEADER_BYTES = SIGNATURE.length + 8;

/** The tuple count -1 that ends the data. */
export const COPY_TRAILER_BYTES = 2;

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

/** Writes the header at `at`; returns the offset after it. */
export function writeCopyHeader(buffer: Buffer, at = 0): number {
  SIGNATURE.copy(buffer, at);
  buffer.fill(0, at + SIGNATURE.length, at + COPY_HEADER_BYTES);
  return at + COPY_HEADER_BYTES;
}

export function writeCopyTrailer(buffer: Buffer, at: number): number {
  return buffer.writeInt16BE(-1, at);
}

/** Bytes of a `vector(d)` field, its length word included. */
export function vectorFieldBytes(dimension: number): number {
  return 4 + 4 + 4 * dimension;
}

/**
 * Writes a `vector` field (length word, int16 dimension, int16 0, the components big-endian) at `at`; returns the
 * offset after it. The components are copied as bytes and swapped in place: one native call instead of a call per
 * component.
 */
export function writeVectorField(buffer: Buffer, at: number, values: Float32Array): number {
  const d = values.length;
  at = buffer.writeInt32BE(4 + 4 * d, at);
  at = buffer.writeInt16BE(d, at);
  at = buffer.writeInt16BE(0, at);
  const bytes = Buffer.from(values.buffer, values.byteOffset, 4 * d);
  bytes.copy(buffer, at);
  if (LITTLE_ENDIAN_HOST) buffer.subarray(at, at + 4 * d).swap32();
  return at + 4 * d;
}
