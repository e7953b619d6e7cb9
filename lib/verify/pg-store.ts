import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { type FloatVectors, pgVectorLiteral } from './vectors.js';

/** Scratch names: a fixed prefix (easy to find and clean up by hand) and a random suffix (runs never collide). */
export function scratchName(purpose: string): string {
  return `vs_scratch_${purpose}_${Math.random().toString(36).slice(2, 10)}`;
}

/** Creates `name (id int, embedding vector(d))`, runs `work`, and drops the table whatever happens. */
export async function withScratchTable<T>(
  client: pg.Client,
  name: string,
  dimension: number,
  work: () => Promise<T>,
): Promise<T> {
  await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  await client.query(
    `CREATE TABLE ${name} (id integer PRIMARY KEY, embedding vector(${dimension}) NOT NULL)`,
  );
  try {
    return await work();
  } finally {
    // A failed statement inside an open transaction would make DROP fail too.
    await client.query('ROLLBACK').catch(() => {});
    await client.query(`DROP TABLE IF EXISTS ${name}`).catch(() => {});
  }
}

/** COPY FROM STDIN in text format: one `id<TAB>[v1,...]` line per row. */
export async function copyVectors(client: pg.Client, table: string, vectors: FloatVectors): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (id, embedding) FROM STDIN`));
  async function* lines() {
    const chunk: string[] = [];
    for (let i = 0; i < vectors.count; i++) {
      chunk.push(`${i}\t${pgVectorLiteral(vectors, i)}\n`);
      if (chunk.length === 500) yield chunk.splice(0).join('');
    }
    if (chunk.length) yield chunk.join('');
  }
  await pipeline(lines(), stream);
}

/** One INSERT statement per row, each its own transaction (what a naive loader does). */
export async function insertRowByRow(
  client: pg.Client,
  table: string,
  vectors: FloatVectors,
  count = vectors.count,
) {
  for (let i = 0; i < count; i++) {
    await client.query(`INSERT INTO ${table} (id, embedding) VALUES ($1, $2)`, [
      i,
      pgVectorLiteral(vectors, i),
    ]);
  }
}

/** Multi-row INSERT statements of `batchSize` rows each. */
export async function insertMultiRow(
  client: pg.Client,
  table: string,
  vectors: FloatVectors,
  batchSize = 500,
) {
  for (let start = 0; start < vectors.count; start += batchSize) {
    const end = Math.min(start + batchSize, vectors.count);
    const params: (number | string)[] = [];
    const tuples: string[] = [];
    for (let i = start; i < end; i++) {
      tuples.push(`($${params.length + 1}, $${params.length + 2})`);
      params.push(i, pgVectorLiteral(vectors, i));
    }
    await client.query(`INSERT INTO ${table} (id, embedding) VALUES ${tuples.join(', ')}`, params);
  }
}
