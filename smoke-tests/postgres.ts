import { randomBytes, randomInt } from 'node:crypto';
import type pg from 'pg';
import { connectPostgres } from '../lib/clients.js';
import type { VectorMetric } from '../lib/config/schema.js';
import { checkReachable, expectThat, type SmokeSuite } from '../lib/verify/smoke.js';

/** pgvector 0.5.0 brought HNSW; the kit's indexes need it. */
const MIN_PGVECTOR = [0, 5, 0];

/** pgvector distance operators by metric: the bootstrap index is built for the configured one. */
const DISTANCE_OPERATOR: Record<VectorMetric, string> = { l2: '<->', cosine: '<=>', ip: '<#>' };

const BOOTSTRAP_TABLES = ['documents', 'document_chunks'];
export const BOOTSTRAP_HINT = 'run npm run bootstrap first';

interface ColumnInfo {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  type: string;
  required: boolean;
}

/** Where bootstrap put its tables (its schema is configurable), and which table holds the chunk embeddings. */
interface BootstrapLayout {
  schema: string;
  columns: ColumnInfo[];
  /** document_chunks itself, or a table keyed by a chunk (chunk_embeddings). */
  embeddingTable: string;
  embedding: ColumnInfo;
  dimension: number;
}

function versionAtLeast(version: string, minimum: number[]): boolean {
  const parts = version.split('.').map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < minimum.length; i++) {
    const have = parts[i] ?? 0;
    if (have !== minimum[i]) return have > minimum[i]!;
  }
  return true;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * A value for a NOT NULL column the smoke row must fill, by type; null when we do not know how. Text is a fresh
 * lower-case identifier: it passes the schema's name-like CHECKs and never collides with a UNIQUE committed row.
 */
function placeholderSql(column: ColumnInfo, token: string): string | null {
  if (/^(text|character varying|character|citext)$/.test(column.data_type)) return `'smoke_test_${token}'`;
  if (/^(integer|bigint|smallint|numeric|real|double precision)$/.test(column.data_type)) return '0';
  if (/^jsonb?$/.test(column.data_type)) return `'{}'`;
  if (column.data_type === 'uuid') return 'gen_random_uuid()';
  if (column.data_type === 'boolean') return 'false';
  if (column.data_type.startsWith('timestamp') || column.data_type === 'date') return 'now()';
  if (column.data_type === 'ARRAY') return `'{}'`;
  return null;
}

/** A random vector: a kNN query for it must return the row holding it first (distance 0). */
function probeVector(dimension: number): string {
  return `[${Array.from({ length: dimension }, () => randomInt(1, 1000) / 1000).join(',')}]`;
}

/** The bootstrap tables, in whichever schema holds both; null when bootstrap has not run. */
async function findBootstrapLayout(client: pg.Client): Promise<BootstrapLayout | null> {
  const { rows: schemas } = await client.query<{ schema: string }>(
    `SELECT table_schema AS schema FROM information_schema.tables
      WHERE table_name = ANY($1) GROUP BY table_schema HAVING count(*) = $2
      ORDER BY table_schema = current_schema() DESC, table_schema LIMIT 1`,
    [BOOTSTRAP_TABLES, BOOTSTRAP_TABLES.length],
  );
  if (!schemas[0]) return null;
  const { schema } = schemas[0];
  const { rows: columns } = await client.query<ColumnInfo>(
    `SELECT c.table_name, c.column_name, c.data_type, c.udt_name,
            format_type(a.atttypid, a.atttypmod) AS type,
            (c.is_nullable = 'NO' AND c.column_default IS NULL AND c.is_identity = 'NO' AND c.is_generated = 'NEVER') AS required
       FROM information_schema.columns c
       JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass
                          AND a.attname = c.column_name
      WHERE c.table_schema = $1
      ORDER BY c.table_name, c.ordinal_position`,
    [schema],
  );
  const vectorIn = (table: string) => columns.find((c) => c.table_name === table && c.udt_name === 'vector');
  let embeddingTable = 'document_chunks';
  if (!vectorIn(embeddingTable)) {
    const { rows } = await client.query<{ table: string }>(
      `SELECT child.relname AS table FROM pg_constraint k
         JOIN pg_class child ON child.oid = k.conrelid
        WHERE k.contype = 'f' AND k.confrelid = $1::regclass`,
      [`${quote(schema)}.document_chunks`],
    );
    embeddingTable = rows.map((r) => r.table).find((t) => vectorIn(t)) ?? embeddingTable;
  }
  const embedding = vectorIn(embeddingTable);
  if (!embedding) return null;
  const dimension = Number(/\((\d+)\)/.exec(embedding.type)?.[1] ?? Number.NaN);
  return { schema, columns, embeddingTable, embedding, dimension };
}

/** The column of `child` referencing `parent`, and the parent column it references. */
async function foreignKey(
  client: pg.Client,
  schema: string,
  child: string,
  parent: string,
): Promise<{ column: string; references: string }> {
  const { rows } = await client.query<{ column: string; references: string }>(
    `SELECT ka.attname AS column, ra.attname AS references
       FROM pg_constraint k
       JOIN pg_attribute ka ON ka.attrelid = k.conrelid AND ka.attnum = k.conkey[1]
       JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
      WHERE k.contype = 'f' AND k.conrelid = $1::regclass AND k.confrelid = $2::regclass`,
    [`${quote(schema)}.${quote(child)}`, `${quote(schema)}.${quote(parent)}`],
  );
  expectThat(!!rows[0], `${schema}.${child} has no foreign key to ${schema}.${parent}`);
  return rows[0];
}

/** Inserts one row, filling every required column not `given`; returns the RETURNING row. */
async function insertRow(
  client: pg.Client,
  layout: BootstrapLayout,
  table: string,
  given: Record<string, { sql: string; value: unknown }>,
  returning: string,
): Promise<Record<string, string>> {
  const token = randomBytes(6).toString('hex');
  const values: Record<string, string> = {};
  const params: unknown[] = [];
  for (const column of layout.columns.filter((c) => c.table_name === table && c.required)) {
    if (given[column.column_name]) continue;
    const value = placeholderSql(column, token);
    if (value === null)
      throw new Error(
        `cannot fill required column ${table}.${column.column_name} (${column.type}) in the smoke row`,
      );
    values[column.column_name] = value;
  }
  for (const [name, { sql, value }] of Object.entries(given)) {
    params.push(value);
    values[name] = sql.replace('$', `$${params.length}`);
  }
  const names = Object.keys(values);
  const { rows } = await client.query(
    `INSERT INTO ${quote(layout.schema)}.${quote(table)} (${names.map(quote).join(', ')})
     VALUES (${names.map((n) => values[n]).join(', ')}) RETURNING ${returning}`,
    params,
  );
  return rows[0] as Record<string, string>;
}

/** Document, chunk and embedding in the bootstrap tables; a kNN query must return the embedding. Caller rolls back. */
async function bootstrapRoundTrip(
  client: pg.Client,
  layout: BootstrapLayout,
  metric: VectorMetric,
): Promise<string> {
  const { schema, embeddingTable, embedding, dimension } = layout;
  const chunkToDocument = await foreignKey(client, schema, 'document_chunks', 'documents');
  const document = await insertRow(
    client,
    layout,
    'documents',
    {},
    `${quote(chunkToDocument.references)}::text AS ref`,
  );
  const vector = probeVector(dimension);
  const vectorValue = { sql: '$::vector', value: vector };
  const documentRef = { sql: '$', value: document.ref };
  let inserted: Record<string, string>;
  if (embeddingTable === 'document_chunks') {
    inserted = await insertRow(
      client,
      layout,
      'document_chunks',
      { [chunkToDocument.column]: documentRef, [embedding.column_name]: vectorValue },
      'ctid::text',
    );
  } else {
    const embeddingToChunk = await foreignKey(client, schema, embeddingTable, 'document_chunks');
    const chunk = await insertRow(
      client,
      layout,
      'document_chunks',
      { [chunkToDocument.column]: documentRef },
      `${quote(embeddingToChunk.references)}::text AS ref`,
    );
    inserted = await insertRow(
      client,
      layout,
      embeddingTable,
      { [embeddingToChunk.column]: { sql: '$', value: chunk.ref }, [embedding.column_name]: vectorValue },
      'ctid::text',
    );
  }
  const operator = DISTANCE_OPERATOR[metric];
  const knn = await client.query<{ ctid: string }>(
    `SELECT ctid::text FROM ${quote(schema)}.${quote(embeddingTable)}
      ORDER BY ${quote(embedding.column_name)} ${operator} $1::vector LIMIT 5`,
    [vector],
  );
  expectThat(
    knn.rows.some((r) => r.ctid === inserted.ctid),
    `kNN query on ${schema}.${embeddingTable} (${operator}, LIMIT 5) did not return the embedding just inserted`,
  );
  return `document, chunk and vector(${dimension}) inserted in ${schema}.{documents,document_chunks${embeddingTable === 'document_chunks' ? '' : `,${embeddingTable}`}}; kNN (${operator}) found it; rolled back`;
}

/** Without the bootstrap schema: the same kNN round trip on a temporary table, inside the rolled-back transaction. */
async function fallbackRoundTrip(client: pg.Client): Promise<string> {
  await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  await client.query(
    'CREATE TEMP TABLE smoke_chunks (id int PRIMARY KEY, embedding vector(3)) ON COMMIT DROP',
  );
  await client.query(`INSERT INTO smoke_chunks VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]')`);
  const knn = await client.query<{ id: number }>(
    `SELECT id FROM smoke_chunks ORDER BY embedding <-> '[0.1,0.9,0]' LIMIT 1`,
  );
  expectThat(
    knn.rows[0]?.id === 2,
    `kNN on the fallback table returned ${JSON.stringify(knn.rows)}, expected id 2`,
  );
  return `bootstrap schema absent: kNN checked on a temporary table instead (rolled back); ${BOOTSTRAP_HINT}`;
}

export const postgresSuite: SmokeSuite = async ({ config, connection, credentials }, run, retry) => {
  const pgInfo = connection.postgres;
  if (!pgInfo) return run.skip('configured', 'postgres is disabled or not published to this host');
  if (!(await checkReachable(run, pgInfo, retry))) return;
  const endpoint = { ...pgInfo, password: credentials.postgres_password };
  const where = `${pgInfo.host}:${pgInfo.port}`;
  let client: pg.Client | undefined;
  try {
    await run.check(
      'authenticated',
      async () => {
        const refused = await connectPostgres(
          { ...endpoint, password: 'not-the-password' },
          { attempts: 1 },
        ).then(
          async (c) => {
            await c.end();
            return false;
          },
          (error: { code?: string }) => error.code === '28P01',
        );
        expectThat(refused, `postgres at ${where} accepted a wrong password`);
        client = await connectPostgres(endpoint, retry);
        const { rows } = await client.query<{ user: string }>('SELECT current_user AS user');
        return `logged in as ${rows[0]!.user} to ${pgInfo.database}; a wrong password is refused`;
      },
      { required: true },
    );
    if (!client) return;
    const db = client;
    await run.check('version', async () => {
      const { rows } = await db.query<{ server_version: string }>('SHOW server_version');
      return `PostgreSQL ${rows[0]!.server_version}`;
    });
    await run.check('pgvector', async () => {
      const { rows } = await db.query<{ installed: string | null; available: string | null }>(
        `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS installed,
                (SELECT default_version FROM pg_available_extensions WHERE name = 'vector') AS available`,
      );
      const { installed, available } = rows[0]!;
      expectThat(!!(installed ?? available), `the vector extension is not available on postgres at ${where}`);
      const version = (installed ?? available)!;
      expectThat(
        versionAtLeast(version, MIN_PGVECTOR),
        `pgvector ${version} is older than ${MIN_PGVECTOR.join('.')} (no HNSW)`,
      );
      return installed
        ? `vector ${installed} installed in ${pgInfo.database}`
        : `vector ${available} available, not yet created in ${pgInfo.database} (${BOOTSTRAP_HINT})`;
    });
    let layout: BootstrapLayout | null = null;
    await run.check('bootstrap schema', async () => {
      layout = await findBootstrapLayout(db);
      expectThat(
        layout !== null,
        `tables ${BOOTSTRAP_TABLES.join(', ')} with a vector(d) column not found in ${pgInfo.database} at ${where}: ${BOOTSTRAP_HINT}`,
      );
      return `${layout.schema}.documents, ${layout.schema}.document_chunks, ${layout.schema}.${layout.embeddingTable}.${layout.embedding.column_name} ${layout.embedding.type}`;
    });
    await run.check('round trip (kNN, rolled back)', async () => {
      const found: BootstrapLayout | null = layout;
      await db.query('BEGIN');
      try {
        return found
          ? await bootstrapRoundTrip(db, found, config.embedding.metric)
          : await fallbackRoundTrip(db);
      } finally {
        await db.query('ROLLBACK');
      }
    });
  } finally {
    await client?.end().catch(() => {});
  }
};
