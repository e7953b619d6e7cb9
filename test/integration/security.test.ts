// TLS on the real Docker engine (tls.enabled): a stack of its own (project vstls, host ports 25451-25455) comes up with
// the kit's CA; PostgreSQL, Redis and Milvus serve verified TLS, refuse plain clients, and fail clients that trust
// another CA; the TLS files are owner-only on the host and in the containers; bootstrap and smoke run over TLS.
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../lib/bootstrap/index.js';
import { connectMilvus, connectPostgres, connectRedis } from '../../lib/clients.js';
import { dockerContainerName } from '../../lib/deployment/names.js';
import type { RunningStack } from '../../lib/stack/running-stack.js';
import type { ApplyResult } from '../../lib/targets/driver.js';
import { driverFor } from '../../lib/targets/index.js';
import { issueCertificate, tlsDir } from '../../lib/tls/pki.js';
import { Progress } from '../../lib/util/progress.js';
import { runSmoke } from '../../lib/verify/smoke.js';
import { PG_PLAIN_REFUSAL, plainMilvus, plainPostgres, plainRedis } from '../../lib/verify/tls-probe.js';
import { SMOKE_SUITES } from '../../smoke-tests/index.js';
import { requirePreparedHost, testDeployment } from './prerequisites.js';

const deployment = testDeployment('vstls', 25450, { tls: { enabled: true } });
const { config } = deployment;
const driver = driverFor(deployment, {
  progress: new Progress(undefined, !!process.env.VECTORSTACK_TEST_VERBOSE),
});
/** `env` reaches the command through `docker exec -e NAME` (no value on the command line). */
const dockerExec = (
  service: 'postgres' | 'redis' | 'milvus',
  argv: string[],
  env: Record<string, string> = {},
) =>
  execFileSync(
    'docker',
    ['exec', ...Object.keys(env).flatMap((k) => ['-e', k]), dockerContainerName(config, service), ...argv],
    { encoding: 'utf8', env: { ...process.env, ...env } },
  ).trim();

/** A CA that did not sign the stack's certificates: a client trusting only it must fail verification. */
function otherCaFile(): string {
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
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vstls-other-ca-')), 'ca.crt');
  writeFileSync(file, pem);
  return file;
}

let first: ApplyResult;
let stack: RunningStack;

beforeAll(async () => {
  await requirePreparedHost();
  await driver.destroy().catch(() => {}); // a previous run that died midway
  first = await driver.apply();
  stack = await driver.open();
}, 900_000);

afterAll(async () => {
  await stack?.close();
  await driver.destroy().catch(() => {});
}, 300_000);

describe('TLS on the local stack', () => {
  it('comes up ready with its CA and certificates owner-only, on the host and in the containers', () => {
    expect(first.workloads.every((w) => w.ready)).toBe(true);
    const dir = tlsDir(deployment.stateDir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir).sort()).toEqual([
      'ca.crt',
      'ca.key',
      'milvus.crt',
      'milvus.key',
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
    for (const service of ['postgres', 'redis', 'milvus'] as const)
      expect(dockerExec(service, ['ls', '/run/vectorstack/tls']).split('\n').sort()).toEqual([
        'ca.crt',
        'server.crt',
        'server.key',
      ]);
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

  it('bootstrap and smoke run over TLS, with a passing TLS check per store', async () => {
    await bootstrap({ stack });
    const results = await runSmoke(stack, SMOKE_SUITES);
    const failed = results.filter((r) => r.status === 'fail');
    expect(failed).toEqual([]);
    const tls = results.filter((r) => r.check === 'tls');
    expect(tls.map((r) => `${r.service} ${r.status}`).sort()).toEqual([
      'milvus pass',
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
