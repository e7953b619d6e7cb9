// Backup and restore of the whole data plane, proven on real servers: a Docker stack of its own (project vsbackup,
// ports 25901-25905) is loaded, backed up, destroyed with its volumes, brought up empty, bootstrapped and restored;
// counts, rows, vectors and search results must come back identical. Bad backup sets are refused with nothing
// restored, and a restore interrupted midway completes when run again.
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkUuid, loadBackupData } from '../../lib/bench/backup-data.js';
import { bootstrap } from '../../lib/bootstrap/index.js';
import { takeBackup } from '../../lib/ops/backup/backup.js';
import { MANIFEST_FILE, type Manifest, sealOf } from '../../lib/ops/backup/manifest.js';
import { restoreBackup } from '../../lib/ops/backup/restore.js';
import { BackupSetError, RestoreRefusedError } from '../../lib/ops/backup/types.js';
import type { RunningStack } from '../../lib/stack/running-stack.js';
import { driverFor } from '../../lib/targets/index.js';
import { Progress } from '../../lib/util/progress.js';
import { DEFAULT_DATASET_DIR, exactGroundTruth } from '../../lib/verify/dataset.js';
import { readFvecs, rowArray } from '../../lib/verify/vectors.js';
import { MILVUS_COLLECTIONS } from '../../schemas/milvus/collections.js';
import { requirePreparedHost, testDeployment } from './prerequisites.js';

const PROJECT = 'vsbackup';
const deployment = testDeployment(PROJECT, 25900, { embedding: { dimension: 128, metric: 'l2' } });
const verbose = !!process.env.VECTORSTACK_TEST_VERBOSE;
const progress = new Progress(undefined, verbose);
const driver = driverFor(deployment, { progress });
const base = readFvecs(path.join(DEFAULT_DATASET_DIR, 'siftsmall_base.fvecs'), { limit: 2000 });
const queries = readFvecs(path.join(DEFAULT_DATASET_DIR, 'siftsmall_query.fvecs'), { limit: 5 });
/** The exact 10 nearest base rows of each query: what both stores must answer before and after. */
const truth = exactGroundTruth(base, queries, 10);
const backupRoot = mkdtempSync(path.join(os.tmpdir(), 'vsbackup-sets-'));

let stack: RunningStack;
let setDir: string;

async function up(): Promise<RunningStack> {
  await driver.apply();
  const opened = await driver.open();
  const result = await bootstrap({ stack: opened, progress });
  expect(result.exitCode).toBe(0);
  return opened;
}

/** Top-10 ids of the fixed queries in both stores, with search settings wide enough to be exact at this size. */
async function searchBoth(s: RunningStack): Promise<{ postgres: string[][]; milvus: string[][] }> {
  const postgres = await s.with(s.postgres({ role: 'readonly' }), async (c) => {
    await c.query('BEGIN');
    await c.query('SET LOCAL hnsw.ef_search = 400');
    const out: string[][] = [];
    for (let q = 0; q < queries.count; q++) {
      const { rows } = await c.query<{ id: string }>(
        'SELECT chunk_id::text AS id FROM chunk_embeddings ORDER BY embedding <-> $1::vector LIMIT 10',
        [`[${rowArray(queries, q).join(',')}]`],
      );
      out.push(rows.map((r) => r.id));
    }
    await c.query('COMMIT');
    return out;
  });
  const milvus = await s.with(s.milvus(), async (m) => {
    const out: string[][] = [];
    for (let q = 0; q < queries.count; q++) {
      const res = await m.search({
        collection_name: MILVUS_COLLECTIONS.dense,
        data: [rowArray(queries, q)],
        limit: 10,
        params: { ef: 400 },
        output_fields: ['chunk_id'],
      });
      out.push((res.results as unknown as { chunk_id: string }[]).map((r) => r.chunk_id));
    }
    return out;
  });
  return { postgres, milvus };
}

/** Rows or keys each store holds outside bootstrap's own bookkeeping. */
async function holdings(s: RunningStack): Promise<{ postgres: number; milvus: number; redis: number }> {
  const postgres = await s.with(s.postgres({ role: 'admin' }), async (c) => {
    const { rows } = await c.query<{ n: string }>(
      'SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM document_chunks) + (SELECT count(*) FROM chunk_embeddings) AS n',
    );
    return Number(rows[0]!.n);
  });
  const milvus = await s.with(s.milvus(), async (m) => {
    const stats = await m.getCollectionStatistics({ collection_name: MILVUS_COLLECTIONS.dense });
    return Number(stats.data.row_count);
  });
  const redis = await s.with(s.redis(), async (r) => {
    const info = await r.info('keyspace');
    return [...info.matchAll(/keys=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  });
  return { postgres, milvus, redis };
}

/** A copy of the set to spoil, in a directory of its own. */
function copyOfSet(name: string, spoil: (dir: string, manifest: Manifest) => void): string {
  const dir = path.join(backupRoot, `bad-${name}`);
  cpSync(setDir, dir, { recursive: true });
  spoil(dir, JSON.parse(readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest);
  return dir;
}

function rewriteManifest(dir: string, manifest: Manifest, reseal: boolean): void {
  const written = reseal ? { ...manifest, seal: sealOf(manifest) } : manifest;
  writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify(written, null, 2));
}

let before: { postgres: string[][]; milvus: string[][] };

beforeAll(async () => {
  await requirePreparedHost();
  await driver.destroy(); // what a previous run that died before its afterAll left (no state records it)
  stack = await up();
  await loadBackupData(stack, base, progress);
  before = await searchBoth(stack);
});

afterAll(async () => {
  await stack?.close();
  await driver.destroy();
  rmSync(backupRoot, { recursive: true, force: true });
});

describe('backup and restore on a real stack', () => {
  it('the loaded stack answers the fixed queries with their exact neighbours', () => {
    const exact = Array.from({ length: queries.count }, (_, q) =>
      Array.from(truth.values.subarray(q * 10, q * 10 + 10), (i) => chunkUuid(i)),
    );
    expect(before.postgres).toEqual(exact);
    expect(before.milvus).toEqual(exact);
  });

  it('backs up every store into an owner-only set with counts, checksums and recall', async () => {
    const result = await takeBackup({ stack, to: backupRoot, progress });
    setDir = result.dir;
    const m = result.manifest;
    expect(statSync(setDir).mode & 0o777).toBe(0o700);
    for (const file of [MANIFEST_FILE, ...m.files.map((f) => f.path)])
      expect(statSync(path.join(setDir, file)).mode & 0o777).toBe(0o600);
    const tables = Object.fromEntries(m.stores.postgres!.tables.map((t) => [t.name, t.rows]));
    expect(tables).toMatchObject({ documents: 20, document_chunks: 2000, chunk_embeddings: 2000 });
    expect(m.stores.postgres!.extensions.map((e) => e.name)).toContain('vector');
    expect(m.stores.postgres!.roles).toEqual(
      expect.arrayContaining(['vectorstack', 'vectorstack_owner', 'vectorstack_readonly']),
    );
    const dense = m.stores.milvus!.collections.find((c) => c.name === MILVUS_COLLECTIONS.dense)!;
    expect(dense.rows).toBe(2000);
    expect(dense.recall[0]!.recall).toBeGreaterThan(0.9);
    expect(m.stores.postgres!.recall[0]!.recall).toBeGreaterThan(0.9);
    expect(m.stores.redis!.databases).toEqual([
      expect.objectContaining({ db: 0, keys: 2006 }),
      expect.objectContaining({ db: 1, keys: 2 }),
    ]);
    expect(m.kit.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(m.stores.postgres!.serverVersion).toMatch(/^\d+\.\d+/);
  });

  it('destroys the stack with its volumes and brings it up empty', async () => {
    await stack.close();
    await driver.destroy();
    stack = await up();
    expect(await holdings(stack)).toEqual({ postgres: 0, milvus: 0, redis: 0 });
  });

  it('refuses a set without a manifest, naming the file; nothing is restored', async () => {
    const dir = copyOfSet('missing', (d) => rmSync(path.join(d, MANIFEST_FILE)));
    await expect(restoreBackup({ stack, from: dir, progress })).rejects.toThrow(
      new RegExp(`${MANIFEST_FILE} is missing`),
    );
    expect(await holdings(stack)).toEqual({ postgres: 0, milvus: 0, redis: 0 });
  });

  it('refuses an edited manifest; nothing is restored', async () => {
    const dir = copyOfSet('edited', (d, m) => {
      m.stores.postgres!.tables.find((t) => t.name === 'chunk_embeddings')!.rows = 1999;
      rewriteManifest(d, m, false);
    });
    const error = await restoreBackup({ stack, from: dir, progress }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(BackupSetError);
    expect((error as Error).message).toMatch(/manifest\.json was edited after the backup/);
    expect(await holdings(stack)).toEqual({ postgres: 0, milvus: 0, redis: 0 });
  });

  it('refuses a truncated dump, naming the file; nothing is restored', async () => {
    let dump = '';
    const dir = copyOfSet('truncated', (d, m) => {
      dump = path.join(d, m.stores.postgres!.dump);
      truncateSync(dump, Math.floor(statSync(dump).size / 2));
    });
    const error = await restoreBackup({ stack, from: dir, progress }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(BackupSetError);
    expect((error as Error).message).toContain(`${dump}:`);
    expect((error as Error).message).toMatch(/truncated/);
    expect(await holdings(stack)).toEqual({ postgres: 0, milvus: 0, redis: 0 });
  });

  it('refuses a backup from newer servers than the target, naming each store; nothing is restored', async () => {
    const dir = copyOfSet('newer', (d, m) => {
      m.stores.postgres!.serverVersion = '99.1';
      m.stores.postgres!.serverVersionNum = 990001;
      m.stores.milvus!.serverVersion = 'v9.0.0';
      m.stores.redis!.serverVersion = '99.0.0';
      rewriteManifest(d, m, true);
    });
    const error = await restoreBackup({ stack, from: dir, progress }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RestoreRefusedError);
    const message = (error as Error).message;
    expect(message).toMatch(/nothing was restored/);
    expect(message).toMatch(/postgres: the backup comes from PostgreSQL 99\.1, newer than the target's 17/);
    expect(message).toMatch(/milvus: the backup comes from Milvus v9\.0\.0, newer/);
    expect(message).toMatch(/redis: the backup comes from Redis 99\.0\.0, newer/);
    expect(await holdings(stack)).toEqual({ postgres: 0, milvus: 0, redis: 0 });
  });

  it('a restore interrupted in the middle of Milvus completes when run again, without --force', async () => {
    const interrupting = new Progress((line) => {
      if (verbose) process.stderr.write(`${line}\n`);
      if (/milvus: default\/rag_chunks: .* inserted/.test(line)) throw new Error('interrupted for the test');
    });
    await expect(restoreBackup({ stack, from: setDir, progress: interrupting })).rejects.toThrow(
      'interrupted for the test',
    );
    const partial = await holdings(stack);
    expect(partial.postgres).toBe(4020);
    expect(partial.redis).toBe(0);

    const result = await restoreBackup({ stack, from: setDir, progress });
    expect(result.resumed).toContain('postgres');
    expect(result.recall.length).toBeGreaterThanOrEqual(2);
    for (const r of result.recall) expect(r.after).toBeGreaterThanOrEqual(r.before - 0.01);
  });

  it('the restored stores hold the same rows and answer the same queries with the same ids', async () => {
    expect(await holdings(stack)).toEqual({ postgres: 4020, milvus: 2000, redis: 2008 });
    expect(await searchBoth(stack)).toEqual(before);
    // The restored schema is what bootstrap expects: nothing to change, no drift.
    const plan = await bootstrap({ stack, planOnly: true });
    expect(plan.exitCode).toBe(0);
    expect(plan.stores.find((s) => s.store === 'postgres')!.drift).toEqual([]);
    // The application role reads the restored rows: ownership and grants came back with the dump.
    const n = await stack.with(stack.postgres({ role: 'app' }), (c) =>
      c.query<{ n: string }>('SELECT count(*) AS n FROM chunk_embeddings'),
    );
    expect(Number(n.rows[0]!.n)).toBe(2000);
  });

  it('refuses to restore over data without --force, naming what it found', async () => {
    const error = await restoreBackup({ stack, from: setDir, progress }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RestoreRefusedError);
    const message = (error as Error).message;
    expect(message).toMatch(/the target holds data; nothing was restored/);
    expect(message).toMatch(/postgres: public\.chunk_embeddings: 2000 row\(s\)/);
    expect(message).toMatch(/milvus: default\/rag_chunks: 2000 row\(s\)/);
    expect(message).toMatch(/redis: db0: 2006 key\(s\)/);
  });
});
