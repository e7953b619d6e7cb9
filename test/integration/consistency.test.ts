import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { ConsistencyLevelEnum } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { bootstrap } from '../../lib/bootstrap/index.js';
import { removeBootstrapObjects } from '../../lib/bootstrap/teardown.js';
import type { VectorstackConfig } from '../../lib/config/schema.js';
import { tokenRows } from '../../lib/milvus/search.js';
import { runConsistency } from '../../lib/ops/consistency/check.js';
import { ConsistencyError, type ConsistencyReport } from '../../lib/ops/consistency/types.js';
import { REPO_ROOT } from '../../lib/paths.js';
import { waitFor } from '../../lib/util/poll.js';
import { MILVUS_COLLECTIONS } from '../../schemas/milvus/collections.js';
import { openSharedStack, SHARED_STACK_DIR } from './shared-stack.js';

const stack = await openSharedStack();
const dimension = stack.config.embedding.dimension;

/** Each test bootstraps a schema and prefix of its own (PostgreSQL and Milvus only), removed at the end. */
const used: { postgresSchema: string; prefix: string }[] = [];
async function fresh(tag: string) {
  const id = `${tag}${process.pid % 10000}${Date.now() % 10000}`;
  const names = { postgresSchema: `itcons_${id}`, prefix: `itc${id}_` };
  used.push(names);
  const config = structuredClone(stack.config);
  config.redis.enabled = false;
  const result = await bootstrap({ stack, config, ...names });
  expect(result.exitCode).toBe(0);
  const s = names.postgresSchema;
  return {
    ...names,
    dense: names.prefix + MILVUS_COLLECTIONS.dense,
    tokens: names.prefix + MILVUS_COLLECTIONS.tokens,
    t: (table: string) => `${s}.${table}`,
  };
}
type Names = Awaited<ReturnType<typeof fresh>>;

// After each test, not at the end: every bootstrap creates two Milvus roles, and Milvus allows ten in all.
afterEach(async () => {
  for (const names of used.splice(0)) await removeBootstrapObjects(stack, names);
});
afterAll(() => stack.close());

/** A document and `count` chunks, inserted as the application would (app role, qualified names, its search_path). */
async function addDocument(client: pg.Client, n: Names, count: number, status = 'embedded') {
  const doc = await client.query<{ id: string }>(
    `INSERT INTO ${n.t('documents')} (source_type, source_id) VALUES ('file', $1) RETURNING id`,
    [randomUUID()],
  );
  const documentId = doc.rows[0]!.id;
  const chunks = await client.query<{ id: string }>(
    `INSERT INTO ${n.t('document_chunks')} (document_id, position, content, embedding_status)
       SELECT $1, g, 'chunk ' || g, $3 FROM generate_series(0, $2 - 1) g RETURNING id`,
    [documentId, count, status],
  );
  return { documentId, chunkIds: chunks.rows.map((r) => r.id) };
}

const vectorRow = (chunkId: string, documentId: string) => ({
  chunk_id: chunkId,
  embedding: Array.from({ length: dimension }, (_, i) => (i === 0 ? 1 : 0.1)),
  document_id: documentId,
  source_type: 'file',
  language: 'en',
  chunk_position: 0,
  created_timestamp: 0,
});

async function insertVectors(collection: string, ids: string[], documentId = 'd') {
  await stack.with(stack.milvus(), async (m) => {
    const result = await m.insert({
      collection_name: collection,
      data: ids.map((id) => vectorRow(id, documentId)),
    });
    expect(Number(result.insert_cnt)).toBe(ids.length);
  });
}

/** Which of `ids` the collection holds now (Strong consistency). */
async function vectorIds(collection: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  return stack.with(stack.milvus(), async (m) => {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 1000) {
      const answer = await m.query({
        collection_name: collection,
        expr: `chunk_id in [${ids
          .slice(i, i + 1000)
          .map((id) => JSON.stringify(id))
          .join(',')}]`,
        output_fields: ['chunk_id'],
        limit: 16_384,
        consistency_level: ConsistencyLevelEnum.Strong,
      });
      for (const row of answer.data) found.add(String(row.chunk_id));
    }
    return [...found].sort();
  });
}

// Node with tsx's loader, not the tsx command: the command runs the script in a child process of its own, which a
// SIGKILL of the command leaves running (the killed-repair test would then watch an orphan finish the work).
const tsxLoader = pathToFileURL(path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const script = path.join(REPO_ROOT, 'scripts', 'consistency.ts');

/** `npm run consistency` in the shared stack's directory (its config file names the stack), as a user runs it. */
function startCli(n: Names, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const argv = ['--import', tsxLoader, script, '--schema', n.postgresSchema, '--prefix', n.prefix, ...args];
  return spawn(process.execPath, argv, {
    cwd: SHARED_STACK_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function runCli(n: Names, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = startCli(n, args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const json = args.includes('--json') && code !== 1 ? (JSON.parse(stdout) as ConsistencyReport) : undefined;
  return { code, stdout, stderr, json };
}

const dense = (r: ConsistencyReport) =>
  r.collections.find((c) => c.collection.endsWith(MILVUS_COLLECTIONS.dense))!;
const tokens = (r: ConsistencyReport) =>
  r.collections.find((c) => c.collection.endsWith(MILVUS_COLLECTIONS.tokens));

describe('vector outbox: the delete trigger', () => {
  it('records the chunks of a deleted document in the same transaction; a rolled-back delete records nothing', async () => {
    const n = await fresh('trig');
    await stack.with(stack.postgres(), async (app) => {
      const a = await addDocument(app, n, 3);
      const b = await addDocument(app, n, 2);
      const outbox = async () =>
        (
          await app.query<{ chunk_id: string; document_id: string; done_at: Date | null }>(
            `SELECT chunk_id, document_id, done_at FROM ${n.t('vector_outbox')} ORDER BY chunk_id`,
          )
        ).rows;

      await app.query('BEGIN');
      await app.query(`DELETE FROM ${n.t('documents')} WHERE id = $1`, [a.documentId]);
      expect((await outbox()).length).toBe(3); // visible inside the deleting transaction
      await app.query('ROLLBACK');
      expect(await outbox()).toEqual([]);

      await app.query(`DELETE FROM ${n.t('documents')} WHERE id = $1`, [a.documentId]);
      expect(await outbox()).toEqual(
        [...a.chunkIds].sort().map((chunk_id) => ({ chunk_id, document_id: a.documentId, done_at: null })),
      );
      // A chunk deleted on its own is recorded too.
      await app.query(`DELETE FROM ${n.t('document_chunks')} WHERE id = $1`, [b.chunkIds[0]]);
      expect((await outbox()).map((r) => r.chunk_id)).toContain(b.chunkIds[0]);
      expect((await outbox()).length).toBe(4);
    });
  });
});

describe('npm run consistency on real servers', () => {
  it('detects each kind of inconsistency, repairs all it may, and a second run reports none', async () => {
    const n = await fresh('kinds');
    const app = await stack.postgres();
    try {
      // Consistent: 4 embedded chunks with vectors. Faults: 2 embedded chunks without a vector, 3 vectors without a
      // chunk (one id is no uuid at all), token rows of a chunk that does not exist.
      const good = await addDocument(app, n, 6);
      await insertVectors(n.dense, good.chunkIds.slice(0, 4), good.documentId);
      const missing = good.chunkIds.slice(4).sort();
      const strays = [randomUUID(), randomUUID(), 'not-a-chunk'].sort();
      await insertVectors(n.dense, strays);
      const strayTokens = randomUUID();
      const tokenVector = Array.from({ length: 128 }, (_, i) => (i === 0 ? 1 : 0));
      await stack.with(stack.milvus(), async (m) => {
        await m.insert({
          collection_name: n.tokens,
          data: [
            ...tokenRows({ chunkId: strayTokens, documentId: 'd' }, [tokenVector, tokenVector]),
            ...tokenRows({ chunkId: good.chunkIds[0]!, documentId: good.documentId }, [tokenVector]),
          ],
        });
      });
      // A deleted document whose vectors are still in Milvus: pending outbox entries.
      const gone = await addDocument(app, n, 2);
      await insertVectors(n.dense, gone.chunkIds, gone.documentId);
      await app.query(`DELETE FROM ${n.t('documents')} WHERE id = $1`, [gone.documentId]);
      // An orphaned chunk: its document deleted with the foreign key bypassed (as a bad restore would).
      const orphan = await addDocument(app, n, 1);
      await insertVectors(n.dense, orphan.chunkIds, orphan.documentId);
      await stack.with(stack.postgres({ role: 'admin' }), async (admin) => {
        await admin.query('SET session_replication_role = replica');
        await admin.query(`DELETE FROM ${n.t('documents')} WHERE id = $1`, [orphan.documentId]);
      });

      const check = await runConsistency(stack, { schema: n.postgresSchema, prefix: n.prefix });
      expect(check.exitCode).toBe(2);
      expect(dense(check).vectorsWithoutChunk).toEqual({ found: 3, repaired: 0, sample: strays });
      expect(dense(check).embeddedWithoutVector).toEqual({ found: 2, repaired: 0, sample: missing });
      expect(dense(check).awaitingDrain).toBe(2);
      expect(check.outbox.pendingBefore).toBe(2);
      expect(check.orphanedChunks).toEqual({ found: 1, repaired: 0, sample: orphan.chunkIds });
      if (tokens(check)) expect(tokens(check)!.vectorsWithoutChunk.sample).toEqual([strayTokens]);

      // The command reports the same, with exit code 2, and repairs all but the orphaned chunk (exit 2).
      const cliCheck = await runCli(n, ['--json']);
      expect(cliCheck.code).toBe(2);
      expect(dense(cliCheck.json!)).toEqual(dense(check));
      const repair = await runCli(n, ['--repair', '--json']);
      expect(repair.code).toBe(2);
      const r = repair.json!;
      expect(r.outbox).toMatchObject({ pendingBefore: 2, drained: 2, pendingAfter: 0 });
      expect(dense(r).vectorsWithoutChunk).toMatchObject({ found: 3, repaired: 3 });
      expect(dense(r).embeddedWithoutVector).toMatchObject({ found: 2, repaired: 2 });
      if (tokens(r)) expect(tokens(r)!.vectorsWithoutChunk).toMatchObject({ found: 1, repaired: 1 });
      expect(r.orphanedChunks.found).toBe(1);
      expect(repair.stderr).toContain('outbox: 2 of 2 pending entries applied');

      // What the repair did, seen in the stores.
      expect(await vectorIds(n.dense, [...strays, ...gone.chunkIds])).toEqual([]);
      const statuses = await app.query<{ embedding_status: string }>(
        `SELECT embedding_status FROM ${n.t('document_chunks')} WHERE id = ANY($1::uuid[])`,
        [missing],
      );
      expect(statuses.rows.map((row) => row.embedding_status)).toEqual(['pending', 'pending']);
      const counted = await app.query<{ rows: number }>(
        `SELECT count(*)::int AS rows FROM ${n.t('document_chunks')}`,
      );
      expect(counted.rows[0]!.rows).toBe(7); // no PostgreSQL row was deleted

      // The orphaned chunk is for a person to resolve: deleting it queues its vector, and the next repair drains it.
      await app.query(`DELETE FROM ${n.t('document_chunks')} WHERE id = $1`, [orphan.chunkIds[0]]);
      const second = await runConsistency(stack, {
        schema: n.postgresSchema,
        prefix: n.prefix,
        repair: true,
      });
      expect(second.exitCode).toBe(0);
      expect(second.outbox.drained).toBe(1);
      expect(await vectorIds(n.dense, orphan.chunkIds)).toEqual([]);

      const clean = await runCli(n, ['--json']);
      expect(clean.code).toBe(0);
      const c = clean.json!;
      expect(c.exitCode).toBe(0);
      expect(c.orphanedChunks.found + c.outbox.pendingBefore).toBe(0);
      for (const collection of c.collections) {
        expect(collection.vectorsWithoutChunk.found).toBe(0);
        expect(collection.embeddedWithoutVector.found).toBe(0);
      }
      expect(dense(c).vectors).toBe(4);
      const table = await runCli(n, []);
      expect(table.code).toBe(0);
      expect(table.stdout).toContain('consistent');
    } finally {
      await app.end();
    }
  });

  /** A document with `count` chunks and their vectors, then deleted: `count` pending outbox entries. */
  async function pendingDeletes(n: Names, count: number) {
    return stack.with(stack.postgres(), async (app) => {
      const doc = await addDocument(app, n, count);
      await insertVectors(n.dense, doc.chunkIds, doc.documentId);
      await app.query(`DELETE FROM ${n.t('documents')} WHERE id = $1`, [doc.documentId]);
      return doc;
    });
  }

  const outboxState = (n: Names) =>
    stack.with(stack.postgres({ role: 'readonly' }), async (ro) => {
      const { rows } = await ro.query<{ done: number; pending: number }>(
        `SELECT count(*) FILTER (WHERE done_at IS NOT NULL)::int AS done,
                count(*) FILTER (WHERE done_at IS NULL)::int AS pending FROM ${n.t('vector_outbox')}`,
      );
      const by = await ro.query<{ drained_by: string; entries: number }>(
        `SELECT drained_by, count(*)::int AS entries FROM ${n.t('vector_outbox')}
          WHERE done_at IS NOT NULL GROUP BY drained_by`,
      );
      return { ...rows[0]!, byDrainer: by.rows.map((r) => r.entries).sort((a, b) => a - b) };
    });

  it('a repair killed midway leaves a state the next run completes', async () => {
    const n = await fresh('kill');
    const doc = await pendingDeletes(n, 3000);
    // Small batches (one transaction each), killed once the database shows some of them committed.
    const child = startCli(n, ['--repair', '--batch-size', '10']);
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    let finished = false;
    void exited.then(() => {
      finished = true;
    });
    await waitFor(
      'the repair to commit its first outbox batch',
      async () => finished || (await outboxState(n)).done > 0,
      { timeoutMs: 120_000, intervalMs: 20 },
    );
    child.kill('SIGKILL');
    await exited;
    const midway = await outboxState(n);
    expect(midway.done).toBeGreaterThan(0);
    expect(midway.pending).toBeGreaterThan(0);
    expect(midway.done + midway.pending).toBe(3000);

    const next = await runCli(n, ['--repair', '--json']);
    expect(next.code).toBe(0);
    expect(next.json!.outbox).toMatchObject({
      pendingBefore: midway.pending,
      drained: midway.pending,
      pendingAfter: 0,
    });
    expect(await outboxState(n)).toMatchObject({ done: 3000, pending: 0 });
    expect(await vectorIds(n.dense, doc.chunkIds)).toEqual([]);
  });

  it('two concurrent repairs apply each outbox entry once, and wait for entries a third drain holds', async () => {
    const n = await fresh('twice');
    const doc = await pendingDeletes(n, 3000);
    // A third drain holds the first 50 entries in its open transaction (FOR UPDATE, as drainOutbox claims them): both
    // repairs drain the rest and must then wait for those, not compare and report them pending (exit 2) meanwhile.
    const holder = await stack.postgres();
    await holder.query('BEGIN');
    await holder.query(
      `SELECT id FROM ${n.t('vector_outbox')} WHERE done_at IS NULL ORDER BY id LIMIT 50 FOR UPDATE`,
    );
    const runs = [
      runCli(n, ['--repair', '--json', '--batch-size', '50']),
      runCli(n, ['--repair', '--json', '--batch-size', '50']),
    ] as const;
    let ended = 0;
    for (const run of runs) void run.then(() => ended++);
    try {
      await waitFor(
        'the two repairs to drain every entry the third drain does not hold',
        async () => (await outboxState(n)).pending === 50 || { waiting: 'draining' },
        { timeoutMs: 240_000, intervalMs: 250 },
      );
      await sleep(3000);
      expect(ended, 'a repair ended while entries it had seen were held by another drain').toBe(0);
    } finally {
      // The third drain dies: its entries are released, and the waiting repairs claim them.
      await holder.query('ROLLBACK');
    }
    const [a, b] = await Promise.all(runs);
    expect([a.code, b.code], `${a.stderr}\n${b.stderr}`).toEqual([0, 0]);
    const drained = [a.json!.outbox.drained, b.json!.outbox.drained];
    expect(drained[0]! + drained[1]!).toBe(3000);
    const state = await outboxState(n);
    expect(state).toMatchObject({ done: 3000, pending: 0 });
    // Each entry carries the one drain that applied it; per drain, as many as that drain reported.
    expect(state.byDrainer).toEqual(drained.filter((d) => d > 0).sort((x, y) => x - y));
    expect(await vectorIds(n.dense, doc.chunkIds)).toEqual([]);
    for (const r of [a.json!, b.json!]) expect(dense(r).vectorsWithoutChunk.found).toBe(0);
  });

  it('a dimension or metric unlike the live stores is an error naming collection, field and both values', async () => {
    const n = await fresh('dim');
    const config: VectorstackConfig = structuredClone(stack.config);
    config.embedding.dimension = dimension * 2;
    config.embedding.metric = 'l2';
    const failure = await runConsistency(stack, { schema: n.postgresSchema, prefix: n.prefix, config }).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(ConsistencyError);
    const message = (failure as Error).message;
    expect(message).toContain('the configuration does not match the live stores');
    expect(message).toContain(
      `milvus collection ${n.dense}, field embedding: dimension ${dimension} live, ${dimension * 2} in the configuration (embedding.dimension)`,
    );
    expect(message).toContain(
      `milvus collection ${n.dense}, field embedding: metric COSINE live, L2 in the configuration (embedding.metric)`,
    );
    expect(message).toContain(
      `postgres table ${n.postgresSchema}.chunk_embeddings, column embedding: vector(${dimension}) live, vector(${dimension * 2}) in the configuration (embedding.dimension)`,
    );

    // Through the command: exit 1, the same words.
    const cli = await runCli(n, [], { VECTORSTACK_EMBEDDING_DIMENSION: String(dimension * 2) });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(
      `milvus collection ${n.dense}, field embedding: dimension ${dimension} live, ${dimension * 2} in the configuration (embedding.dimension)`,
    );
  });
});
