import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../../lib/clients.js';
import { REPO_ROOT } from '../../lib/paths.js';
import type { CheckResult } from '../../lib/verify/report.js';
import { runSmoke } from '../../lib/verify/smoke.js';
import type { VerifyTarget } from '../../lib/verify/target.js';
import { SMOKE_SUITES } from '../../smoke-tests/index.js';
import { postgresSuite } from '../../smoke-tests/postgres.js';
import { SHARED_PROJECT, SHARED_STACK_DIR, sharedStack } from './shared-stack.js';

const stack = sharedStack();
const target: VerifyTarget = {
  config: stack.config,
  connection: stack.connection,
  credentials: stack.credentials,
};
const pgEndpoint = { ...stack.connection.postgres!, password: stack.credentials.postgres_password };
const byCheck = (results: CheckResult[], service: string, check: string) =>
  results.find((r) => r.service === service && r.check === check);

/** A database of our own on the shared stack, so the bootstrap engineer's schema and ours never meet. */
const scratchDb = `vs_smoke_${process.pid}`;
const scratchTarget: VerifyTarget = {
  ...target,
  connection: { ...target.connection, postgres: { ...target.connection.postgres!, database: scratchDb } },
};

async function adminQuery(sql: string, database = pgEndpoint.database): Promise<void> {
  const client = await connectPostgres({ ...pgEndpoint, database });
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The migration templates bootstrap applies (schemas/postgres), rendered for this stack's config. */
function renderedMigrations(): string {
  const dir = path.join(REPO_ROOT, 'schemas', 'postgres');
  const values: Record<string, string | number> = {
    dimension: stack.config.embedding.dimension,
    vector_opclass: 'vector_cosine_ops',
    hnsw_m: stack.config.postgres.hnsw.m,
    hnsw_ef_construction: stack.config.postgres.hnsw.efConstruction,
  };
  const sql = ['0001_documents.sql', '0002_chunks.sql']
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .join('\n')
    .replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
      if (!(name in values)) throw new Error(`unknown placeholder {{${name}}} in schemas/postgres`);
      return String(values[name]);
    });
  return sql;
}

beforeAll(async () => {
  await adminQuery(`DROP DATABASE IF EXISTS ${scratchDb}`);
  await adminQuery(`CREATE DATABASE ${scratchDb}`);
});

afterAll(async () => {
  await adminQuery(`DROP DATABASE IF EXISTS ${scratchDb} WITH (FORCE)`);
});

/**
 * The CLI's environment as a user has it: vitest sets NODE_ENV=test, under which the Milvus SDK logs debug lines to
 * stdout (lib/clients.ts does not set its logLevel).
 */
function cliEnvironment(): NodeJS.ProcessEnv {
  const { NODE_ENV: _testMode, ...environ } = process.env;
  return { ...environ, VECTORSTACK_PROJECT: SHARED_PROJECT };
}

function containerHealth(name: string): string {
  return execFileSync('docker', ['inspect', '--format', '{{.State.Health.Status}}', name], {
    encoding: 'utf8',
  }).trim();
}

async function waitHealthy(name: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (containerHealth(name) !== 'healthy') {
    if (Date.now() > deadline) throw new Error(`${name} not healthy after ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe('npm run smoke on the shared stack', () => {
  it('every service passes; without the bootstrap schema the PG check says so and kNN runs on a temporary table', async () => {
    const results = await runSmoke(scratchTarget, SMOKE_SUITES);
    const failed = results.filter((r) => r.status !== 'pass').map((r) => `${r.service}/${r.check}`);
    expect(failed).toEqual(['postgres/bootstrap schema']);
    expect(byCheck(results, 'postgres', 'bootstrap schema')!.message).toMatch(/run npm run bootstrap first/);
    expect(byCheck(results, 'postgres', 'round trip (kNN, rolled back)')!.message).toMatch(
      /bootstrap schema absent: kNN checked on a temporary table/,
    );
    expect(byCheck(results, 'milvus', 'version')!.message).toMatch(/^Milvus v\d+\.\d+/);
    expect(byCheck(results, 'etcd', 'health')!.message).toBe(
      `endpoint healthy (docker exec ${SHARED_PROJECT}-local-etcd)`,
    );
    expect(byCheck(results, 'redis', 'persistence')!.message).toMatch(/^appendonly yes/);
    expect(results.map((r) => r.service)).toEqual(
      expect.arrayContaining(['postgres', 'etcd', 'minio', 'milvus', 'redis']),
    );
  });

  it('with the bootstrap migrations applied, the round trip goes through documents, chunks and embeddings and leaves nothing', async () => {
    await adminQuery(renderedMigrations(), scratchDb);
    const run = await runSmoke(scratchTarget, { postgres: postgresSuite });
    expect(run.filter((r) => r.status !== 'pass')).toEqual([]);
    expect(byCheck(run, 'postgres', 'round trip (kNN, rolled back)')!.message).toMatch(
      /inserted in public\.\{documents,document_chunks,chunk_embeddings\}; kNN \(<=>\) found it; rolled back/,
    );
    const client = await connectPostgres({ ...pgEndpoint, database: scratchDb });
    try {
      const { rows } = await client.query(
        'SELECT (SELECT count(*) FROM documents)::int AS d, (SELECT count(*) FROM document_chunks)::int AS c',
      );
      expect(rows[0]).toEqual({ d: 0, c: 0 });
    } finally {
      await client.end();
    }
  });

  it('a stopped service fails fast with its host:port, the others pass, exit code 1 and a JUnit failure', async () => {
    const container = `${SHARED_PROJECT}-local-redis`;
    const redisPort = stack.connection.redis!.port;
    execFileSync('docker', ['stop', container]);
    try {
      const results = await runSmoke(target, SMOKE_SUITES);
      const reachable = byCheck(results, 'redis', 'reachable')!;
      expect(reachable.status).toBe('fail');
      expect(reachable.message).toMatch(
        new RegExp(
          `^redis at 127\\.0\\.0\\.1:${redisPort} is unreachable after 3 attempt\\(s\\): .*ECONNREFUSED`,
        ),
      );
      // Nothing else is tried against a service that does not answer.
      expect(results.filter((r) => r.service === 'redis').map((r) => r.check)).toEqual(['reachable']);
      for (const r of results.filter((x) => x.service === 'milvus' || x.service === 'minio'))
        expect(r.status, `${r.service}/${r.check}`).toBe('pass');

      // The CLI: resolves the stack from its state directory, exits 1, names the failure, writes JUnit.
      const junit = path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-junit-')), 'smoke.xml');
      const cli = spawnSync(
        path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
        [path.join(REPO_ROOT, 'scripts', 'smoke.ts'), '--env', 'local', '--json', '--junit', junit],
        {
          cwd: SHARED_STACK_DIR,
          encoding: 'utf8',
          env: cliEnvironment(),
        },
      );
      expect(cli.status).toBe(1);
      expect(cli.stderr).toContain(`FAIL redis reachable: redis at 127.0.0.1:${redisPort} is unreachable`);
      const json = JSON.parse(cli.stdout);
      expect(json.summary.ok).toBe(false);
      const xml = readFileSync(junit, 'utf8');
      expect(xml).toMatch(/<testsuite name="redis" tests="1" failures="1" skipped="0"/);
      expect(xml).toContain(`<failure message="redis at 127.0.0.1:${redisPort} is unreachable`);
      for (const secret of Object.values(stack.credentials)) {
        expect(cli.stdout).not.toContain(secret);
        expect(cli.stderr).not.toContain(secret);
        expect(xml).not.toContain(secret);
      }
    } finally {
      execFileSync('docker', ['start', container]);
      await waitHealthy(container);
    }
  });
});
