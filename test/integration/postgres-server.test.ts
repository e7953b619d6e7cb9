// PostgreSQL's server settings on the shared Docker stack: the configured maintenance_work_mem, and a /dev/shm large
// enough for a parallel HNSW build to keep its graph there. With Docker's default 64 MB /dev/shm such a build fails
// with `could not resize shared memory segment ... No space left on device` (measured before the fix: a 12 MB table,
// maintenance_work_mem 256 MB, one parallel worker).
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresSharedMemoryMb } from '../../lib/services/specs.js';
import { openSharedStack } from './shared-stack.js';

const stack = await openSharedStack();
afterAll(() => stack.close());

/** A scratch table above min_parallel_table_scan_size (8 MB), so the planner asks for parallel workers. */
const ROWS = 30_000;
const DIMENSION = 64;

describe('PostgreSQL server settings', () => {
  it('runs with the configured maintenance_work_mem and a /dev/shm of that plus headroom', async () => {
    const { postgres } = stack.config;
    const shown = await stack.with(
      stack.postgres({ role: 'admin' }),
      async (c) =>
        (await c.query<{ maintenance_work_mem: string }>('SHOW maintenance_work_mem')).rows[0]!
          .maintenance_work_mem,
    );
    expect(shown).toBe(`${postgres.maintenanceWorkMemMb}MB`);
    const df = await stack.exec('postgres', ['df', '-m', '--output=size', '/dev/shm']);
    expect(Number(df.stdout.trim().split('\n').at(-1))).toBe(postgresSharedMemoryMb(postgres));
  });

  it('builds an HNSW index with a parallel worker using the whole maintenance_work_mem', async () => {
    await stack.with(stack.postgres({ role: 'admin' }), async (c: pg.Client) => {
      const messages: string[] = [];
      c.on('notice', (notice) => messages.push(notice.message ?? ''));
      await c.query('CREATE EXTENSION IF NOT EXISTS vector');
      // A table of its own, not a temporary one: parallel workers cannot read a session's temporary tables.
      await c.query('DROP TABLE IF EXISTS parallel_hnsw');
      await c.query(`CREATE TABLE parallel_hnsw (id int, v vector(${DIMENSION}))`);
      try {
        await c.query(
          `INSERT INTO parallel_hnsw SELECT g, (SELECT array_agg(random()::real) FROM generate_series(1, ${DIMENSION}) WHERE g > 0)::vector FROM generate_series(1, ${ROWS}) g`,
        );
        await c.query('ANALYZE parallel_hnsw');
        await c.query('SET max_parallel_maintenance_workers = 1');
        await c.query('SET client_min_messages = debug1');
        // Small m and ef_construction: the test is about where the graph lives, not about its quality.
        await c.query(
          'CREATE INDEX ON parallel_hnsw USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 10)',
        );
        await c.query('RESET client_min_messages');
      } finally {
        await c.query('DROP TABLE IF EXISTS parallel_hnsw');
      }
      expect(messages).toContain('using 1 parallel workers');
    });
  });
});
