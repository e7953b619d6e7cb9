// TLS on the real Docker engine (tls.enabled): a stack of its own (project vstls, host ports 25451-25455) comes up with
// the kit's CA; PostgreSQL, Redis, Milvus and MinIO serve verified TLS, refuse plain clients, and fail clients that
// trust another CA; etcd wants a client certificate (Milvus's); Milvus's own traffic to etcd and MinIO (its Go side
// and the C++ storage layer that writes and reads index files) goes over TLS; the TLS files are owner-only on the host
// and in the containers; bootstrap and smoke run over TLS.
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../lib/bootstrap/index.js';
import { connectMilvus, connectPostgres, connectRedis, minioClient } from '../../lib/clients.js';
import { dockerContainerName } from '../../lib/deployment/names.js';
import { etcdctlFlags } from '../../lib/services/specs.js';
import type { RunningStack } from '../../lib/stack/running-stack.js';
import type { ApplyResult } from '../../lib/targets/driver.js';
import { driverFor } from '../../lib/targets/index.js';
import { issueCertificate, tlsDir } from '../../lib/tls/pki.js';
import { Progress } from '../../lib/util/progress.js';
import { runSmoke } from '../../lib/verify/smoke.js';
import {
  httpGet,
  PG_PLAIN_REFUSAL,
  plainMilvus,
  plainMinio,
  plainPostgres,
  plainRedis,
} from '../../lib/verify/tls-probe.js';
import { SMOKE_SUITES } from '../../smoke-tests/index.js';
import { requirePreparedHost, testDeployment } from './prerequisites.js';

const deployment = testDeployment('vstls', 25450, { tls: { enabled: true } });
const { config } = deployment;
const driver = driverFor(deployment, {
  progress: new Progress(undefined, !!process.env.VECTORSTACK_TEST_VERBOSE),
});
/** `env` reaches the command through `docker exec -e NAME` (no value on the command line). */
const dockerExec = (
  service: 'postgres' | 'redis' | 'milvus' | 'etcd' | 'minio',
  argv: string[],
  env: Record<string, string> = {},
) =>
  execFileSync(
    'docker',
    ['exec', ...Object.keys(env).flatMap((k) => ['-e', k]), dockerContainerName(config, service), ...argv],
    { encoding: 'utf8', env: { ...process.env, ...env } },
  ).trim();

const scratch = mkdtempSync(path.join(os.tmpdir(), 'vstls-other-ca-'));
let otherCa: string | undefined;

/** A CA that did not sign the stack's certificates: a client trusting only it must fail verification. */
function otherCaFile(): string {
  if (otherCa) return otherCa;
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const pem = issueCertificate({
    subject: 'some other CA',
    publicKey: createPublicKey(key),
    issuer: null,
    signer: key,
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + 86_400_000),
    ca: true,
  });
  otherCa = path.join(scratch, 'ca.crt');
  writeFileSync(otherCa, pem);
  return otherCa;
}

let first: ApplyResult;
let stack: RunningStack;

beforeAll(async () => {
  await requirePreparedHost();
  await driver.destroy(); // what a previous run that died midway left
  first = await driver.apply();
  stack = await driver.open();
}, 900_000);

afterAll(async () => {
  await stack?.close();
  await driver.destroy();
  rmSync(scratch, { recursive: true, force: true });
}, 300_000);

describe('TLS on the local stack', () => {
  it('comes up ready with its CA and certificates owner-only, on the host and in the containers', () => {
    expect(first.workloads.every((w) => w.ready)).toBe(true);
    const dir = tlsDir(deployment.stateDir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir).sort()).toEqual([
      'ca.crt',
      'ca.key',
      'etcd.crt',
      'etcd.key',
      'milvus.crt',
      'milvus.key',
      'minio.crt',
      'minio.key',
      'postgres.crt',
      'postgres.key',
      'redis.crt',
      'redis.key',
    ]);
    for (const file of readdirSync(dir))
      expect(statSync(path.join(dir, file)).mode & 0o777, file).toBe(0o600);
    // The servers' private copies: owned by the server's user, 0600; the upload itself root's and read-only.
    expect(dockerExec('postgres', ['stat', '-c', '%a %U', '/tmp/vectorstack-tls/server.key'])).toBe(
      '600 postgres',
    );
    expect(dockerExec('redis', ['stat', '-c', '%a %U', '/tmp/vectorstack-tls/server.key'])).toBe('600 redis');
    expect(dockerExec('postgres', ['stat', '-c', '%a %U', '/run/vectorstack/tls/server.key'])).toBe(
      '444 root',
    );
    expect(dockerExec('milvus', ['stat', '-c', '%a %U', '/run/vectorstack/tls/server.key'])).toBe('444 root');
    // The CA's key never enters a container.
    for (const service of ['postgres', 'redis', 'milvus', 'etcd'] as const)
      expect(dockerExec(service, ['ls', '/run/vectorstack/tls']).split('\n').sort()).toEqual([
        'ca.crt',
        'server.crt',
        'server.key',
      ]);
    expect(dockerExec('minio', ['ls', '-R', '/run/vectorstack/minio-certs']).split(/\s+/)).toEqual(
      expect.arrayContaining(['CAs', 'private.key', 'public.crt', 'ca.crt']),
    );
    expect(dockerExec('minio', ['cat', '/run/vectorstack/minio-certs/CAs/ca.crt'])).not.toMatch(
      /PRIVATE KEY/,
    );
    // Milvus's trust store is the stack's CA alone (it verifies MinIO against it).
    expect(`${dockerExec('milvus', ['cat', '/etc/ssl/certs/ca-certificates.crt'])}\n`).toBe(
      readFileSync(path.join(dir, 'ca.crt'), 'utf8'),
    );
  });

  it('PostgreSQL: verified TLS works, plain TCP is refused by pg_hba, another CA fails verification', async () => {
    const endpoint = stack.endpoint('postgres');
    expect(endpoint.tls?.caFile).toBe(path.join(tlsDir(deployment.stateDir), 'ca.crt'));
    const { rows } = await stack.with(stack.postgres({ role: 'admin' }), (c) =>
      c.query<{ ssl: boolean; version: string }>(
        'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      ),
    );
    expect(rows[0]).toEqual({ ssl: true, version: 'TLSv1.3' });

    const login = { ...endpoint, user: 'postgres', password: stack.credentials.postgres_password };
    const plain = await plainPostgres(login);
    expect(plain).toMatchObject({ refused: true, code: '28000' });
    expect(plain.refused && plain.message).toMatch(PG_PLAIN_REFUSAL);

    const otherCa = await connectPostgres(
      { ...login, tls: { caFile: otherCaFile() } },
      { attempts: 1 },
    ).catch((e: NodeJS.ErrnoException) => e);
    expect((otherCa as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const wrongName = await connectPostgres(
      { ...login, tls: { caFile: endpoint.tls!.caFile, servername: 'db.example.com' } },
      { attempts: 1 },
    ).catch((e: NodeJS.ErrnoException) => e);
    expect((wrongName as NodeJS.ErrnoException).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');

    // What docs/security.md tells applications: psql with sslmode=verify-full against the CA, by the network name.
    expect(
      dockerExec(
        'postgres',
        [
          'psql',
          `host=postgres port=5432 dbname=${config.postgres.database} user=postgres sslmode=verify-full sslrootcert=/run/vectorstack/tls/ca.crt`,
          '-At',
          '-c',
          'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        ],
        { PGPASSWORD: stack.credentials.postgres_password },
      ),
    ).toBe('t');
  });

  it('Redis: verified TLS works, the plain port is closed, another CA fails verification', async () => {
    const endpoint = stack.endpoint('redis');
    const redis = await stack.redis();
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.configGet('*port')).toMatchObject({ port: '0', 'tls-port': '6379' });

    const plain = await plainRedis({ ...endpoint, password: stack.credentials.redis_password });
    expect(plain.refused).toBe(true);
    expect(plain.refused && plain.message).toMatch(/Socket closed unexpectedly|ECONNRESET|unreachable/);

    const otherCa = await connectRedis(
      { ...endpoint, password: stack.credentials.redis_password, tls: { caFile: otherCaFile() } },
      { attempts: 1 },
    ).catch((e: NodeJS.ErrnoException) => e);
    // Redis sends its CA certificate along with its own: the chain ends in a CA this client does not trust.
    expect((otherCa as NodeJS.ErrnoException).code).toBe('SELF_SIGNED_CERT_IN_CHAIN');

    // redis-cli as docs/security.md shows it.
    expect(
      dockerExec('redis', [
        'redis-cli',
        '--tls',
        '--cacert',
        '/run/vectorstack/tls/ca.crt',
        '-h',
        'redis',
        'ping',
      ]),
    ).toBe('PONG');
  });

  it('Milvus: verified TLS works, a plain gRPC client is refused, another CA fails verification', async () => {
    const endpoint = stack.endpoint('milvus');
    const milvus = await stack.milvus();
    expect((await milvus.listCollections()).status.error_code).toBe('Success');
    expect((await milvus.checkHealth()).isHealthy).toBe(true);

    const login = { ...endpoint, username: 'root', password: stack.credentials.milvus_root_password };
    const plain = await plainMilvus(login);
    expect(plain.refused).toBe(true);

    const otherCa = await connectMilvus({ ...login, tls: { caFile: otherCaFile() } }, { attempts: 1 }).catch(
      (e: Error) => e,
    );
    expect((otherCa as Error).message).toMatch(/unable to verify the first certificate/);
  });

  it('MinIO: verified HTTPS works, a plain HTTP client is refused, another CA fails verification', async () => {
    const endpoint = stack.endpoint('minio');
    expect(endpoint.endpoint).toBe(`https://127.0.0.1:${endpoint.port}`);
    const s3 = stack.minio();
    expect((await s3.listBuckets()).map((b) => b.name)).toContain(config.minio.bucket);
    const plain = await plainMinio(endpoint);
    expect(plain).toEqual({ refused: true, message: expect.stringMatching(/^HTTP 400 .*HTTPS server/) });
    const other = { caFile: otherCaFile() };
    const otherCa = await httpGet(`${endpoint.endpoint}/minio/health/live`, other).catch((e) => e);
    expect((otherCa as { code?: string }).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const signed = minioClient({
      host: endpoint.host,
      port: endpoint.port,
      accessKey: endpoint.user,
      secretKey: stack.credentials.minio_root_password,
      tls: other,
    });
    expect(((await signed.listBuckets().catch((e) => e)) as { code?: string }).code).toBe(
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    );
  });

  it('etcd: mutual TLS; etcdctl with the client certificate is served, without it or in plain text refused', () => {
    const etcdctl = (flags: string[], args: string[]) => {
      try {
        return { ok: true, out: dockerExec('etcd', ['etcdctl', ...flags, '--command-timeout=5s', ...args]) };
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string };
        return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
      }
    };
    const health = etcdctl(etcdctlFlags(true), ['endpoint', 'health']);
    expect(health).toMatchObject({
      ok: true,
      out: expect.stringMatching(/https:\/\/127\.0\.0\.1:2379 is healthy/),
    });
    // Milvus wrote its metadata through its own client certificate.
    expect(
      etcdctl(etcdctlFlags(true), [
        'get',
        '--prefix',
        '--keys-only',
        '--limit=1',
        `${config.milvus.rootPath}/`,
      ]).out,
    ).not.toBe('');
    // Without a client certificate, and in plain text, etcdctl gets no answer and reports the endpoint unhealthy;
    // the server logs why it rejected the first.
    const since = new Date(Date.now() - 1000).toISOString();
    const noCert = etcdctl(etcdctlFlags(true, { clientCertificate: false }), ['endpoint', 'health']);
    expect(noCert.ok).toBe(false);
    expect(noCert.out).toMatch(/https:\/\/127\.0\.0\.1:2379 is unhealthy/);
    const plain = etcdctl(etcdctlFlags(false), ['endpoint', 'health']);
    expect(plain.ok).toBe(false);
    expect(plain.out).toMatch(/http:\/\/127\.0\.0\.1:2379 is unhealthy/);
    // etcd logs to stderr.
    const logs = spawnSync('docker', ['logs', '--since', since, dockerContainerName(config, 'etcd')], {
      encoding: 'utf8',
    });
    expect(`${logs.stdout}${logs.stderr}`).toMatch(/client didn't provide a certificate/);
  });

  it('Milvus reaches MinIO over TLS from its C++ storage layer: an index is built, uploaded, loaded and searched', async () => {
    // Enough rows for a sealed segment with a real index (small segments are searched without one): the index
    // node writes the index files to MinIO and the query node reads them back, both through the C++ layer.
    const milvus = await stack.milvus();
    const name = 'tls_index_files';
    const dim = 8;
    await milvus.dropCollection({ collection_name: name }).catch(() => {});
    await milvus.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim },
      ],
    });
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      id: i,
      v: Array.from({ length: dim }, (_, j) => Math.sin(i * (j + 1))),
    }));
    const inserted = await milvus.insert({ collection_name: name, data: rows });
    expect(inserted.status.error_code).toBe('Success');
    await milvus.flushSync({ collection_names: [name] });
    const index = await milvus.createIndex({
      collection_name: name,
      field_name: 'v',
      index_type: 'HNSW',
      metric_type: 'L2',
      params: { M: 8, efConstruction: 64 },
    });
    expect(index.error_code).toBe('Success');
    const deadline = Date.now() + 180_000;
    let described = await milvus.describeIndex({ collection_name: name, field_name: 'v' });
    while (described.index_descriptions[0]?.state !== 'Finished' && Date.now() < deadline) {
      expect(
        described.index_descriptions[0]?.state,
        described.index_descriptions[0]?.index_state_fail_reason,
      ).not.toBe('Failed');
      await new Promise((r) => setTimeout(r, 2000));
      described = await milvus.describeIndex({ collection_name: name, field_name: 'v' });
    }
    expect(described.index_descriptions[0]?.state).toBe('Finished');
    expect(Number(described.index_descriptions[0]?.indexed_rows)).toBe(3000);
    const files: string[] = [];
    for await (const item of stack
      .minio()
      .listObjectsV2(config.minio.bucket, `${config.milvus.rootPath}/index_files/`, true) as AsyncIterable<{
      name?: string;
    }>)
      if (item.name) files.push(item.name);
    expect(files.length).toBeGreaterThan(0);
    const loaded = await milvus.loadCollectionSync({ collection_name: name });
    expect(loaded.error_code).toBe('Success');
    const hit = await milvus.search({
      collection_name: name,
      data: [rows[42]!.v],
      limit: 1,
      params: { ef: 32 },
    });
    expect(hit.results[0]?.id).toBe('42');
    await milvus.dropCollection({ collection_name: name });
  }, 300_000);

  it('bootstrap and smoke run over TLS, with a passing TLS check per store', async () => {
    await bootstrap({ stack });
    const results = await runSmoke(stack, SMOKE_SUITES);
    const failed = results.filter((r) => r.status === 'fail');
    expect(failed).toEqual([]);
    const tls = results.filter((r) => r.check === 'tls');
    expect(tls.map((r) => `${r.service} ${r.status}`).sort()).toEqual([
      'etcd pass',
      'milvus pass',
      'minio pass',
      'postgres pass',
      'redis pass',
    ]);
  }, 300_000);

  it('a second up reuses the certificates and changes nothing', async () => {
    const dir = tlsDir(deployment.stateDir);
    const before = Object.fromEntries(
      readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
    );
    const again = await driver.apply();
    expect(again.changed).toBe(false);
    expect(again.notes.join('\n')).not.toMatch(/tls:/);
    const after = Object.fromEntries(
      readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
    );
    expect(after).toEqual(before);
  }, 600_000);
});
