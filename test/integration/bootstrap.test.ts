import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConsistencyLevelEnum, DataType } from '@zilliz/milvus2-sdk-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type BootstrapOptions, bootstrap } from '../../lib/bootstrap/index.js';
import { describeMilvusGrants } from '../../lib/bootstrap/milvus-users.js';
import { loadMigrations } from '../../lib/bootstrap/postgres.js';
import { bootstrapJson } from '../../lib/bootstrap/report.js';
import { removeBootstrapObjects } from '../../lib/bootstrap/teardown.js';
import { BootstrapError } from '../../lib/bootstrap/types.js';
import type { VectorstackConfig } from '../../lib/config/schema.js';
import { detectMilvusCapabilities, supports } from '../../lib/milvus/capabilities.js';
import { RunningStack } from '../../lib/stack/running-stack.js';
import { milvusCollectionSpecs } from '../../schemas/milvus/collections.js';
import { milvusUsers } from '../../schemas/milvus/users.js';
import { openSharedStack } from './shared-stack.js';

const stack = await openSharedStack();
const { credentials } = stack;
/** What the server reports decides what is expected of the capability-gated collections, not one version. */
const { milvusVersion, hasSparse } = await stack.with(stack.milvus(), async (m) => {
  const capabilities = await detectMilvusCapabilities(m, { features: ['sparseVectors'], prefix: 'itcaps_' });
  return {
    milvusVersion: (await m.getVersion()).version,
    hasSparse: supports(capabilities, 'sparseVectors'),
  };
});

/** Every test bootstraps into its own schema and prefix, removed at the end. */
const used: { postgresSchema: string; prefix: string }[] = [];
function names(tag: string) {
  const suffix = `${tag}_${process.pid}_${Date.now() % 100000}`;
  const n = { postgresSchema: `itest_${suffix}`, prefix: `it${suffix}_` };
  used.push(n);
  return n;
}
// After each test, not at the end: every bootstrap creates two Milvus roles, and Milvus allows ten in all.
afterEach(async () => {
  for (const n of used.splice(0)) await removeBootstrapObjects(stack, n);
});
afterAll(() => stack.close());

function withConfig(change: (c: VectorstackConfig) => void): VectorstackConfig {
  const config = structuredClone(stack.config);
  change(config);
  return config;
}
const only = (store: 'postgres' | 'milvus' | 'redis') =>
  withConfig((c) => {
    c.postgres.enabled = store === 'postgres';
    c.milvus.enabled = store === 'milvus';
    c.redis.enabled = store === 'redis';
  });

const run = (options: Partial<BootstrapOptions>) => bootstrap({ stack, ...options });
const pg = () => stack.postgres();
const milvus = () => stack.milvus();

describe('bootstrap on real servers', () => {
  it('applies a fresh schema in every store, then re-applies nothing', async () => {
    const n = names('fresh');
    const plan = await run({ ...n, planOnly: true });
    const planned = plan.stores.flatMap((s) => s.actions);
    expect(planned.map((a) => `${a.store}:${a.kind}`)).toEqual(
      expect.arrayContaining([
        'postgres:apply-migration',
        'milvus:create-collection',
        'milvus:load',
        'milvus:create-role',
        'milvus:create-user',
        'redis:create-user',
      ]),
    );
    // --plan --json is stable: the same state prints the same document.
    expect(bootstrapJson(await run({ ...n, planOnly: true }))).toBe(bootstrapJson(plan));

    const first = await run(n);
    expect(first.exitCode).toBe(0);
    expect(first.applied.length).toBe(planned.length);
    // Optional collections follow what the server reports: each one it cannot hold is skipped with a warning naming
    // the collection and the missing capability; the sparse one exactly when sparse vectors are missing.
    const warnings = first.stores.find((s) => s.store === 'milvus')!.warnings;
    for (const warning of warnings)
      expect(warning).toMatch(/^collection \S+ needs \w+, which Milvus \S+ lacks .*skipped/);
    expect(warnings.some((w) => w.includes('rag_chunks_sparse needs sparseVectors'))).toBe(!hasSparse);

    const again = await run(n);
    expect(again.applied).toEqual([]);
    expect(again.stores.flatMap((s) => [...s.actions, ...s.drift])).toEqual([]);

    // What a failed grant wait would report: the server's metadata for each login, read as root.
    const root = await milvus();
    try {
      for (const spec of milvusUsers(stack.config)) {
        const name = n.prefix + spec.name;
        expect(await describeMilvusGrants(root, { ...spec, name })).toBe(
          `metadata: ${name} has roles [${name}]; role ${name} holds [${[...spec.collectionPrivileges].sort().join(', ')}] on Collection * (wanted: ${spec.collectionPrivileges.join(', ')})`,
        );
      }
    } finally {
      await root.closeConnection();
    }

    const client = await pg();
    try {
      const { rows } = await client.query<{ type: string }>(
        `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
          WHERE attrelid = to_regclass($1) AND attname = 'embedding'`,
        [`${n.postgresSchema}.chunk_embeddings`],
      );
      expect(rows[0]!.type).toBe('vector(8)');
      // Constraints and the updated_at trigger work: a chunk cascades away with its document.
      await client.query(`SET search_path TO ${n.postgresSchema}, public`);
      const doc = await client.query<{ id: string; updated_at: Date }>(
        `INSERT INTO documents (source_type, source_id) VALUES ('file', 'a.md') RETURNING id, updated_at`,
      );
      await expect(
        client.query(`UPDATE documents SET processing_status = 'bogus' WHERE id = $1`, [doc.rows[0]!.id]),
      ).rejects.toThrow(/documents_processing_status_check/);
      await client.query(
        `INSERT INTO document_chunks (document_id, position, content) VALUES ($1, 0, 'hi')`,
        [doc.rows[0]!.id],
      );
      await client.query('SELECT pg_sleep(0.01)');
      const updated = await client.query<{ updated_at: Date }>(
        `UPDATE documents SET title = 't' WHERE id = $1 RETURNING updated_at`,
        [doc.rows[0]!.id],
      );
      expect(updated.rows[0]!.updated_at.getTime()).toBeGreaterThan(doc.rows[0]!.updated_at.getTime());
      await client.query('DELETE FROM documents');
      expect((await client.query('SELECT * FROM document_chunks')).rowCount).toBe(0);
    } finally {
      await client.end();
    }

    const m = await milvus();
    try {
      const load = await m.getLoadState({ collection_name: `${n.prefix}rag_chunks` });
      expect(load.state).toBe('LoadStateLoaded');
    } finally {
      await m.closeConnection();
    }

    // Milvus logins: the application user writes and searches but cannot create collections; the reader only reads.
    const collection = `${n.prefix}rag_chunks`;
    const row = {
      chunk_id: 'c-app',
      embedding: [1, 0, 0, 0, 0, 0, 0, 0],
      document_id: 'd1',
      source_type: 'file',
      language: 'en',
      chunk_position: 0,
      created_timestamp: 1,
    };
    await stack.with(
      stack.milvus({ username: `${n.prefix}rag_app`, password: credentials.milvus_app_password }),
      async (app) => {
        expect((await app.insert({ collection_name: collection, data: [row] })).status.error_code).toBe(
          'Success',
        );
        // Refused with PERMISSION_DENIED, naming the missing privilege (the SDK raises it as an error).
        await expect(
          app.createCollection({
            collection_name: `${n.prefix}forbidden`,
            fields: [
              { name: 'id', data_type: DataType.Int64, is_primary_key: true },
              { name: 'v', data_type: DataType.FloatVector, dim: 2 },
            ],
          }),
        ).rejects.toThrow(/PERMISSION_DENIED.*PrivilegeCreateCollection/);
      },
    );
    await stack.with(
      stack.milvus({ username: `${n.prefix}rag_reader`, password: credentials.milvus_readonly_password }),
      async (reader) => {
        // Refused with PERMISSION_DENIED naming PrivilegeInsert (raised by the SDK, like createCollection above).
        await expect(
          reader.insert({ collection_name: collection, data: [{ ...row, chunk_id: 'c-reader' }] }),
        ).rejects.toThrow(/PERMISSION_DENIED.*PrivilegeInsert/);
        // Reading is granted.
        const read = await reader.query({
          collection_name: collection,
          filter: 'chunk_id == "c-app"',
          output_fields: ['chunk_id'],
          consistency_level: ConsistencyLevelEnum.Strong,
        });
        expect(read.data.map((r) => r.chunk_id)).toEqual(['c-app']);
      },
    );

    // The cache user reaches its own keys and nothing else; its password is the stored credential.
    const cache = await stack.redis({
      username: `${n.prefix}cache`,
      password: credentials.redis_cache_password,
    });
    try {
      await cache.set('cache:itest', '1', { EX: 10 });
      await expect(cache.set('sess:itest', '1')).rejects.toThrow(/NOPERM/);
      await expect(cache.sendCommand(['FLUSHALL'])).rejects.toThrow(/NOPERM/);
      // A session key exists, and the cache user cannot discover it by walking the keyspace.
      await stack.with(stack.redis(), (admin) => admin.set('sess:itest-hidden', '1', { EX: 10 }));
      await expect(cache.sendCommand(['SCAN', '0', 'MATCH', 'sess:*'])).rejects.toThrow(/NOPERM.*scan/i);
      await expect(cache.sendCommand(['RANDOMKEY'])).rejects.toThrow(/NOPERM.*randomkey/i);
      await expect(cache.sendCommand(['KEYS', '*'])).rejects.toThrow(/NOPERM.*keys/i);
    } finally {
      cache.destroy();
    }
  });

  it('two concurrent runs end with one applied set and no error', async () => {
    const n = names('race');
    const config = withConfig((c) => {
      c.milvus.enabled = false;
    });
    const [a, b] = await Promise.all([run({ ...n, config }), run({ ...n, config })]);
    const applied = [a.applied, b.applied].map((x) => x.length).sort();
    expect(applied[0]).toBe(0);
    expect(applied[1]).toBeGreaterThan(0);
    const client = await pg();
    try {
      const { rows } = await client.query(
        `SELECT name FROM ${n.postgresSchema}.schema_migrations ORDER BY name`,
      );
      expect(rows.map((r) => r.name)).toEqual(loadMigrations().map((m) => m.name));
    } finally {
      await client.end();
    }
  });

  it('detects drift in PostgreSQL and reports it with exit code 2, changing nothing', async () => {
    const n = names('pgdrift');
    await run({ ...n, config: only('postgres') });
    const drifted = only('postgres');
    drifted.embedding.dimension = 16;
    drifted.embedding.metric = 'ip';
    const result = await run({ ...n, config: drifted });
    expect(result.exitCode).toBe(2);
    expect(result.applied).toEqual([]);
    expect(result.stores[0]!.drift.map((d) => [d.target, d.field, d.expected, d.actual])).toEqual([
      [`${n.postgresSchema}.chunk_embeddings`, 'column embedding', 'vector(16)', 'vector(8)'],
      [
        `${n.postgresSchema}.chunk_embeddings_embedding_hnsw_idx`,
        'operator class (metric)',
        'vector_ip_ops',
        'vector_cosine_ops',
      ],
    ]);
  });

  it('detects Milvus drift, keeps the data without --allow-recreate, and recreates with it', async () => {
    const n = names('mvdrift');
    await run({ ...n, config: only('milvus') });
    const name = `${n.prefix}rag_chunks`;
    const m = await milvus();
    try {
      const row = {
        chunk_id: 'c1',
        embedding: [1, 0, 0, 0, 0, 0, 0, 0],
        document_id: 'd1',
        source_type: 'file',
        language: 'en',
        chunk_position: 0,
        created_timestamp: 1,
      };
      expect((await m.insert({ collection_name: name, data: [row] })).status.error_code).toBe('Success');
      await m.flush({ collection_names: [name] });
      const count = async () =>
        Number(
          (
            await m.query({
              collection_name: name,
              filter: 'chunk_position >= 0',
              output_fields: ['count(*)'],
            })
          ).data[0]?.['count(*)'],
        );
      expect(await count()).toBe(1);

      const drifted = only('milvus');
      drifted.embedding.dimension = 16;
      drifted.milvus.hnsw.m = 32;
      const refused = await run({ ...n, config: drifted });
      expect(refused.exitCode).toBe(2);
      expect(refused.applied).toEqual([]);
      expect(refused.stores[0]!.drift).toContainEqual(
        expect.objectContaining({
          target: name,
          field: 'field embedding dimension',
          expected: '16',
          actual: '8',
        }),
      );
      expect(await count()).toBe(1);

      const plan = await run({ ...n, config: drifted, allowRecreate: true, planOnly: true });
      expect(plan.stores[0]!.actions[0]).toMatchObject({ kind: 'recreate-collection', destructive: true });
      expect(plan.stores[0]!.actions[0]!.detail).toMatch(/DROPS the collection and ALL its data/);

      const recreated = await run({ ...n, config: drifted, allowRecreate: true });
      expect(recreated.exitCode).toBe(0);
      const described = await m.describeCollection({ collection_name: name });
      expect(described.schema.fields.find((f) => f.name === 'embedding')!.dim).toBe('16');
      expect((await run({ ...n, config: drifted })).applied).toEqual([]);
    } finally {
      await m.closeConnection();
    }
  });

  it('restores a Redis ACL user that was widened by hand', async () => {
    const n = names('acl');
    const config = only('redis');
    await run({ ...n, config });
    const admin = await stack.redis();
    try {
      await admin.sendCommand(['ACL', 'SETUSER', `${n.prefix}session`, '~*']);
      const plan = await run({ ...n, config, planOnly: true });
      expect(plan.stores[0]!.actions).toEqual([
        expect.objectContaining({
          kind: 'update-user',
          target: `${n.prefix}session`,
          detail: 'keys ~* -> ~sess:*',
        }),
        // The stack's Redis runs with an aclfile (redisSpec): the fix is saved so it survives a restart.
        expect.objectContaining({ kind: 'acl-save', target: '/data/users.acl' }),
      ]);
      expect(JSON.stringify(plan)).not.toContain(credentials.redis_session_password);
      await run({ ...n, config });
      const user = (await admin.sendCommand(['ACL', 'GETUSER', `${n.prefix}session`])) as unknown[];
      expect(user[user.indexOf('keys') + 1]).toBe('~sess:*');
      const saved = await stack.exec('redis', ['cat', '/data/users.acl']);
      expect(saved.stdout).toMatch(
        new RegExp(`^user ${n.prefix}session on .*~sess:\\* resetchannels -@all`, 'm'),
      );
      expect(saved.stdout).not.toContain(credentials.redis_session_password);
    } finally {
      admin.destroy();
    }
  });

  it('leaves the database at the previous migration when one fails, and continues once it is fixed', async () => {
    const n = names('midway');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vs-migrations-'));
    writeFileSync(path.join(dir, '0001_first.sql'), 'CREATE TABLE first (id int);');
    writeFileSync(path.join(dir, '0002_second.sql'), 'CREATE TABLE second (id int);\nSELECT 1 / 0;');
    const options = { ...n, config: only('postgres'), migrationsDir: dir };
    await expect(run(options)).rejects.toThrow(
      /0002_second.sql failed and was rolled back.*division by zero/,
    );
    const tables = async () => {
      const client = await stack.postgres({ role: 'admin' });
      try {
        const { rows } = await client.query(
          `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`,
          [n.postgresSchema],
        );
        return rows.map((r) => r.table_name);
      } finally {
        await client.end();
      }
    };
    expect(await tables()).toEqual(['first', 'schema_migrations']);

    writeFileSync(path.join(dir, '0002_second.sql'), 'CREATE TABLE second (id int);');
    expect(
      (await run(options)).applied.filter((a) => a.kind === 'apply-migration').map((a) => a.target),
    ).toEqual(['0002_second.sql']);
    expect(await tables()).toEqual(['first', 'schema_migrations', 'second']);

    writeFileSync(path.join(dir, '0001_first.sql'), 'CREATE TABLE first (id bigint);');
    await expect(run(options)).rejects.toThrow(/0001_first.sql: edited after it was applied/);
  });

  it('gates a required capability on what the server reports, and names an unreachable store by host and port', async () => {
    const [, sparse] = milvusCollectionSpecs(stack.config);
    const gated = run({
      ...names('gate'),
      config: only('milvus'),
      collections: [{ ...sparse!, optional: false }],
    });
    if (hasSparse) expect((await gated).exitCode).toBe(0);
    else
      await expect(gated).rejects.toThrow(
        new RegExp(
          `needs sparseVectors, which Milvus ${milvusVersion.replaceAll('.', '\\.')} lacks.*it is required`,
        ),
      );

    const closedPort = 1; // nothing listens on port 1 of the loopback
    const unreachable = new RunningStack(
      stack.deployment,
      { ...stack.endpoints, postgres: { ...stack.endpoints.postgres!, port: closedPort } },
      credentials,
      {
        exec: (service, argv) => stack.exec(service, argv),
        close: async () => {},
        describe: 'a closed port',
      },
    );
    const error = await bootstrap({
      stack: unreachable,
      ...names('down'),
      config: only('postgres'),
      retry: { attempts: 2, minTimeoutMs: 10 },
    }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(
      /^postgres at 127\.0\.0\.1:1 is unreachable after 2 attempt\(s\)/,
    );
    expect(error).not.toBeInstanceOf(BootstrapError);
  });
});
