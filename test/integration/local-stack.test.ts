import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMilvus, connectPostgres, connectRedis, minioClient } from '../../lib/clients.js';
import type { Credentials } from '../../lib/credentials.js';
import { DockerTargetError } from '../../lib/targets/docker/driver.js';
import type { ApplyResult } from '../../lib/targets/driver.js';
import { driverFor } from '../../lib/targets/index.js';
import { waitFor } from '../../lib/util/poll.js';
import { Progress } from '../../lib/util/progress.js';
import { MILVUS_AUTH_FAILURE } from '../../smoke-tests/milvus.js';
import { requirePreparedHost, testDeployment } from './prerequisites.js';

// The whole lifecycle on the real Docker engine: up, auth, data, down/up, repair, destroy.
const deployment = testDeployment('vse2e', 25400);
const { config } = deployment;
const driver = driverFor(deployment, {
  progress: new Progress(undefined, !!process.env.VECTORSTACK_TEST_VERBOSE),
});
const host = '127.0.0.1';
const dockerLines = (...args: string[]) =>
  execFileSync('docker', args, { encoding: 'utf8' }).split('\n').filter(Boolean);
const labelFilter = ['--filter', 'label=vectorstack.project=vse2e'];

let first: ApplyResult;
let credentials: Credentials;

beforeAll(async () => {
  await requirePreparedHost();
  await driver.destroy(); // what a previous run that died midway left (no state records it)
});

afterAll(async () => {
  await driver.destroy();
});

describe('local stack on Docker', () => {
  it('refuses to start when a published port is taken, and creates nothing', async () => {
    const blocker = net.createServer().listen(config.redis.hostPort!, host);
    await new Promise((resolve) => blocker.once('listening', resolve));
    try {
      const error = await driver.apply().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DockerTargetError);
      expect((error as DockerTargetError).problems).toEqual([
        `127.0.0.1:${config.redis.hostPort} (redis.hostPort) is already in use by another process; free it or choose another port with redis.hostPort in the config file or VECTORSTACK_REDIS_HOST_PORT`,
      ]);
      expect(dockerLines('ps', '-aq', ...labelFilter)).toEqual([]);
    } finally {
      blocker.close();
    }
  });

  it('comes up ready, with credentials and Terraform state owner-only and no secret in the outputs', async () => {
    first = await driver.apply();
    credentials = await driver.credentials();
    expect(first.workloads.map((w) => `${w.service} ${w.ready} ${w.state}`).sort()).toEqual([
      'etcd true healthy',
      'milvus true healthy',
      'minio true healthy',
      'minio-init true completed',
      'postgres true healthy',
      'redis true healthy',
    ]);
    expect(statSync(path.join(deployment.stateDir, 'credentials.json')).mode & 0o777).toBe(0o600);
    // The state files hold the passwords (the provider reads them back into state): owner-only too.
    const states = readdirSync(deployment.stateDir).filter((f) => f.includes('.tfstate'));
    expect(states.length).toBeGreaterThanOrEqual(2);
    for (const file of states)
      expect(statSync(path.join(deployment.stateDir, file)).mode & 0o777, file).toBe(0o600);
    const outputs = readFileSync(first.outputsFile!, 'utf8');
    for (const secret of Object.values(credentials)) expect(outputs).not.toContain(secret);
    const servers = first.workloads.filter((w) => w.service !== 'minio-init');
    // Every published port is on loopback.
    for (const c of servers) {
      const bindings = JSON.parse(
        dockerLines('inspect', '--format', '{{json .HostConfig.PortBindings}}', c.name)[0]!,
      );
      for (const list of Object.values(bindings ?? {}) as { HostIp: string }[][]) {
        for (const b of list) expect(b.HostIp, c.service).toBe('127.0.0.1');
      }
    }
  });

  it('PostgreSQL: the password works, a wrong one is refused, pgvector is there', async () => {
    const endpoint = { host, port: config.postgres.hostPort!, database: 'rag', user: 'postgres' };
    const wrong = await connectPostgres({ ...endpoint, password: 'wrong' }).catch(
      (e: { code?: string }) => e,
    );
    expect((wrong as { code?: string }).code).toBe('28P01'); // invalid_password
    const client = await connectPostgres({ ...endpoint, password: credentials.postgres_password });
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS vector');
      await client.query('CREATE TABLE e2e (id int PRIMARY KEY, embedding vector(3))');
      await client.query(`INSERT INTO e2e VALUES (1, '[1,2,3]')`);
    } finally {
      await client.end();
    }
  });

  it('Redis: AUTH works, a client without it is refused', async () => {
    const anonymous = await connectRedis({ host, port: config.redis.hostPort! });
    try {
      await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    } finally {
      anonymous.destroy();
    }
    const client = await connectRedis({
      host,
      port: config.redis.hostPort!,
      password: credentials.redis_password,
    });
    try {
      expect(await client.ping()).toBe('PONG');
      await client.set('e2e:key', 'kept');
      expect(await client.configGet('appendonly')).toEqual({ appendonly: 'yes' });
    } finally {
      client.destroy();
    }
  });

  it("MinIO: Milvus's bucket exists, credentials work, anonymous access is refused", async () => {
    const port = config.minio.hostPort!;
    const anonymous = await fetch(`http://${host}:${port}/${config.minio.bucket}/`);
    expect(anonymous.status).toBe(403);
    const s3 = minioClient({
      host,
      port,
      accessKey: config.minio.rootUser,
      secretKey: credentials.minio_root_password,
    });
    expect(await s3.bucketExists(config.minio.bucket)).toBe(true);
    await s3.makeBucket('e2e-data');
    await s3.putObject('e2e-data', 'object.txt', Buffer.from('kept'));
    const bad = minioClient({ host, port, accessKey: config.minio.rootUser, secretKey: 'wrong-secret-key' });
    await expect(bad.bucketExists(config.minio.bucket)).rejects.toThrow(
      /signature|SignatureDoesNotMatch|denied/i,
    );
  });

  it('Milvus: root with the generated password works, the default password no longer does', async () => {
    const endpoint = { host, port: config.milvus.hostPort! };
    await expect(
      connectMilvus({ ...endpoint, username: 'root', password: 'Milvus' }, { attempts: 1 }),
    ).rejects.toThrow(MILVUS_AUTH_FAILURE);
    const client = await connectMilvus({
      ...endpoint,
      username: 'root',
      password: credentials.milvus_root_password,
    });
    try {
      const created = await client.createCollection({
        collection_name: 'e2e',
        fields: [
          { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
          { name: 'embedding', data_type: DataType.FloatVector, dim: 4 },
        ],
      });
      expect(created.error_code).toBe('Success');
      const inserted = await client.insert({
        collection_name: 'e2e',
        data: [{ id: 'v1', embedding: [0.1, 0.2, 0.3, 0.4] }],
      });
      expect(inserted.status.error_code).toBe('Success');
      await client.flushSync({ collection_names: ['e2e'] });
    } finally {
      await client.closeConnection();
    }
  });

  it('down removes the containers and keeps the volumes; up brings all four kinds of data back', async () => {
    await driver.down();
    expect(dockerLines('ps', '-aq', ...labelFilter)).toEqual([]);
    expect(dockerLines('volume', 'ls', '-q', ...labelFilter).length).toBe(5);
    const again = await driver.apply();
    expect(again.changed).toBe(true);

    const pgc = await connectPostgres({
      host,
      port: config.postgres.hostPort!,
      database: 'rag',
      user: 'postgres',
      password: credentials.postgres_password,
    });
    try {
      expect((await pgc.query('SELECT embedding::text AS e FROM e2e WHERE id = 1')).rows).toEqual([
        { e: '[1,2,3]' },
      ]);
    } finally {
      await pgc.end();
    }
    const redis = await connectRedis({
      host,
      port: config.redis.hostPort!,
      password: credentials.redis_password,
    });
    try {
      expect(await redis.get('e2e:key')).toBe('kept');
    } finally {
      redis.destroy();
    }
    const s3 = minioClient({
      host,
      port: config.minio.hostPort!,
      accessKey: config.minio.rootUser,
      secretKey: credentials.minio_root_password,
    });
    const chunks: Buffer[] = [];
    for await (const chunk of await s3.getObject('e2e-data', 'object.txt')) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('kept');
    const milvus = await connectMilvus({
      host,
      port: config.milvus.hostPort!,
      username: 'root',
      password: credentials.milvus_root_password,
    });
    try {
      await milvus.createIndex({
        collection_name: 'e2e',
        field_name: 'embedding',
        index_type: 'FLAT',
        metric_type: 'L2',
      });
      await milvus.loadCollectionSync({ collection_name: 'e2e' });
      const rows = await milvus.query({
        collection_name: 'e2e',
        filter: 'id == "v1"',
        output_fields: ['id'],
      });
      expect(rows.data.map((r) => r.id)).toEqual(['v1']);
    } finally {
      await milvus.closeConnection();
    }
  });

  it('a no-op up changes nothing', async () => {
    const result = await driver.apply();
    expect(result.changed).toBe(false);
  });

  it('up repairs a killed container', async () => {
    execFileSync('docker', ['kill', 'vse2e-local-redis']);
    const result = await driver.apply();
    expect(result.changed).toBe(true);
    expect(result.workloads.find((w) => w.service === 'redis')?.state).toBe('healthy');
    const redis = await connectRedis({
      host,
      port: config.redis.hostPort!,
      password: credentials.redis_password,
    });
    try {
      expect(await redis.get('e2e:key')).toBe('kept'); // AOF on the volume survived the kill
    } finally {
      redis.destroy();
    }
  });

  it('up after etcd was killed waits until the whole stack is ready again, then succeeds', async () => {
    execFileSync('docker', ['kill', 'vse2e-local-etcd']);
    const result = await driver.apply();
    expect(result.workloads.filter((w) => !w.ready)).toEqual([]);
    // Milvus answers again: its sessions in the restarted etcd are current.
    const milvus = await connectMilvus({
      host,
      port: config.milvus.hostPort!,
      username: 'root',
      password: credentials.milvus_root_password,
    });
    try {
      expect((await milvus.checkHealth()).isHealthy).toBe(true);
      expect((await milvus.hasCollection({ collection_name: 'e2e' })).value).toBe(true);
    } finally {
      await milvus.closeConnection();
    }
  });

  it('after Milvus is killed and restarted, it is reported ready only once it serves (health check and status)', async () => {
    execFileSync('docker', ['kill', 'vse2e-local-milvus']);
    execFileSync('docker', ['start', 'vse2e-local-milvus']);
    // The moment status calls Milvus ready, a load and a search must work: no "service not ready" window.
    await waitFor(
      'milvus reported ready',
      async () => (await driver.status()).find((w) => w.service === 'milvus')!.ready,
      { timeoutMs: 300_000, intervalMs: 500 },
    );
    const health = execFileSync(
      'docker',
      ['inspect', '--format', '{{.State.Health.Status}}', 'vse2e-local-milvus'],
      {
        encoding: 'utf8',
      },
    ).trim();
    expect(health).toBe('healthy');
    const milvus = await connectMilvus(
      { host, port: config.milvus.hostPort!, username: 'root', password: credentials.milvus_root_password },
      { attempts: 1 },
    );
    try {
      expect((await milvus.checkHealth()).isHealthy).toBe(true);
      const released = await milvus.releaseCollection({ collection_name: 'e2e' });
      expect(released.error_code).toBe('Success');
      const loaded = await milvus.loadCollectionSync({ collection_name: 'e2e' });
      expect(loaded.error_code).toBe('Success');
      const rows = await milvus.query({
        collection_name: 'e2e',
        filter: 'id == "v1"',
        output_fields: ['id'],
      });
      expect(rows.data.map((r) => r.id)).toEqual(['v1']);
    } finally {
      await milvus.closeConnection();
    }
  });

  it('destroy --volumes leaves no container, network or volume', async () => {
    await driver.destroy();
    expect(dockerLines('ps', '-aq', ...labelFilter)).toEqual([]);
    expect(dockerLines('volume', 'ls', '-q', ...labelFilter)).toEqual([]);
    expect(dockerLines('network', 'ls', '-q', ...labelFilter)).toEqual([]);
    expect(path.isAbsolute(first.outputsFile!)).toBe(true);
  });

  it('up refuses objects with its labels that no state records, naming each; destroy removes them', async () => {
    // What a run killed between Terraform's create and its state write leaves: a labelled network and volume.
    const labels = [
      '--label',
      `vectorstack.project=${config.project}`,
      '--label',
      `vectorstack.environment=${config.environment}`,
    ];
    const network = `${config.project}-${config.environment}`;
    const volume = `${network}-stray`;
    dockerLines('network', 'create', ...labels, network);
    dockerLines('volume', 'create', ...labels, volume);
    const error = await driver.apply().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DockerTargetError);
    // The volume is not in the way (Docker hands an existing volume back to the create); the network is.
    expect((error as DockerTargetError).problems).toEqual([
      `network ${network} is labelled vectorstack.project=${config.project}, vectorstack.environment=${config.environment} but no state file records it`,
    ]);
    expect((error as DockerTargetError).remedy).toContain(`docker network rm ${network};`);
    expect(dockerLines('ps', '-aq', ...labelFilter)).toEqual([]);

    const destroyed = await driver.destroy();
    expect(destroyed.summaries.at(-1)).toBe(
      `not in any state, removed: network ${network}, volume ${volume}`,
    );
    expect(dockerLines('network', 'ls', '-q', ...labelFilter)).toEqual([]);
    expect(dockerLines('volume', 'ls', '-q', ...labelFilter)).toEqual([]);
  });
});
