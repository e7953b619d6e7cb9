import { randomBytes } from 'node:crypto';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { connectMilvus } from '../lib/clients.js';
import { milvusOk, STRONG, withScratchCollection } from '../lib/verify/milvus-store.js';
import { checkReachable, expectThat, type SmokeSuite } from '../lib/verify/smoke.js';
import { plainMilvus } from '../lib/verify/tls-probe.js';

const DIMENSION = 8;
/** How Milvus answers bad credentials (2.3: "auth check failure", 2.4+: "fail to authenticate"; gRPC UNAUTHENTICATED). */
export const MILVUS_AUTH_FAILURE = /auth|UNAUTHENTICATED|credential|password/i;
const ROWS = 200;

/** Deterministic, distinct vectors: row i is found again by searching for it. */
const vectorOf = (i: number) =>
  Array.from({ length: DIMENSION }, (_, j) => Math.sin(i * 7.1 + j * 3.3) + 1.5);

export const milvusSuite: SmokeSuite = async (stack, run, retry) => {
  const { config } = stack;
  const info = stack.endpoints.milvus;
  if (!info) return run.skip('configured', 'milvus is disabled or not published to this host');
  if (!(await checkReachable(run, info, retry))) return;
  const endpoint = { host: info.host, port: info.port, username: info.user, tls: info.tls };
  const where = `${info.host}:${info.port}`;
  let client: MilvusClient | undefined;
  try {
    await run.check(
      'authenticated',
      async () => {
        const refused = await connectMilvus(
          { ...endpoint, password: 'not-the-password' },
          { attempts: 1 },
        ).then(
          async (c) => {
            await c.closeConnection();
            return 'accepted';
          },
          (error: Error) => (MILVUS_AUTH_FAILURE.test(error.message) ? 'refused' : error.message),
        );
        expectThat(
          refused === 'refused',
          refused === 'accepted'
            ? `milvus at ${where} accepted a wrong password`
            : `milvus at ${where}: a wrong password did not fail authentication but: ${refused}`,
        );
        client = await stack.milvus({ retry });
        return `logged in as ${info.user}; a wrong password is refused (authentication failure)`;
      },
      { required: true },
    );
    if (!client) return;
    const milvus = client;
    if (info.tls) {
      const caFile = info.tls.caFile;
      await run.check('tls', async () => {
        const plain = await stack.withOwnPath('milvus', (own) =>
          plainMilvus({ ...endpoint, port: own.port, password: stack.credentials.milvus_root_password }),
        );
        expectThat(plain.refused, `milvus at ${where} served a plain (non-TLS) gRPC client`);
        return `certificate verified against ${caFile}; a plain gRPC client is refused (${plain.message})`;
      });
    }
    await run.check('version', async () => {
      const { version } = await milvus.getVersion();
      expectThat(!!version, `milvus at ${where} did not report a version`);
      return `Milvus ${version}`;
    });
    await run.check('health', async () => {
      const health = await milvus.checkHealth();
      // Servers without the API answer {} (the SDK's "unimplemented"): no verdict rather than a failure.
      if (health.isHealthy === undefined) return 'server does not implement CheckHealth';
      expectThat(
        health.isHealthy,
        `milvus at ${where} reports unhealthy: ${(health.reasons ?? []).join('; ')}`,
      );
      return 'healthy';
    });
    await run.check('round trip (HNSW search, dropped)', async () => {
      const name = `smoke_${randomBytes(4).toString('hex')}`;
      return withScratchCollection(milvus, name, DIMENSION, async () => {
        const inserted = await milvus.insert({
          collection_name: name,
          data: Array.from({ length: ROWS }, (_, i) => ({ id: i, embedding: vectorOf(i) })),
        });
        milvusOk(inserted.status, 'insert');
        expectThat(Number(inserted.insert_cnt) === ROWS, `inserted ${inserted.insert_cnt} of ${ROWS} rows`);
        await milvus.flushSync({ collection_names: [name] });
        milvusOk(
          await milvus.createIndex({
            collection_name: name,
            field_name: 'embedding',
            index_type: 'HNSW',
            metric_type: 'L2',
            params: { M: config.milvus.hnsw.m, efConstruction: config.milvus.hnsw.efConstruction },
          }),
          'createIndex',
        );
        milvusOk(await milvus.loadCollectionSync({ collection_name: name }), 'load');
        const target = 42;
        const found = await milvus.search({
          collection_name: name,
          data: [vectorOf(target)],
          limit: 3,
          params: { ef: config.milvus.hnsw.ef },
          output_fields: ['id'],
          consistency_level: STRONG,
        });
        milvusOk(found.status, 'search');
        const top = (found.results as { id: string | number }[])[0];
        expectThat(
          Number(top?.id) === target,
          `search for row ${target} returned ${JSON.stringify(found.results)}`,
        );
        return `${ROWS} rows inserted, flushed, HNSW built, loaded; search found row ${target}; collection dropped`;
      });
    });
  } finally {
    await client?.closeConnection().catch(() => {});
  }
};
