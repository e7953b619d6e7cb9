import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { MIGRATIONS_TABLE, postgresLayout, VECTOR_OPCLASS } from '../../schemas/postgres/layout.js';
import { postgresRoles } from '../../schemas/postgres/roles.js';
import type { VectorstackConfig } from '../config/schema.js';
import type { Credentials } from '../credentials.js';
import { REPO_ROOT } from '../paths.js';
import { waitFor } from '../util/poll.js';
import { layoutDifferences } from './postgres-layout.js';
import { planPostgresRoles } from './postgres-roles.js';
import { BootstrapError, type Drift, type ExecutablePlan, type PlannedAction } from './types.js';

export const DEFAULT_MIGRATIONS_DIR = path.join(REPO_ROOT, 'schemas', 'postgres');
const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/** Advisory lock key (two int4s): constant, so every bootstrap of this database queues behind the running one. */
const LOCK_KEY = [0x76737461, 0x626f6f74] as const;

export interface Migration {
  name: string;
  /** The file's text with its {{placeholders}}; what the checksum covers. */
  template: string;
  checksum: string;
}

/** Migration files in name order. A .sql file with a malformed name is an error rather than silently skipped. */
export function loadMigrations(dir = DEFAULT_MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const bad = files.filter((f) => !MIGRATION_FILE.test(f));
  if (bad.length > 0)
    throw new BootstrapError(`${dir}: migration file names must look like 0001_name.sql: ${bad.join(', ')}`);
  return files.map((name) => {
    const template = readFileSync(path.join(dir, name), 'utf8').replaceAll('\r\n', '\n');
    return { name, template, checksum: createHash('sha256').update(template).digest('hex') };
  });
}

/** Values for the templates' placeholders, from the configuration. */
export function migrationParams(config: VectorstackConfig): Record<string, string> {
  return {
    dimension: String(config.embedding.dimension),
    vector_opclass: VECTOR_OPCLASS[config.embedding.metric],
    hnsw_m: String(config.postgres.hnsw.m),
    hnsw_ef_construction: String(config.postgres.hnsw.efConstruction),
  };
}

export function renderMigration(migration: Migration, params: Record<string, string>): string {
  return migration.template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, key: string) => {
    const value = params[key];
    if (value === undefined)
      throw new BootstrapError(
        `${migration.name}: unknown placeholder {{${key}}}; known: ${Object.keys(params).join(', ')}`,
      );
    return value;
  });
}

export interface PostgresContext {
  /** A superuser connection: roles and the extension need it; migrations run as the owner role (SET ROLE). */
  client: pg.Client;
  config: VectorstackConfig;
  /** Passwords of the logins bootstrap manages. */
  credentials: Partial<Credentials>;
  schema: string;
  migrationsDir?: string;
}

export async function planPostgres(ctx: PostgresContext): Promise<ExecutablePlan> {
  const { client, schema } = ctx;
  const migrations = loadMigrations(ctx.migrationsDir);
  const params = migrationParams(ctx.config);
  for (const m of migrations) renderMigration(m, params); // a bad placeholder fails the plan, not halfway through

  const { rows: versionRows } = await client.query<{ server: string; vector: string | null }>(
    `SELECT current_setting('server_version') AS server,
            (SELECT default_version FROM pg_available_extensions WHERE name = 'vector') AS vector`,
  );
  const version = versionRows[0]!;
  if (!version.vector)
    throw new BootstrapError(
      `postgres ${version.server}: the pgvector extension is not installed on the server; use an image with pgvector (e.g. pgvector/pgvector)`,
    );

  const applied = await appliedMigrations(client, schema);
  const byName = new Map(migrations.map((m) => [m.name, m]));
  const problems: string[] = [];
  for (const row of applied) {
    const file = byName.get(row.name);
    if (!file)
      problems.push(`${row.name}: applied to schema ${schema} but missing from ${migrationsDirOf(ctx)}`);
    else if (file.checksum !== row.checksum)
      problems.push(
        `${row.name}: edited after it was applied (checksum ${row.checksum.slice(0, 12)}… recorded, ${file.checksum.slice(0, 12)}… now); restore it and put the change in a new migration`,
      );
  }
  if (problems.length > 0)
    throw new BootstrapError('postgres migrations do not match the database', { problems });

  const appliedNames = new Set(applied.map((r) => r.name));
  const pending: PlannedAction[] = migrations
    .filter((m) => !appliedNames.has(m.name))
    .map((m) => ({
      store: 'postgres',
      kind: 'apply-migration',
      target: m.name,
      detail: `schema ${schema}, as ${postgresRoles(ctx.config).owner.name}`,
      destructive: false,
    }));
  // Roles, extension and schema ownership first; privileges last, once the migrations' tables exist.
  const roles = await planPostgresRoles(client, ctx.config, ctx.credentials, schema);
  const grants = roles.actions.filter((a) => a.kind === 'grant-privileges');
  const before = roles.actions.filter((a) => a.kind !== 'grant-privileges');
  const grantsAfter =
    grants.length > 0 || pending.length === 0
      ? grants
      : [
          {
            store: 'postgres' as const,
            kind: 'grant-privileges',
            target: schema,
            detail: 'the new tables',
            destructive: false,
          },
        ];

  return {
    store: 'postgres',
    serverVersion: `${version.server} (pgvector ${version.vector})`,
    actions: [...before, ...pending, ...grantsAfter],
    drift: await layoutDrift(ctx, pending.length > 0),
    warnings: [],
    execute: async (action) => {
      if (await roles.execute(action)) return;
      const migration = byName.get(action.target)!;
      await applyMigration(ctx, migration, renderMigration(migration, params), params);
    },
  };
}

function migrationsDirOf(ctx: PostgresContext): string {
  return path.relative(process.cwd(), ctx.migrationsDir ?? DEFAULT_MIGRATIONS_DIR) || '.';
}

async function appliedMigrations(
  client: pg.Client,
  schema: string,
): Promise<{ name: string; checksum: string }[]> {
  const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
    `${schema}.${MIGRATIONS_TABLE}`,
  ]);
  if (!rows[0]!.exists) return [];
  const result = await client.query<{ name: string; checksum: string }>(
    `SELECT name, checksum FROM ${schema}.${MIGRATIONS_TABLE} ORDER BY name`,
  );
  return result.rows;
}

/** One migration and its bookkeeping row in one transaction: it is applied completely or not at all. */
async function applyMigration(
  ctx: PostgresContext,
  migration: Migration,
  sql: string,
  params: Record<string, string>,
): Promise<void> {
  const { client, schema } = ctx;
  await client.query('BEGIN');
  try {
    // Everything a migration creates belongs to the owner role, not to the superuser bootstrap logs in as.
    await client.query(`SET LOCAL ROLE ${postgresRoles(ctx.config).owner.name}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.${MIGRATIONS_TABLE} (
         name text PRIMARY KEY,
         checksum text NOT NULL,
         params jsonb NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    // public stays on the path: that is where the vector type lives.
    await client.query(`SET LOCAL search_path TO ${schema}, public`);
    // A table lock held by a long query must not stall the run for ever.
    await client.query(`SET LOCAL lock_timeout = '60s'`);
    await client.query(sql);
    await client.query(
      `INSERT INTO ${schema}.${MIGRATIONS_TABLE} (name, checksum, params) VALUES ($1, $2, $3)`,
      [migration.name, migration.checksum, JSON.stringify(params)],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw new BootstrapError(
      `postgres migration ${migration.name} failed and was rolled back (schema ${schema} stays at the previous migration): ${(error as Error).message}`,
    );
  }
}

/**
 * Compares the live schema with the layout the migrations produce (schemas/postgres/layout.ts). Migrations never change
 * once applied, so a new dimension or metric shows up here, not as a pending migration. Tables of pending migrations
 * are not drift yet.
 */
async function layoutDrift(ctx: PostgresContext, pending: boolean): Promise<Drift[]> {
  const differences = await layoutDifferences(ctx.client, ctx.schema, postgresLayout(ctx.config));
  const resolution =
    'add a migration that changes it (a new dimension means re-embedding every chunk); bootstrap never alters applied schema';
  return differences
    .filter((d) => !(pending && (d.actual === 'missing' || d.field === 'table')))
    .map((d) => ({ store: 'postgres', ...d, resolution }));
}

/**
 * Holds a session advisory lock while `work` runs, so concurrent bootstraps of one database run one after the other.
 * Waits at most `timeoutMs`, polling: a lock that never frees is reported rather than waited on for ever.
 */
export async function withAdvisoryLock<T>(
  client: pg.Client,
  work: () => Promise<T>,
  timeoutMs = 120_000,
): Promise<T> {
  await waitFor(
    'the bootstrap advisory lock on this database (another bootstrap holds it; if none runs, see pg_locks where locktype = advisory)',
    async () => {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1, $2) AS locked',
        [...LOCK_KEY],
      );
      return rows[0]!.locked || { waiting: 'held by another session' };
    },
    { timeoutMs, intervalMs: 250 },
  );
  try {
    return await work();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, $2)', [...LOCK_KEY]).catch(() => {});
  }
}
