import { readFileSync, statSync } from 'node:fs';
import { VectorstackError } from '../errors.js';

/** Rows of equal dimension stored back to back: `values[i * dimension + j]` is row i, component j. */
export interface VectorSet<T extends Float32Array | Int32Array = Float32Array> {
  file: string;
  count: number;
  dimension: number;
  values: T;
}

export type FloatVectors = VectorSet<Float32Array>;
export type IntVectors = VectorSet<Int32Array>;

/** A dataset file that is missing, truncated or of another dimension; names the file. */
export class VectorFileError extends VectorstackError {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
  }
}

/** Row i of a vector set (a view, not a copy). */
export function row<T extends Float32Array | Int32Array>(set: VectorSet<T>, i: number): T {
  return set.values.subarray(i * set.dimension, (i + 1) * set.dimension) as T;
}

/** Rows as plain arrays, for clients that want number[] (Milvus) or text literals (pgvector). */
export function rowArray(set: VectorSet, i: number): number[] {
  return Array.from(row(set, i));
}

/** pgvector's text form of row i: `[1,2,3]`. */
export function pgVectorLiteral(set: VectorSet, i: number): string {
  return `[${row(set, i).join(',')}]`;
}

/**
 * Reads a TEXMEX `.fvecs` / `.ivecs` file: each record is a little-endian int32 dimension d followed by d float32
 * (fvecs) or int32 (ivecs) values, no header. Every record must have the same d; `limit` reads only the first rows.
 */
function readRecords(
  file: string,
  element: 'float32' | 'int32',
  limit?: number,
): VectorSet<Float32Array | Int32Array> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (error) {
    throw new VectorFileError(
      file,
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  if (size < 4) throw new VectorFileError(file, `too short for a record (${size} bytes)`);
  const buffer = readFileSync(file);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const dimension = view.getInt32(0, true);
  if (dimension <= 0 || dimension > 1_000_000)
    throw new VectorFileError(file, `first record declares dimension ${dimension}: not a .fvecs/.ivecs file`);
  const recordBytes = 4 + 4 * dimension;
  if (size % recordBytes !== 0) {
    const whole = Math.floor(size / recordBytes);
    throw new VectorFileError(
      file,
      `truncated or corrupt: ${size} bytes is not a whole number of ${recordBytes}-byte records (dimension ${dimension}); ${whole} complete record(s), then ${size % recordBytes} stray byte(s)`,
    );
  }
  const total = size / recordBytes;
  const count = limit === undefined ? total : Math.min(limit, total);
  const values =
    element === 'float32' ? new Float32Array(count * dimension) : new Int32Array(count * dimension);
  for (let i = 0; i < count; i++) {
    const offset = i * recordBytes;
    const declared = view.getInt32(offset, true);
    if (declared !== dimension)
      throw new VectorFileError(
        file,
        `record ${i} declares dimension ${declared}, but the first record has ${dimension}: every record must have the same dimension`,
      );
    for (let j = 0; j < dimension; j++) {
      const at = offset + 4 + 4 * j;
      values[i * dimension + j] = element === 'float32' ? view.getFloat32(at, true) : view.getInt32(at, true);
    }
  }
  return { file, count, dimension, values };
}

export function readFvecs(file: string, options: { limit?: number } = {}): FloatVectors {
  return readRecords(file, 'float32', options.limit) as FloatVectors;
}

export function readIvecs(file: string, options: { limit?: number } = {}): IntVectors {
  return readRecords(file, 'int32', options.limit) as IntVectors;
}

/** Encodes rows as a `.fvecs` / `.ivecs` buffer (tests and user tooling write datasets with it). */
export function encodeVecs(rows: number[][], element: 'float32' | 'int32'): Buffer {
  const size = rows.reduce((sum, r) => sum + 4 + 4 * r.length, 0);
  const buffer = Buffer.alloc(size);
  let at = 0;
  for (const r of rows) {
    buffer.writeInt32LE(r.length, at);
    at += 4;
    for (const value of r) {
      if (element === 'float32') buffer.writeFloatLE(value, at);
      else buffer.writeInt32LE(value, at);
      at += 4;
    }
  }
  return buffer;
}
