import { randomBytes, randomInt } from 'node:crypto';
import type pg from 'pg';
import { layoutDifferences } from '../lib/bootstrap/postgres-layout.js';
import { connectPostgres } from '../lib/clients.js';
import { checkReachable, expectThat, type SmokeSuite } from '../lib/verify/smoke.js';
import { PG_PLAIN_REFUSAL, plainPostgres } from '../lib/verify/tls-probe.js';
import { postgresLayout, roundTripStatements } from '../schemas/postgres/layout.js';

/** pgvector 0.5.0 brought HNSW; the kit's indexes need it. */
const MIN_PGVECTOR = [0, 5, 0];
/** Schema bootstrap puts the tables in by default. */
const SCHEMA = 'public';
export const BOOTSTRAP_HINT = 'run npm run bootstrap first';

function versionAtLeast(version: string, minimum: number[]): boolean {
  const parts = version.split('.').map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < minimum.length; i++) {
    const have = parts[i] ?? 0;
    if (have !== minimum[i]) return have > minimum[i]!;
  }
  return true;
}

/** A random vector: a kNN query for it must return the row holding it first (distance 0). */
function probeVector(dimension: number): string {
  return `[${Array.from({ length: dimension }, () => randomInt(1, 1000) / 1000).join(',')}]`;
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

export const postgresSuite: SmokeSuite = async (stack, run, retry) => {
  const { config } = stack;
  const pgInfo = stack.endpoints.postgres;
  if (!pgInfo) return run.skip('configured', 'postgres is disabled or not published to this host');
  if (!(await checkReachable(run, pgInfo, retry))) return;
  const where = `${pgInfo.host}:${pgInfo.port}`;
  let client: pg.Client | undefined;
  try {
    await run.check(
      'authenticated',
      async () => {
        // The application login (schemas/postgres/roles.ts): what applications use, created by bootstrap.
        const refused = await connectPostgres(
          { ...pgInfo, password: 'not-the-password' },
          { attempts: 1 },
        ).then(
          async (c) => {
            await c.end();
            return 'accepted';
          },
          (error: { code?: string; message: string }) => (error.code === '28P01' ? 'refused' : error.message),
        );
        expectThat(
          refused === 'refused',
          refused === 'accepted'
            ? `postgres at ${where} accepted a wrong password`
            : `postgres at ${where}: a wrong password did not fail authentication (28P01) but: ${refused}`,
        );
        client = await stack.postgres({ retry }).catch((error: { code?: string; message: string }) => {
          throw error.code === '28P01'
            ? new Error(
                `postgres at ${where} refused the application login ${pgInfo.user} with its generated password (28P01): ${BOOTSTRAP_HINT} (it creates the logins)`,
              )
            : error;
        });
        const { rows } = await client.query<{ user: string; superuser: string }>(
          `SELECT current_user AS user, current_setting('is_superuser') AS superuser`,
        );
        expectThat(rows[0]!.superuser === 'off', `the application login ${rows[0]!.user} is a superuser`);
        return `logged in as ${rows[0]!.user} (not a superuser) to ${pgInfo.database}; a wrong password is refused (28P01)`;
      },
      { required: true },
    );
    if (!client) return;
    const db = client;
    if (pgInfo.tls) {
      const caFile = pgInfo.tls.caFile;
      await run.check('tls', async () => {
        const plain = await stack.withOwnPath('postgres', (own) =>
          plainPostgres({ ...pgInfo, port: own.port, password: stack.credentials.postgres_app_password }),
        );
        expectThat(plain.refused, `postgres at ${where} accepted a plain (non-TLS) connection`);
        expectThat(
          PG_PLAIN_REFUSAL.test(plain.message),
          `postgres at ${where}: a plain connection failed, but not by pg_hba's TLS rule: ${plain.message}`,
        );
        const { rows } = await db.query<{ ssl: boolean; version: string }>(
          'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        );
        expectThat(rows[0]?.ssl === true, `postgres at ${where}: this session is not encrypted`);
        return `${rows[0]!.version}, certificate verified against ${caFile}; plain TCP refused (${plain.code})`;
      });
    }
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
    const layout = postgresLayout(config);
    let bootstrapped = false;
    await run.check('bootstrap schema', async () => {
      const differences = await layoutDifferences(db, SCHEMA, layout);
      const tables = Object.keys(layout.tables);
      const missing = differences.filter((d) => d.field === 'table');
      expectThat(
        missing.length < tables.length,
        `none of the tables ${tables.join(', ')} exist in ${pgInfo.database}.${SCHEMA} at ${where}: ${BOOTSTRAP_HINT}`,
      );
      expectThat(
        differences.length === 0,
        `${pgInfo.database}.${SCHEMA} differs from the layout: ${differences.map((d) => `${d.target} ${d.field}: expected ${d.expected}, found ${d.actual}`).join('; ')}`,
      );
      bootstrapped = true;
      return `${tables.length} tables and ${layout.vectorIndexes.length} vector index(es) as the layout says (${SCHEMA}, vector(${config.embedding.dimension}), ${config.embedding.metric})`;
    });
    await run.check('least privilege', async () => {
      // Each statement in its own transaction, rolled back whatever happens: nothing may change.
      const refusal = async (sql: string) => {
        await db.query('BEGIN');
        try {
          await db.query(sql);
          return 'accepted';
        } catch (error) {
          return (error as { code?: string }).code ?? (error as Error).message;
        } finally {
          await db.query('ROLLBACK');
        }
      };
      const create = await refusal(
        `CREATE TABLE ${SCHEMA}.smoke_probe_${randomBytes(4).toString('hex')} (id int)`,
      );
      expectThat(
        create === '42501',
        `the application login may create tables in ${SCHEMA} (${create}, expected 42501)`,
      );
      if (!bootstrapped) return `cannot create tables (42501); ${BOOTSTRAP_HINT} to check the RAG tables too`;
      const drop = await refusal(`DROP TABLE ${SCHEMA}.documents`);
      expectThat(
        drop === '42501',
        `the application login may drop ${SCHEMA}.documents (${drop}, expected 42501)`,
      );
      return 'cannot create tables or drop the RAG tables (42501)';
    });
    await run.check('round trip (kNN, rolled back)', async () => {
      await db.query('BEGIN');
      try {
        if (!bootstrapped) return await fallbackRoundTrip(db);
        const sql = roundTripStatements(SCHEMA, config.embedding.metric);
        const vector = probeVector(config.embedding.dimension);
        const document = await db.query<{ id: string }>(sql.document, [
          `smoke-${randomBytes(6).toString('hex')}`,
        ]);
        const chunk = await db.query<{ id: string }>(sql.chunk, [document.rows[0]!.id]);
        const chunkId = chunk.rows[0]!.id;
        await db.query(sql.embedding, [chunkId, vector]);
        const knn = await db.query<{ id: string }>(sql.knn, [vector]);
        expectThat(
          knn.rows.some((r) => r.id === chunkId),
          `kNN query on ${SCHEMA}.chunk_embeddings did not return the embedding just inserted`,
        );
        return `document, chunk and vector(${config.embedding.dimension}) inserted in ${SCHEMA}.{documents,document_chunks,chunk_embeddings}; kNN (${config.embedding.metric}) found it; rolled back`;
      } finally {
        await db.query('ROLLBACK');
      }
    });
  } finally {
    await client?.end().catch(() => {});
  }
};
