// PostgreSQL in a backup set: a logical dump in custom format (pg_dump -Fc --create) run inside the server's container
// or pod as the superuser, under the same snapshot as the per-table counts and checksums recorded beside it; restored
// database first, extensions next, then every object in one transaction, and verified against the manifest.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { MIGRATIONS_TABLE } from '../../../schemas/postgres/layout.js';
import { POSTGRES_ADMIN_USER } from '../../../schemas/postgres/roles.js';
import type { RunningStack } from '../../stack/running-stack.js';
import { type FileEntry, fileEntry, ownerOnlyDir } from './files.js';
import type { PostgresSection, RecallRecord, RecallSample } from './manifest.js';
import { meanRecall, recallDifferences, samplePositions, vectorSha256 } from './recall.js';
import { BackupSetError, compareVersions, type StoreContext } from './types.js';

/** pg_dump and pg_restore may run for hours on a large database; the bound only catches a hung exec. */
const DUMP_TIMEOUT_MS = 6 * 3600_000;

/** The dump's path inside the set. */
export const POSTGRES_DUMP = 'postgres/database.dump';

/** Session settings that make text output (COPY, ::text) the same on every server: the checksums depend on it. */
const CANONICAL_SETTINGS = [
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  "SET TimeZone = 'UTC'",
  'SET extra_float_digits = 1',
  "SET bytea_output = 'hex'",
];

/** pgvector operator classes this module can measure recall for: distance operator and metric. */
const OPCLASS_METRIC: Record<string, { operator: string; metric: string }> = {
  vector_l2_ops: { operator: '<->', metric: 'L2' },
  vector_ip_ops: { operator: '<#>', metric: 'IP' },
  vector_cosine_ops: { operator: '<=>', metric: 'COSINE' },
  vector_l1_ops: { operator: '<+>', metric: 'L1' },
};

/** Search-time settings the recall measurement uses, per index method (recorded in the manifest). */
const SEARCH_SETTINGS: Record<string, Record<string, number>> = {
  hnsw: { 'hnsw.ef_search': 64 },
  ivfflat: { 'ivfflat.probes': 16 },
};

interface TableInfo {
  schema: string;
  name: string;
  /** Primary-key columns, or [] when the table has none. */
  primaryKey: string[];
}

interface VectorIndex {
  index: string;
  method: string;
  definition: string;
  table: TableInfo;
  column: string;
  operator: string;
  metric: string;
}

const qualified = (c: pg.Client, t: { schema: string; name: string }) =>
  `${c.escapeIdentifier(t.schema)}.${c.escapeIdentifier(t.name)}`;

/** ORDER BY of a table's rows: its primary key, else the whole row as text (every table has a total order). */
function orderBy(c: pg.Client, t: TableInfo): string[] {
  return t.primaryKey.length > 0 ? t.primaryKey.map((col) => c.escapeIdentifier(col)) : ['(t.*)::text'];
}

/** The primary key as one text value: the column, or ROW(a, b) for a composite key. */
function keyText(c: pg.Client, t: TableInfo): string {
  const cols = t.primaryKey.map((col) => `t.${c.escapeIdentifier(col)}`);
  return cols.length === 1 ? `${cols[0]}::text` : `ROW(${cols.join(', ')})::text`;
}

/** User tables (not the catalogs', not an extension's) with their primary keys. */
async function listTables(c: pg.Client): Promise<TableInfo[]> {
  const { rows } = await c.query<{ schema: string; name: string; pk: string[] | null }>(`
    SELECT n.nspname AS schema, cl.relname AS name,
      (SELECT array_agg(a.attname::text ORDER BY k.ord)
         FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = cl.oid AND i.indisprimary) AS pk
    FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace
    WHERE cl.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = cl.oid AND d.deptype = 'e')
    ORDER BY 1, 2`);
  return rows.map((r) => ({ schema: r.schema, name: r.name, primaryKey: r.pk ?? [] }));
}

/** HNSW and IVFFlat indexes on `vector` columns whose operator class recall can be measured for. */
async function listVectorIndexes(c: pg.Client, tables: TableInfo[]): Promise<VectorIndex[]> {
  const { rows } = await c.query<{
    index: string;
    method: string;
    definition: string;
    schema: string;
    table: string;
    column: string;
    opclass: string;
  }>(`
    SELECT ic.relname AS index, am.amname AS method, pg_get_indexdef(i.indexrelid) AS definition,
           n.nspname AS schema, c.relname AS table, a.attname AS column, opc.opcname AS opclass
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ic.relam
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
    JOIN pg_opclass opc ON opc.oid = i.indclass[0]
    WHERE am.amname IN ('hnsw', 'ivfflat') AND format_type(a.atttypid, NULL) = 'vector'
    ORDER BY n.nspname, c.relname, ic.relname`);
  const out: VectorIndex[] = [];
  for (const r of rows) {
    const table = tables.find((t) => t.schema === r.schema && t.name === r.table);
    const op = OPCLASS_METRIC[r.opclass];
    if (!table || !op || table.primaryKey.length === 0) continue;
    out.push({
      index: r.index,
      method: r.method,
      definition: r.definition,
      table,
      column: r.column,
      ...op,
    });
  }
  return out;
}

/** Row count and SHA-256 of a table's rows in COPY text form, in primary-key order. */
async function tableChecksum(c: pg.Client, t: TableInfo): Promise<{ rows: number; sha256: string }> {
  const hash = createHash('sha256');
  let rows = 0;
  const stream = c.query(
    copyTo(`COPY (SELECT * FROM ${qualified(c, t)} t ORDER BY ${orderBy(c, t).join(', ')}) TO STDOUT`),
  );
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x0a) rows++;
  }
  return { rows, sha256: hash.digest('hex') };
}

const parseVector = (text: string): number[] => JSON.parse(text) as number[];

/** Index search of each sample with the recorded settings (sequential scans off, so the index answers). */
async function indexSearch(
  c: pg.Client,
  vi: VectorIndex,
  settings: Record<string, number>,
  queries: { id: string; vector: string }[],
  k: number,
): Promise<string[][]> {
  for (const [name, value] of Object.entries(settings)) await c.query(`SET ${name} = ${Number(value)}`);
  await c.query('SET enable_seqscan = off');
  try {
    const out: string[][] = [];
    for (const q of queries) {
      const { rows } = await c.query<{ id: string }>(
        `SELECT ${keyText(c, vi.table)} AS id FROM ${qualified(c, vi.table)} t ORDER BY t.${c.escapeIdentifier(vi.column)} ${vi.operator} $1::vector LIMIT ${k}`,
        [q.vector],
      );
      out.push(rows.map((r) => r.id));
    }
    return out;
  } finally {
    await c.query('RESET enable_seqscan');
    for (const name of Object.keys(settings)) await c.query(`RESET ${name}`);
  }
}

/** Samples (evenly in key order), their exact neighbours (a sequential scan) and what the index returns. */
async function measureRecall(
  c: pg.Client,
  vi: VectorIndex,
  rows: number,
  ctx: Pick<StoreContext, 'recallQueries' | 'recallK'>,
): Promise<RecallRecord> {
  const k = ctx.recallK;
  const col = `t.${c.escapeIdentifier(vi.column)}`;
  const positions = samplePositions(rows, ctx.recallQueries);
  const { rows: sampled } = await c.query<{ id: string; vector: string | null }>(
    `SELECT id, vector FROM (
       SELECT ${keyText(c, vi.table)} AS id, ${col}::text AS vector,
              row_number() OVER (ORDER BY ${orderBy(c, vi.table)
                .map((o) => `t.${o}`)
                .join(', ')}) - 1 AS rn
       FROM ${qualified(c, vi.table)} t) s
     WHERE rn = ANY($1::bigint[]) AND vector IS NOT NULL ORDER BY rn`,
    [positions],
  );
  const queries = sampled as { id: string; vector: string }[];
  const exact: string[][] = [];
  for (const setting of ['enable_indexscan', 'enable_bitmapscan', 'enable_indexonlyscan'])
    await c.query(`SET ${setting} = off`);
  try {
    for (const q of queries) {
      const { rows: found } = await c.query<{ id: string }>(
        `SELECT ${keyText(c, vi.table)} AS id FROM ${qualified(c, vi.table)} t WHERE ${col} IS NOT NULL
         ORDER BY ${col} ${vi.operator} $1::vector, ${orderBy(c, vi.table)
           .map((o) => `t.${o}`)
           .join(', ')} LIMIT ${k}`,
        [q.vector],
      );
      exact.push(found.map((r) => r.id));
    }
  } finally {
    for (const setting of ['enable_indexscan', 'enable_bitmapscan', 'enable_indexonlyscan'])
      await c.query(`RESET ${setting}`);
  }
  const searchParams = SEARCH_SETTINGS[vi.method] ?? {};
  const found = await indexSearch(c, vi, searchParams, queries, k);
  const samples: RecallSample[] = queries.map((q, i) => ({
    id: q.id,
    vectorSha256: vectorSha256(parseVector(q.vector)),
    exact: exact[i]!,
    found: found[i]!,
  }));
  return {
    target: `${vi.table.schema}.${vi.table.name}.${vi.column}`,
    index: `${vi.index}: ${vi.definition.replace(/^CREATE INDEX \S+ ON /, '')}`,
    metric: vi.metric,
    searchParams,
    k,
    samples,
    recall: meanRecall(samples, k),
  };
}

async function serverFacts(c: pg.Client) {
  const { rows } = await c.query<{ v: string; num: string }>(
    "SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS num",
  );
  return { serverVersion: rows[0]!.v, serverVersionNum: Number(rows[0]!.num) };
}

async function canonicalSession(c: pg.Client): Promise<void> {
  for (const statement of CANONICAL_SETTINGS) await c.query(statement);
}

/**
 * Dumps the database and records what it holds. One REPEATABLE READ transaction exports its snapshot to pg_dump
 * (--snapshot), so the dump, the counts, the checksums and the recall samples all describe the same instant.
 */
export async function backupPostgres(
  ctx: StoreContext,
  setDir: string,
): Promise<{ section: PostgresSection; files: FileEntry[] }> {
  const { stack, progress } = ctx;
  const database = stack.config.postgres.database;
  const dumpFile = path.join(setDir, POSTGRES_DUMP);
  ownerOnlyDir(path.dirname(dumpFile));
  return stack.with(stack.postgres({ role: 'admin' }), async (c) => {
    const facts = await serverFacts(c);
    const pgDump = (await stack.exec('postgres', ['pg_dump', '--version'])).stdout.trim();
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const { rows: snap } = await c.query<{ id: string; at: Date }>(
        'SELECT pg_export_snapshot() AS id, now() AS at',
      );
      await canonicalSession(c);
      const tables = await listTables(c);
      const { rows: ext } = await c.query<{ name: string; version: string; schema: string }>(
        'SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1',
      );
      const { rows: roles } = await c.query<{ name: string }>(
        `SELECT rolname AS name FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> $1 ORDER BY 1`,
        [POSTGRES_ADMIN_USER],
      );
      progress.log(`postgres: pg_dump -Fc of ${database} at snapshot ${snap[0]!.id}`);
      const dump = progress.heartbeat(
        'postgres: pg_dump',
        stack.exec(
          'postgres',
          [
            'pg_dump',
            '-U',
            POSTGRES_ADMIN_USER,
            '-d',
            database,
            '--format=custom',
            '--create',
            `--snapshot=${snap[0]!.id}`,
          ],
          { stdoutFile: dumpFile, timeoutMs: DUMP_TIMEOUT_MS },
        ),
      );
      // Awaited below; a failure meanwhile must not go unhandled.
      dump.catch(() => {});
      // The snapshot stays valid while this transaction is open: count and checksum under it meanwhile.
      const counted: PostgresSection['tables'] = [];
      for (const t of tables) {
        const sum = await tableChecksum(c, t);
        counted.push({
          schema: t.schema,
          name: t.name,
          rows: sum.rows,
          orderBy: orderBy(c, t),
          sha256: sum.sha256,
        });
      }
      progress.log(
        `postgres: ${counted.length} table(s), ${counted.reduce((s, t) => s + t.rows, 0)} row(s) checksummed`,
      );
      const recall: RecallRecord[] = [];
      for (const vi of await listVectorIndexes(c, tables)) {
        const rows = counted.find((t) => t.schema === vi.table.schema && t.name === vi.table.name)?.rows ?? 0;
        if (rows === 0) continue;
        const measured = await measureRecall(c, vi, rows, ctx);
        progress.log(
          `postgres: recall@${measured.k} ${measured.recall.toFixed(4)} on ${measured.target} (${vi.index})`,
        );
        recall.push(measured);
      }
      await dump;
      const toc = await listToc(stack, dumpFile);
      const entry = await fileEntry(setDir, dumpFile);
      progress.log(`postgres: dump ${(entry.bytes / 1e6).toFixed(1)} MB, ${toc.length} TOC entries`);
      return {
        section: {
          ...facts,
          pgDumpVersion: pgDump.replace(/^pg_dump \(PostgreSQL\) /, ''),
          database,
          snapshotAt: snap[0]!.at.toISOString(),
          extensions: ext,
          roles: roles.map((r) => r.name),
          dump: entry.path,
          tocEntries: toc.length,
          tables: counted,
          recall,
        },
        files: [entry],
      };
    } finally {
      await c.query('COMMIT').catch(() => {});
    }
  });
}

/** One line of `pg_restore -l`: `3791; 1262 16384 DATABASE - rag postgres`. */
export interface TocEntry {
  line: string;
  kind: string;
}

/** Parses `pg_restore -l` output into entries (comments dropped). */
export function parseToc(listing: string): TocEntry[] {
  const kinds = [
    'DATABASE PROPERTIES',
    'DATABASE',
    'EXTENSION',
    'TABLE DATA',
    'TABLE',
    'INDEX',
    'ACL',
    'COMMENT',
    'DEFAULT ACL',
  ];
  return listing
    .split('\n')
    .filter((line) => /^\d+; \d+ \d+ /.test(line))
    .map((line) => {
      const rest = line.replace(/^\d+; \d+ \d+ /, '');
      return { line, kind: kinds.find((k) => rest.startsWith(`${k} `)) ?? rest.split(' ')[0]! };
    });
}

/** The archive's table of contents, read by the server's own pg_restore (which also proves the header is sound). */
async function listToc(stack: RunningStack, dumpFile: string): Promise<TocEntry[]> {
  const { stdout } = await stack.exec('postgres', ['pg_restore', '--list', '--create'], {
    stdinFile: dumpFile,
    timeoutMs: DUMP_TIMEOUT_MS,
  });
  return parseToc(stdout);
}

/** What the target holds and lacks, found without changing anything. */
export interface PostgresTargetCheck {
  /** Refusals: newer backup, missing extension or role, unreadable dump. */
  problems: string[];
  /** Tables holding rows (bootstrap's bookkeeping table aside), e.g. `public.documents: 12 row(s)`. */
  data: string[];
  /** The archive's entries, split into the database entries and the rest. */
  toc: TocEntry[];
  /** Per extension: the version the restore creates (the backed-up one when the target offers it). */
  extensionVersions: Record<string, string>;
}

export async function checkPostgresTarget(
  stack: RunningStack,
  section: PostgresSection,
  dumpFile: string,
): Promise<PostgresTargetCheck> {
  const problems: string[] = [];
  const data: string[] = [];
  const extensionVersions: Record<string, string> = {};
  await stack.with(stack.postgres({ role: 'admin', database: 'postgres' }), async (c) => {
    const facts = await serverFacts(c);
    if (facts.serverVersionNum < section.serverVersionNum)
      problems.push(
        `postgres: the backup comes from PostgreSQL ${section.serverVersion}, newer than the target's ${facts.serverVersion}: a dump restores into the same or a newer server only`,
      );
    for (const ext of section.extensions) {
      if (ext.name === 'plpgsql') continue;
      const { rows } = await c.query<{ version: string }>(
        'SELECT version FROM pg_available_extension_versions WHERE name = $1',
        [ext.name],
      );
      const versions = rows.map((r) => r.version);
      if (versions.includes(ext.version)) extensionVersions[ext.name] = ext.version;
      else {
        const newer = versions.filter((v) => compareVersions(v, ext.version) > 0).sort(compareVersions);
        if (newer.length > 0) extensionVersions[ext.name] = newer[0]!;
        else
          problems.push(
            `postgres: extension ${ext.name} ${ext.version} is not available on the target (available: ${versions.join(', ') || 'none'}); install it in the server image first`,
          );
      }
    }
    const { rows: present } = await c.query<{ name: string }>('SELECT rolname AS name FROM pg_roles');
    const have = new Set(present.map((r) => r.name));
    const missing = section.roles.filter((r) => !have.has(r));
    if (missing.length > 0)
      problems.push(
        `postgres: role(s) ${missing.join(', ')} do not exist on the target; roles are cluster-wide and not in the dump: run npm run bootstrap first (it creates the kit's roles), create any other by hand`,
      );
  });
  await stack
    .with(stack.postgres({ role: 'admin', database: section.database }), async (c) => {
      for (const t of await listTables(c)) {
        if (t.name === MIGRATIONS_TABLE) continue;
        const { rows } = await c.query<{ n: string }>(
          `SELECT count(*) AS n FROM (SELECT 1 FROM ${qualified(c, t)} LIMIT 1000001) s`,
        );
        const n = Number(rows[0]!.n);
        if (n > 0) data.push(`${t.schema}.${t.name}: ${n > 1_000_000 ? 'over 1000000' : n} row(s)`);
      }
    })
    .catch((error: Error) => {
      // A database that does not exist holds no data.
      if (!/does not exist/.test(error.message)) throw error;
    });
  let toc: TocEntry[] = [];
  try {
    toc = await listToc(stack, dumpFile);
  } catch (error) {
    problems.push(
      `${dumpFile}: the target's pg_restore cannot read it: ${(error as Error).message.split('\n').slice(-1)[0]}`,
    );
  }
  if (toc.length > 0) {
    if (toc.length !== section.tocEntries)
      problems.push(`${dumpFile}: ${toc.length} TOC entries, the manifest says ${section.tocEntries}`);
    if (!toc.some((e) => e.kind === 'DATABASE'))
      problems.push(`${dumpFile}: no DATABASE entry (not dumped with --create)`);
    const firstTable = toc.findIndex((e) => e.kind === 'TABLE');
    const lastExtension = toc.map((e) => e.kind).lastIndexOf('EXTENSION');
    if (firstTable >= 0 && lastExtension > firstTable)
      problems.push(`${dumpFile}: an EXTENSION entry comes after the first TABLE entry`);
  }
  return { problems, data, toc, extensionVersions };
}

/** A list file for pg_restore -L, written into the container's scratch directory. */
async function writeList(stack: RunningStack, file: string, entries: TocEntry[]): Promise<void> {
  await stack.exec('postgres', ['tee', file], { input: `${entries.map((e) => e.line).join('\n')}\n` });
}

/**
 * Restores the dump: (1) the database is dropped (other sessions ended) and created again from the archive's DATABASE
 * entry, (2) each extension is created first at the backed-up version, (3) every other entry is restored by pg_restore
 * in one transaction that stops at the first error. A run killed in (3) leaves an empty database; a re-run starts at
 * (1) again.
 */
export async function restorePostgres(
  ctx: StoreContext,
  section: PostgresSection,
  dumpFile: string,
  check: PostgresTargetCheck,
  tag: string,
): Promise<void> {
  const { stack, progress } = ctx;
  const database = section.database;
  const dbList = `/tmp/vectorstack-restore-${tag}-database.list`;
  const restList = `/tmp/vectorstack-restore-${tag}-objects.list`;
  const isDatabase = (e: TocEntry) => e.kind === 'DATABASE' || e.kind === 'DATABASE PROPERTIES';
  await writeList(stack, dbList, check.toc.filter(isDatabase));
  await writeList(
    stack,
    restList,
    check.toc.filter((e) => !isDatabase(e)),
  );
  try {
    await stack.with(stack.postgres({ role: 'admin', database: 'postgres' }), (c) =>
      c.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database],
      ),
    );
    progress.log(`postgres: recreating database ${database}`);
    await stack.exec(
      'postgres',
      [
        'pg_restore',
        '-U',
        POSTGRES_ADMIN_USER,
        '-d',
        'postgres',
        '--create',
        '--clean',
        '--if-exists',
        '--exit-on-error',
        `--use-list=${dbList}`,
      ],
      { stdinFile: dumpFile, timeoutMs: DUMP_TIMEOUT_MS },
    );
    await stack.with(stack.postgres({ role: 'admin', database }), async (c) => {
      for (const ext of section.extensions) {
        if (ext.name === 'plpgsql') continue;
        const version = check.extensionVersions[ext.name]!;
        progress.log(`postgres: CREATE EXTENSION ${ext.name} VERSION ${version} (before any object)`);
        await c.query(
          `CREATE EXTENSION IF NOT EXISTS ${c.escapeIdentifier(ext.name)} WITH SCHEMA ${c.escapeIdentifier(ext.schema)} VERSION ${c.escapeLiteral(version)}`,
        );
      }
    });
    progress.log(`postgres: pg_restore of ${check.toc.length} entries in one transaction`);
    await progress.heartbeat(
      'postgres: pg_restore',
      stack.exec(
        'postgres',
        [
          'pg_restore',
          '-U',
          POSTGRES_ADMIN_USER,
          '-d',
          database,
          '--single-transaction',
          '--exit-on-error',
          `--use-list=${restList}`,
        ],
        { stdinFile: dumpFile, timeoutMs: DUMP_TIMEOUT_MS },
      ),
    );
  } finally {
    await stack.exec('postgres', ['rm', '-f', dbList, restList]).catch(() => {});
  }
}

/** Compares the restored database with the manifest: every table's count and checksum, sampled vectors, recall. */
export async function verifyPostgres(
  ctx: StoreContext,
  section: PostgresSection,
  recallTolerance: number,
): Promise<{ problems: string[]; recall: { target: string; before: number; after: number }[] }> {
  const { stack } = ctx;
  const problems: string[] = [];
  const recall: { target: string; before: number; after: number }[] = [];
  await stack.with(stack.postgres({ role: 'admin', database: section.database }), async (c) => {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      await canonicalSession(c);
      const tables = await listTables(c);
      for (const expected of section.tables) {
        const t = tables.find((x) => x.schema === expected.schema && x.name === expected.name);
        const label = `postgres: ${expected.schema}.${expected.name}`;
        if (!t) {
          problems.push(`${label}: missing after the restore`);
          continue;
        }
        const sum = await tableChecksum(c, t);
        if (sum.rows !== expected.rows)
          problems.push(`${label}: ${sum.rows} row(s), the manifest says ${expected.rows}`);
        else if (sum.sha256 !== expected.sha256)
          problems.push(
            `${label}: rows differ (SHA-256 ${sum.sha256.slice(0, 12)}… vs ${expected.sha256.slice(0, 12)}…)`,
          );
      }
      const indexes = await listVectorIndexes(c, tables);
      for (const before of section.recall) {
        const vi = indexes.find(
          (x) =>
            `${x.table.schema}.${x.table.name}.${x.column}` === before.target &&
            before.index.startsWith(`${x.index}:`),
        );
        if (!vi) {
          problems.push(
            `postgres: ${before.target}: index ${before.index.split(':')[0]} missing after the restore`,
          );
          continue;
        }
        const { rows } = await c.query<{ id: string; vector: string }>(
          `SELECT ${keyText(c, vi.table)} AS id, t.${c.escapeIdentifier(vi.column)}::text AS vector FROM ${qualified(c, vi.table)} t WHERE ${keyText(c, vi.table)} = ANY($1::text[])`,
          [before.samples.map((s) => s.id)],
        );
        const byId = new Map(rows.map((r) => [r.id, r.vector]));
        const queries: { id: string; vector: string }[] = [];
        for (const s of before.samples) {
          const vector = byId.get(s.id);
          if (vector === undefined) problems.push(`postgres: ${before.target}: sampled row ${s.id} missing`);
          else if (vectorSha256(parseVector(vector)) !== s.vectorSha256)
            problems.push(
              `postgres: ${before.target}: sampled row ${s.id}: vector differs from the backup's`,
            );
          else queries.push({ id: s.id, vector });
        }
        if (queries.length !== before.samples.length) continue;
        const found = await indexSearch(c, vi, before.searchParams, queries, before.k);
        const after = before.samples.map((s, i) => ({ ...s, found: found[i]! }));
        recall.push({ target: before.target, before: before.recall, after: meanRecall(after, before.k) });
        problems.push(...recallDifferences(before, after, recallTolerance).map((p) => `postgres: ${p}`));
      }
    } finally {
      await c.query('COMMIT').catch(() => {});
    }
  });
  return { problems, recall };
}

/** Refuses a section whose dump the set does not list (a malformed set). */
export function requireDump(section: PostgresSection, setDir: string): string {
  if (!section.dump) throw new BackupSetError('manifest: postgres section names no dump');
  return path.join(setDir, section.dump);
}
