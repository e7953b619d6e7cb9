import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../lib/bootstrap/index.js';
import { deepMerge } from '../../lib/config/load.js';
import { REPO_ROOT } from '../../lib/paths.js';
import { RunningStack } from '../../lib/stack/running-stack.js';
import { waitFor } from '../../lib/util/poll.js';
import type { CheckResult } from '../../lib/verify/report.js';
import { runSmoke } from '../../lib/verify/smoke.js';
import { SMOKE_SUITES } from '../../smoke-tests/index.js';
import { postgresSuite } from '../../smoke-tests/postgres.js';
import { openSharedStack, SHARED_PROJECT, SHARED_STACK_DIR } from './shared-stack.js';

const stack = await openSharedStack();
const byCheck = (results: CheckResult[], service: string, check: string) =>
  results.find((r) => r.service === service && r.check === check);

/** A database of our own on the shared stack, so the bootstrap engineer's schema and ours never meet. */
const scratchDb = `vs_smoke_${process.pid}`;
const scratch = new RunningStack(
  stack.deployment,
  { ...stack.endpoints, postgres: { ...stack.endpoints.postgres!, database: scratchDb } },
  stack.credentials,
  { exec: (service, argv) => stack.exec(service, argv), close: async () => {}, describe: 'scratch database' },
);

async function adminQuery(sql: string, database?: string): Promise<void> {
  await stack.with(stack.postgres({ role: 'admin', database }), (client) => client.query(sql));
}
const postgresOnly = deepMerge(stack.config, { milvus: { enabled: false }, redis: { enabled: false } });
/** The logins are the server's (one set for every database); bootstrap creates them. */
const loginsSchema = `itest_smoke_${process.pid}`;

beforeAll(async () => {
  await bootstrap({ stack, config: postgresOnly, postgresSchema: loginsSchema });
  await adminQuery(`DROP DATABASE IF EXISTS ${scratchDb}`);
  await adminQuery(`CREATE DATABASE ${scratchDb}`);
  // The extension, not the schema: the fallback round trip runs on a temporary table.
  await adminQuery('CREATE EXTENSION vector', scratchDb);
});

afterAll(async () => {
  await scratch.close();
  await adminQuery(`DROP DATABASE IF EXISTS ${scratchDb} WITH (FORCE)`);
  await adminQuery(`DROP SCHEMA IF EXISTS ${loginsSchema} CASCADE`);
  await stack.close();
});

/**
 * The CLI's environment as a user has it: vitest sets NODE_ENV=test, under which the Milvus SDK logs debug lines to
 * stdout (lib/clients.ts does not set its logLevel).
 */
function cliEnvironment(): NodeJS.ProcessEnv {
  const { NODE_ENV: _testMode, ...environ } = process.env;
  return environ;
}

function containerHealth(name: string): string {
  return execFileSync('docker', ['inspect', '--format', '{{.State.Health.Status}}', name], {
    encoding: 'utf8',
  }).trim();
}

const waitHealthy = (name: string) =>
  waitFor(`${name} healthy`, async () => containerHealth(name) === 'healthy', { timeoutMs: 120_000 });

describe('npm run smoke on the shared stack', () => {
  it('every service passes; without the bootstrap schema the PG check says so and kNN runs on a temporary table', async () => {
    const results = await runSmoke(scratch, SMOKE_SUITES);
    const failed = results.filter((r) => r.status !== 'pass').map((r) => `${r.service}/${r.check}`);
    expect(failed).toEqual(['postgres/bootstrap schema']);
    expect(byCheck(results, 'postgres', 'bootstrap schema')!.message).toMatch(/run npm run bootstrap first/);
    expect(byCheck(results, 'postgres', 'round trip (kNN, rolled back)')!.message).toMatch(
      /bootstrap schema absent: kNN checked on a temporary table/,
    );
    expect(byCheck(results, 'milvus', 'version')!.message).toMatch(/^Milvus v\d+\.\d+/);
    expect(byCheck(results, 'etcd', 'health')!.message).toBe(
      'endpoint healthy (etcdctl inside the etcd container)',
    );
    expect(byCheck(results, 'milvus', 'authenticated')!.message).toMatch(
      /a wrong password is refused \(authentication failure\)/,
    );
    expect(byCheck(results, 'postgres', 'authenticated')!.message).toMatch(
      /a wrong password is refused \(28P01\)/,
    );
    expect(byCheck(results, 'redis', 'persistence')!.message).toMatch(/^appendonly yes/);
    expect(results.map((r) => r.service)).toEqual(
      expect.arrayContaining(['postgres', 'etcd', 'minio', 'milvus', 'redis']),
    );
  });

  it('with the bootstrap migrations applied, the schema matches the layout and the round trip leaves nothing', async () => {
    // Bootstrap itself (its migrations, rendered for this stack's configuration, and the grants) in the scratch database.
    expect((await bootstrap({ stack: scratch, config: postgresOnly })).exitCode).toBe(0);
    const run = await runSmoke(scratch, { postgres: postgresSuite });
    expect(run.filter((r) => r.status !== 'pass')).toEqual([]);
    expect(byCheck(run, 'postgres', 'bootstrap schema')!.message).toMatch(
      /as the layout says \(public, vector\(8\), cosine\)/,
    );
    expect(byCheck(run, 'postgres', 'round trip (kNN, rolled back)')!.message).toMatch(
      /inserted in public\.\{documents,document_chunks,chunk_embeddings\}; kNN \(cosine\) found it; rolled back/,
    );
    const counts = await stack.with(
      stack.postgres({ role: 'admin', database: scratchDb }),
      async (client) => {
        const { rows } = await client.query(
          'SELECT (SELECT count(*) FROM documents)::int AS d, (SELECT count(*) FROM document_chunks)::int AS c',
        );
        return rows[0];
      },
    );
    expect(counts).toEqual({ d: 0, c: 0 });

    // A column retyped by hand is reported by name.
    await adminQuery('ALTER TABLE chunk_embeddings ALTER COLUMN model TYPE varchar(40)', scratchDb);
    const drifted = await runSmoke(scratch, { postgres: postgresSuite });
    expect(byCheck(drifted, 'postgres', 'bootstrap schema')!.message).toBe(
      `${scratchDb}.public differs from the layout: public.chunk_embeddings column model: expected text, found character varying(40)`,
    );
  });

  it('a stopped service fails fast with its host:port, the others pass, exit code 1 and a JUnit failure', async () => {
    const container = `${SHARED_PROJECT}-local-redis`;
    const redisPort = stack.endpoints.redis!.port;
    execFileSync('docker', ['stop', container]);
    try {
      const results = await runSmoke(stack, SMOKE_SUITES);
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
