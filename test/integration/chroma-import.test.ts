import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.js';
import type { ChromaVersion } from '../../lib/setup/chroma.js';
import type { RunningStack } from '../../lib/stack/running-stack.js';
import type { ChromaServer } from '../../lib/transfer/chroma-server.js';
import { ChromaSource } from '../../lib/transfer/chroma-source.js';
import { runImport } from '../../lib/transfer/import.js';
import { MilvusSink } from '../../lib/transfer/milvus-sink.js';
import { pgTable } from '../../lib/transfer/model.js';
import { openTransferClient, PgvectorSink } from '../../lib/transfer/pgvector-sink.js';
import { waitFor } from '../../lib/util/poll.js';
import { Progress } from '../../lib/util/progress.js';
import { dropImported, seedGenerated, seedSift, startScratchChroma } from './chroma-fixtures.js';
import { openSharedStack, SHARED_PROJECT, SHARED_STACK_DIR } from './shared-stack.js';

const quiet = new Progress(undefined, !!process.env.VECTORSTACK_TEST_VERBOSE);
const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const cliEnv = () => {
  const { NODE_ENV: _test, ...environ } = process.env;
  return { ...environ, VECTORSTACK_PROJECT: SHARED_PROJECT };
};
function cli(args: string[]) {
  return spawnSync(tsx, [path.join(REPO_ROOT, 'scripts', 'import-chroma.ts'), '--env', 'local', ...args], {
    cwd: SHARED_STACK_DIR,
    encoding: 'utf8',
    env: cliEnv(),
    timeout: 600_000,
  });
}

const VERSIONS: ChromaVersion[] = ['0.4.24', '1.5.9'];
const tag = (v: ChromaVersion) => (v === '0.4.24' ? 'v04' : 'v15');
const generated = (v: ChromaVersion) => [`${tag(v)}-gen-l2`, `${tag(v)}-gen-ip`, `${tag(v)}.gen_cosine`];
const sift = (v: ChromaVersion) => `${tag(v)}-sift2k`;
const created: string[] = [];

let stack: RunningStack;
const servers = new Map<ChromaVersion, ChromaServer>();

beforeAll(async () => {
  stack = await openSharedStack();
  for (const v of VERSIONS) {
    const { server, client } = await startScratchChroma(v);
    servers.set(v, server);
    const [l2, ip, cosine] = generated(v);
    await seedGenerated(client, l2!, 'l2', { arrays: v !== '0.4.24' });
    await seedGenerated(client, ip!, 'ip', { arrays: v !== '0.4.24' });
    await seedGenerated(client, cosine!, 'cosine', { arrays: v !== '0.4.24' });
    await seedSift(client, sift(v));
    created.push(...generated(v), sift(v));
  }
  await dropImported(stack, created);
});

afterAll(async () => {
  for (const server of servers.values()) await server.stop();
  if (stack) {
    await dropImported(stack, [
      ...created,
      'v15-dims',
      'v15-metric',
      'v15-verify',
      'dir-v04',
      'dir-v15',
    ]).catch(() => {});
    await stack.close();
  }
});

async function sinks() {
  return [new PgvectorSink(await openTransferClient(stack)), new MilvusSink(await stack.milvus())];
}

describe.each(VERSIONS)('import from a Chroma %s server', (version) => {
  it('moves every distance space and 2,000 SIFT vectors into pgvector and Milvus, bit-identical, neighbours agreeing', async () => {
    const source = await ChromaSource.open({ url: servers.get(version)!.url });
    try {
      const report = await runImport(source, await sinks(), {
        collections: [...generated(version), sift(version)],
        progress: quiet,
      });
      expect(report.exitCode).toBe(0);
      expect(report.rows).toHaveLength(8);
      for (const r of report.rows) {
        const v = r.verification!;
        expect(v.problems, `${r.collection} → ${r.target}`).toEqual([]);
        expect(v.targetCount).toBe(v.sourceCount);
        expect(v.compared).toBe(r.sourceCount);
        expect(v.agreement).toBeGreaterThanOrEqual(0.99);
        expect(r.status).toBe('verified');
      }
      expect(report.rows.find((r) => r.collection === sift(version))!.sourceCount).toBe(2000);
      expect(report.rows.map((r) => r.metric)).toEqual(
        expect.arrayContaining(['vector_l2_ops', 'vector_ip_ops', 'vector_cosine_ops', 'L2', 'IP', 'COSINE']),
      );
      // What landed, read back with plain SQL: Unicode ids, NULL documents, metadata as jsonb (arrays in 1.x).
      await stack.with(openTransferClient(stack), async (pg) => {
        const [l2] = generated(version);
        const rows = (
          await pg.query(
            `SELECT id, document, metadata FROM imported."${pgTable(l2!)}" WHERE id IN ('ид-0-ü', '文書/1 🚀', 'doc "2"\\tab') ORDER BY id`,
          )
        ).rows;
        expect(rows.map((r) => r.id).sort()).toEqual(['doc "2"\\tab', 'ид-0-ü', '文書/1 🚀'].sort());
        expect(rows.find((r) => r.id === 'ид-0-ü')).toMatchObject({ document: null, metadata: null });
        const one = rows.find((r) => r.id === '文書/1 🚀')!;
        expect(one.document).toBe('Dokument 1:\tZeile\nzwei — é');
        expect(one.metadata).toMatchObject({ lang: 'fr', year: 2001, draft: false });
        if (version !== '0.4.24') expect(one.metadata.tags).toEqual(['t1', 'u1']);
        const catalog = (
          await pg.query(
            'SELECT status, rows_done, space FROM imported.chroma_collections WHERE chroma_name = $1',
            [l2],
          )
        ).rows[0];
        expect(catalog).toMatchObject({ status: 'complete', rows_done: '240', space: 'l2' });
      });
      // A second run is idempotent (same counts, still verified) and carries a record changed in the source since:
      // its pages meet ids the targets hold, and are upserted.
      const [, ip] = generated(version);
      const ipInfo = (await source.collections([ip!]))[0]!.info;
      await source.client.update(ipInfo, {
        ids: ['文書/1 🚀'],
        documents: ['changed after the first import'],
      });
      const again = await runImport(source, await sinks(), { collections: [ip!], progress: quiet });
      expect(again.exitCode).toBe(0);
      expect(
        again.rows.map((r) => [r.written, r.verification!.targetCount, r.verification!.differingCount]),
      ).toEqual([
        [240, 240, 0],
        [240, 240, 0],
      ]);
      await stack.with(openTransferClient(stack), async (pg) => {
        const { rows } = await pg.query(
          `SELECT document FROM imported."${pgTable(ip!)}" WHERE id = '文書/1 🚀'`,
        );
        expect(rows).toEqual([{ document: 'changed after the first import' }]);
      });
      // --verify-only reads and compares, writes nothing.
      const verified = await runImport(source, await sinks(), {
        collections: [sift(version)],
        verifyOnly: true,
        progress: quiet,
      });
      expect(verified.rows.map((r) => [r.status, r.written, r.verification!.ok])).toEqual([
        ['verify-only', 0, true],
        ['verify-only', 0, true],
      ]);
    } finally {
      await source.close();
    }
  });
});

describe('an interrupted import', () => {
  it('resumes after the CLI is killed midway and ends without duplicates', async () => {
    const name = sift('1.5.9');
    await dropImported(stack, [name]);
    const url = servers.get('1.5.9')!.url;
    const child: ChildProcess = spawn(
      tsx,
      [
        path.join(REPO_ROOT, 'scripts', 'import-chroma.ts'),
        '--env',
        'local',
        '--from',
        url,
        '--collection',
        name,
        '--to',
        'both',
        '--page-size',
        '20',
      ],
      {
        cwd: SHARED_STACK_DIR,
        env: cliEnv(),
        stdio: 'ignore',
        // Its own process group: tsx runs the script in a child process, and the kill must reach both.
        detached: true,
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Kill it once PostgreSQL has committed at least 400 of the 2,000 rows (checkpoint row in the catalog).
    const killedAt = await stack.with(openTransferClient(stack), (pg) =>
      waitFor(
        'the import to commit 400 rows',
        async () => {
          if (child.exitCode !== null)
            throw new Error(`the import ended (exit ${child.exitCode}) before it could be killed`);
          const r = await pg
            .query('SELECT rows_done FROM imported.chroma_collections WHERE chroma_name = $1', [name])
            .catch(() => ({ rows: [] }));
          const done = Number(r.rows[0]?.rows_done ?? 0);
          return done >= 400 ? done : { waiting: `${done} rows` };
        },
        { timeoutMs: 300_000, intervalMs: 25 },
      ),
    );
    process.kill(-child.pid!, 'SIGKILL');
    expect(await exited).toBe(null);
    const pgvector = new PgvectorSink(await openTransferClient(stack));
    const milvus = new MilvusSink(await stack.milvus());
    const partial = await pgvector.count(name);
    expect(partial).toBeGreaterThanOrEqual(killedAt);
    expect(partial).toBeLessThan(2000);

    // The same command again.
    const rerun = cli(['--from', url, '--collection', name, '--to', 'both', '--page-size', '20', '--json']);
    expect(rerun.status, rerun.stderr).toBe(0);
    const report = JSON.parse(rerun.stdout);
    for (const r of report.rows) {
      expect(r.resumedFrom).toBeGreaterThan(0);
      expect(r.written).toBeLessThan(2000);
      expect(r.verification.ok).toBe(true);
    }
    expect(await pgvector.count(name)).toBe(2000);
    expect(await milvus.count(name)).toBe(2000);
    // Every id exactly once in Milvus (its primary key does not refuse duplicates; fetch() fails on one).
    const ids = Array.from({ length: 2000 }, (_, i) => `sift-${i}`);
    expect((await milvus.fetch(name, ids)).size).toBe(2000);
  });
});

describe('dry run and verification alone', () => {
  it('plans without writing, and --verify-only exits 2 naming the collection and the first differing ids', async () => {
    const { server, client } = await startScratchChroma('1.5.9');
    try {
      await seedGenerated(client, 'v15-verify', 'cosine', { count: 50, arrays: true });
      await dropImported(stack, ['v15-verify']);
      const dry = cli(['--from', server.url, '--to', 'both', '--dry-run', '--json']);
      expect(dry.status, dry.stderr).toBe(0);
      expect(
        JSON.parse(dry.stdout).rows.map((r: { status: string; finished: string }) => [r.status, r.finished]),
      ).toEqual([
        ['planned', 'new'],
        ['planned', 'new'],
      ]);
      const pg = new PgvectorSink(await openTransferClient(stack));
      expect(await pg.existing('v15-verify')).toBeUndefined();
      expect(cli(['--from', server.url, '--to', 'both']).status).toBe(0);
      // Someone changes one record's metadata and deletes another in PostgreSQL.
      await stack.with(openTransferClient(stack), async (c) => {
        await c.query(
          `UPDATE imported."${pgTable('v15-verify')}" SET metadata = '{"lang":"xx"}' WHERE id = 'ид-3-ü'`,
        );
        await c.query(`DELETE FROM imported."${pgTable('v15-verify')}" WHERE id = '文書/4 🚀'`);
      });
      const verify = cli(['--from', server.url, '--to', 'both', '--verify-only']);
      expect(verify.status).toBe(2);
      expect(verify.stdout).toMatch(
        /v15-verify: pgvector imported\."v15_verify_[0-9a-f]{8}" holds 49 records, the source 50/,
      );
      expect(verify.stdout).toContain('2 record(s) missing or different');
      expect(verify.stdout).toContain('first: "ид-3-ü" (metadata); "文書/4 🚀" (missing)');
      // Milvus's copy is untouched and still verifies.
      expect(verify.stdout).not.toMatch(/v15-verify: milvus/);
    } finally {
      await server.stop();
    }
  });
});

describe('bad input: a clear error, nothing written', () => {
  it('names host:port of an unreachable Chroma (exit 1)', async () => {
    const run = cli(['--from', 'http://127.0.0.1:25899', '--to', 'both']);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/chroma at 127\.0\.0\.1:25899 is unreachable \(heartbeat\): ECONNREFUSED/);
  });

  it('names an unknown collection and lists the existing ones', async () => {
    const run = cli([
      '--from',
      servers.get('1.5.9')!.url,
      '--collection',
      'no-such-coll',
      '--to',
      'pgvector',
    ]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('collection "no-such-coll" not found');
    expect(run.stderr).toContain(`existing: ${[...generated('1.5.9'), sift('1.5.9')].sort().join(', ')}`);
  });

  it('refuses a target holding the collection with another dimension or metric, before writing anything', async () => {
    const { server, client } = await startScratchChroma('1.5.9');
    try {
      await seedGenerated(client, 'v15-dims', 'l2', { count: 20, dimension: 8 });
      await seedGenerated(client, 'v15-metric', 'cosine', { count: 20, dimension: 8 });
      await dropImported(stack, ['v15-dims', 'v15-metric']);
      const [pg, milvus] = await sinks();
      // Earlier imports of the same names with another shape.
      await pg!.prepare({
        chromaName: 'v15-dims',
        chromaId: 'x',
        source: 'test',
        space: 'l2',
        dimension: 4,
        count: 0,
      });
      await milvus!.prepare({
        chromaName: 'v15-metric',
        chromaId: 'x',
        source: 'test',
        space: 'ip',
        dimension: 8,
        count: 0,
      });
      const run = cli(['--from', server.url, '--to', 'both']);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('nothing was written');
      expect(run.stderr).toContain('collection v15-dims: pgvector imported."v15_dims_');
      expect(run.stderr).toMatch(
        /collection v15-dims: pgvector imported\."v15_dims_[0-9a-f]{8}" field dimension: target has 4, source has 8/,
      );
      expect(run.stderr).toMatch(
        /collection v15-metric: milvus chroma_v15_metric_[0-9a-f]{8} field metric: target has ip, source has cosine/,
      );
      expect(await pg!.count('v15-dims')).toBe(0);
      expect(await milvus!.count('v15-metric')).toBe(0);
      expect(await pg!.existing('v15-metric')).toBeUndefined();
      expect(await milvus!.existing('v15-dims')).toBeUndefined();
    } finally {
      await server.stop();
    }
  });

  it('reads a persisted directory with the version that wrote it, and refuses one named with another version', async () => {
    const old = await startScratchChroma('0.4.24', { keep: true });
    await seedGenerated(old.client, 'dir-v04', 'cosine', { count: 50 });
    await old.server.stop();
    const newer = await startScratchChroma('1.5.9', { keep: true });
    await seedGenerated(newer.client, 'dir-v15', 'l2', { count: 10, arrays: true });
    await newer.server.stop();
    await dropImported(stack, ['dir-v04', 'dir-v15']);

    const wrongOld = cli(['--from-dir', old.dir, '--chroma-version', '1.5.9', '--to', 'both']);
    expect(wrongOld.status).toBe(1);
    expect(wrongOld.stderr).toContain(
      `--from-dir ${old.dir} was written by another Chroma version than --chroma-version 1.5.9`,
    );
    expect(wrongOld.stderr).toContain('written by an older release');
    expect(wrongOld.stderr).toContain('run with --chroma-version 0.4.24');
    const wrongNew = cli(['--from-dir', newer.dir, '--chroma-version', '0.4.24', '--to', 'pgvector']);
    expect(wrongNew.status).toBe(1);
    expect(wrongNew.stderr).toContain('written by a newer release');
    expect(await new PgvectorSink(await openTransferClient(stack)).existing('dir-v15')).toBeUndefined();
    expect(await new PgvectorSink(await openTransferClient(stack)).existing('dir-v04')).toBeUndefined();

    // Unnamed: detected as 0.4.24, served from a copy, imported and verified.
    const detected = cli(['--from-dir', old.dir, '--to', 'both', '--json']);
    expect(detected.status, detected.stderr).toBe(0);
    expect(detected.stderr).toMatch(/chroma 0\.4\.24: copying/);
    const report = JSON.parse(detected.stdout);
    expect(report.source).toBe(`${old.dir} (Chroma 0.4.24)`);
    expect(report.rows.map((r: { status: string }) => r.status)).toEqual(['verified', 'verified']);
    rmSync(old.dir, { recursive: true, force: true });
    rmSync(newer.dir, { recursive: true, force: true });
  });
});
