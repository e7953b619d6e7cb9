// The row files of Milvus collections in a backup set ("VSROWS1"): columnar frames, one per page read, so a file of any
// size streams in and out in constant memory and vectors keep their exact float32 bits.
//
//   file  := "VSROWS1\n" frame* end
//   frame := u32le n | n bytes of JSON header {"rows": r, "columns": {field: [r values]}} | vector blocks
//   block := one per vector field, in the order the reader and writer are given: r × dim float32 little-endian
//            (FloatVector) or r × dim/8 bytes (BinaryVector)
//   end   := u32le 0
//
// Scalars keep their JSON form (Int64 as decimal strings, JSON fields as values, the dynamic field as `$meta`). A file
// without its end marker is truncated; the manifest's SHA-256 catches every other alteration.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { BackupSetError } from './types.js';

const MAGIC = Buffer.from('VSROWS1\n', 'latin1');

export interface VectorColumn {
  name: string;
  kind: 'float' | 'binary';
  dim: number;
}

export type Row = Record<string, unknown>;

function vectorBytes(column: VectorColumn): number {
  return column.kind === 'float' ? column.dim * 4 : column.dim / 8;
}

export class RowFileWriter {
  private readonly fd: number;
  rows = 0;

  constructor(
    readonly file: string,
    private readonly vectors: VectorColumn[],
  ) {
    this.fd = openSync(file, 'w', 0o600);
    writeSync(this.fd, MAGIC);
  }

  /** One frame holding `rows` (objects as the server returned them). */
  write(rows: Row[]): void {
    if (rows.length === 0) return;
    const vectorNames = new Set(this.vectors.map((v) => v.name));
    const columns: Record<string, unknown[]> = {};
    for (const name of Object.keys(rows[0]!)) if (!vectorNames.has(name)) columns[name] = [];
    for (const row of rows) for (const name of Object.keys(columns)) columns[name]!.push(row[name] ?? null);
    const header = Buffer.from(JSON.stringify({ rows: rows.length, columns }), 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    writeSync(this.fd, length);
    writeSync(this.fd, header);
    for (const column of this.vectors) {
      const size = vectorBytes(column);
      const block = Buffer.alloc(rows.length * size);
      rows.forEach((row, r) => {
        const values = row[column.name] as ArrayLike<number>;
        if (!values || values.length * (column.kind === 'float' ? 4 : 1) !== size)
          throw new Error(
            `row ${this.rows + r}: field ${column.name} is not a ${column.dim}-dimensional vector`,
          );
        if (column.kind === 'float')
          for (let j = 0; j < values.length; j++) block.writeFloatLE(values[j]!, r * size + j * 4);
        else for (let j = 0; j < values.length; j++) block[r * size + j] = values[j]!;
      });
      writeSync(this.fd, block);
    }
    this.rows += rows.length;
  }

  close(): void {
    const end = Buffer.alloc(4);
    writeSync(this.fd, end);
    closeSync(this.fd);
  }
}

/** Reads exactly `length` bytes at `position`, or fails naming the file as truncated. */
function readExact(fd: number, file: string, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0)
      throw new BackupSetError(`${file}: truncated at byte ${position + done} (a frame is incomplete)`);
    done += n;
  }
  return buffer;
}

/**
 * The frames of a row file, each as row objects with vectors as number arrays (float32 values, exact). Frames are read
 * one at a time.
 */
export function* readRowFile(file: string, vectors: VectorColumn[]): Generator<Row[]> {
  const fd = openSync(file, 'r');
  try {
    let at = 0;
    if (!readExact(fd, file, MAGIC.length, at).equals(MAGIC))
      throw new BackupSetError(`${file}: not a vectorstack row file (bad magic)`);
    at += MAGIC.length;
    for (;;) {
      const headerLength = readExact(fd, file, 4, at).readUInt32LE(0);
      at += 4;
      if (headerLength === 0) return;
      const header = JSON.parse(readExact(fd, file, headerLength, at).toString('utf8')) as {
        rows: number;
        columns: Record<string, unknown[]>;
      };
      at += headerLength;
      const rows: Row[] = Array.from({ length: header.rows }, (_, r) => {
        const row: Row = {};
        for (const [name, values] of Object.entries(header.columns)) row[name] = values[r];
        return row;
      });
      for (const column of vectors) {
        const size = vectorBytes(column);
        const block = readExact(fd, file, header.rows * size, at);
        at += header.rows * size;
        for (let r = 0; r < header.rows; r++) {
          const values = new Array<number>(column.kind === 'float' ? column.dim : size);
          if (column.kind === 'float')
            for (let j = 0; j < column.dim; j++) values[j] = block.readFloatLE(r * size + j * 4);
          else for (let j = 0; j < size; j++) values[j] = block[r * size + j]!;
          rows[r]![column.name] = values;
        }
      }
      yield rows;
    }
  } finally {
    closeSync(fd);
  }
}
