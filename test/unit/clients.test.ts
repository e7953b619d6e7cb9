import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres, connectRedis, UnreachableError } from '../../lib/clients.js';

// A port on loopback that nothing listens on: bind one, note it, close it.
let closedPort = 0;
beforeAll(async () => {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closedPort = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
});
afterAll(() => {});

describe('connections to a store that is not there', () => {
  it('Redis: bounded retries, then an error naming host and port', async () => {
    const error = await connectRedis(
      { host: '127.0.0.1', port: closedPort },
      { attempts: 2, minTimeoutMs: 10 },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(UnreachableError);
    expect(error.message).toBe(
      `redis at 127.0.0.1:${closedPort} is unreachable after 2 attempt(s): connect ECONNREFUSED 127.0.0.1:${closedPort}`,
    );
  });

  it('PostgreSQL: bounded retries, then an error naming host and port', async () => {
    const error = await connectPostgres(
      { host: '127.0.0.1', port: closedPort, database: 'x', user: 'x', password: 'x' },
      { attempts: 3, minTimeoutMs: 10 },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(UnreachableError);
    expect(error.message).toMatch(
      new RegExp(
        `^postgres at 127\\.0\\.0\\.1:${closedPort} is unreachable after 3 attempt\\(s\\): .*ECONNREFUSED`,
      ),
    );
  });

  it('PostgreSQL: a listener that accepts and never answers (a port-forward being replaced) is retried, bounded', async () => {
    const silent = net.createServer(() => {}).listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const error = await connectPostgres(
        { host: '127.0.0.1', port, database: 'x', user: 'x', password: 'x' },
        { attempts: 2, minTimeoutMs: 10 },
      ).catch((e) => e);
      expect(error).toBeInstanceOf(UnreachableError);
      expect(error.message).toBe(
        `postgres at 127.0.0.1:${port} is unreachable after 2 attempt(s): timeout expired`,
      );
    } finally {
      silent.close();
    }
  });
});
