import { randomBytes } from 'node:crypto';
import { connectRedis, type RedisClient } from '../lib/clients.js';
import { CONTAINER_PORTS } from '../lib/services/specs.js';
import { checkReachable, expectThat, type SmokeSuite } from '../lib/verify/smoke.js';
import { plainRedis } from '../lib/verify/tls-probe.js';

const TTL_SECONDS = 60;

export const redisSuite: SmokeSuite = async (stack, run, retry) => {
  const { config } = stack;
  const info = stack.endpoints.redis;
  if (!info) return run.skip('configured', 'redis is disabled or not published to this host');
  if (!(await checkReachable(run, info, retry))) return;
  const where = `${info.host}:${info.port}`;
  let client: RedisClient | undefined;
  try {
    await run.check(
      'authenticated',
      async () => {
        const anonymous = await connectRedis(info, retry);
        try {
          const refused = await anonymous.ping().then(
            () => false,
            (error: Error) => /NOAUTH/.test(error.message),
          );
          expectThat(refused, `redis at ${where} answers clients without a password`);
        } finally {
          anonymous.destroy();
        }
        client = await stack.redis({ retry });
        expectThat((await client.ping()) === 'PONG', `redis at ${where} did not answer PING`);
        return 'PING with the password answers PONG; without it NOAUTH';
      },
      { required: true },
    );
    if (!client) return;
    const redis = client;
    if (info.tls) {
      const caFile = info.tls.caFile;
      await run.check('tls', async () => {
        const plain = await stack.withOwnPath('redis', (own) =>
          plainRedis({ ...info, port: own.port, password: stack.credentials.redis_password }),
        );
        expectThat(plain.refused, `redis at ${where} answered a plain (non-TLS) client`);
        const ports = await redis.configGet('*port');
        expectThat(
          ports.port === '0' && ports['tls-port'] === String(CONTAINER_PORTS.redis),
          `redis at ${where}: port ${ports.port}, tls-port ${ports['tls-port']}; expected a TLS-only client port`,
        );
        return `TLS only (port 0, tls-port ${ports['tls-port']}), certificate verified against ${caFile}; a plain client is dropped (${plain.message})`;
      });
    }
    await run.check('version and role', async () => {
      const server = await redis.info('server');
      const version = /redis_version:(\S+)/.exec(server)?.[1] ?? 'unknown';
      const role = (await redis.sendCommand(['ROLE'])) as unknown[];
      expectThat(role[0] === 'master', `redis at ${where} has role ${String(role[0])}, expected master`);
      return `Redis ${version}, role master`;
    });
    await run.check('persistence', async () => {
      const settings = await redis.configGet('*');
      const expected = {
        appendonly: config.redis.appendonly ? 'yes' : 'no',
        'maxmemory-policy': config.redis.evictionPolicy,
        maxmemory: String(config.redis.maxmemoryMb * 1024 * 1024),
      };
      const wrong = Object.entries(expected).filter(([key, value]) => settings[key] !== value);
      expectThat(
        wrong.length === 0,
        `redis at ${where} settings differ from the config: ${wrong.map(([k, v]) => `${k}=${settings[k]} (expected ${v})`).join(', ')}`,
      );
      const persistence = await redis.info('persistence');
      const aofOk = /aof_last_write_status:ok/.test(persistence);
      expectThat(!config.redis.appendonly || aofOk, `redis at ${where}: the last AOF write failed`);
      return `appendonly ${expected.appendonly}, maxmemory-policy ${expected['maxmemory-policy']}, maxmemory ${config.redis.maxmemoryMb}mb`;
    });
    await run.check('round trip (SET EX, GET, TTL, DEL)', async () => {
      const key = `vectorstack:smoke:${randomBytes(6).toString('hex')}`;
      const value = randomBytes(8).toString('hex');
      try {
        expectThat((await redis.set(key, value, { EX: TTL_SECONDS })) === 'OK', 'SET did not answer OK');
        expectThat((await redis.get(key)) === value, 'GET returned another value than was SET');
        const ttl = await redis.ttl(key);
        expectThat(ttl > 0 && ttl <= TTL_SECONDS, `TTL is ${ttl}, expected 1..${TTL_SECONDS}`);
        expectThat((await redis.del(key)) === 1, 'DEL removed nothing');
        expectThat((await redis.exists(key)) === 0, 'the key still exists after DEL');
        return `key set with TTL ${ttl}s, read back, deleted`;
      } finally {
        await redis.del(key).catch(() => {});
      }
    });
  } finally {
    client?.destroy();
  }
};
