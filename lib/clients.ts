import { readFileSync } from 'node:fs';
import https from 'node:https';
import { isIP } from 'node:net';
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import * as Minio from 'minio';
import pRetry, { AbortError } from 'p-retry';
import pg from 'pg';
import { createClient } from 'redis';
import { VectorstackError } from './errors.js';

/** Nothing answered at host:port after the bounded retries (as opposed to an answer that refused us). */
export class UnreachableError extends VectorstackError {
  constructor(service: string, host: string, port: number, attempts: number, cause: Error) {
    super(`${service} at ${host}:${port} is unreachable after ${attempts} attempt(s): ${cause.message}`, {
      cause,
    });
  }
}

export interface RetryOptions {
  /** Attempts before giving up. @default 5 */
  attempts?: number;
  /** First back-off in ms (doubles each time). @default 200 */
  minTimeoutMs?: number;
}

/** Connection failures worth retrying (the server is starting or restarting), as opposed to a refused login. */
function isTransient(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P03'].includes(code) ||
    // "timeout expired": pg's connect timeout, a server (or a port-forward being replaced) that accepted the
    // connection and never answered.
    /ECONNREFUSED|ECONNRESET|socket hang up|Connection terminated|UNAVAILABLE|the database system is starting up|^timeout expired$/i.test(
      message,
    )
  );
}

/** Runs `connect` with bounded, growing back-off; a non-transient error (bad password) fails at once. */
export async function withRetries<T>(
  service: string,
  host: string,
  port: number,
  connect: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  let tried = 0;
  try {
    return await pRetry(
      async () => {
        tried++;
        try {
          return await connect();
        } catch (error) {
          if (!isTransient(error)) throw new AbortError(error as Error);
          throw error;
        }
      },
      { retries: attempts - 1, minTimeout: options.minTimeoutMs ?? 200, factor: 2 },
    );
  } catch (error) {
    if (isTransient(error)) throw new UnreachableError(service, host, port, tried, error as Error);
    throw error;
  }
}

/** How a client verifies a TLS store: the CA certificate it trusts, and the name to check if not the host. */
export interface ClientTls {
  /** PEM file of the CA that signed the server's certificate (the stack's `tls/ca.crt`). */
  caFile: string;
  /** Name the certificate must carry when it is not `host` (SNI and verification). @default host */
  servername?: string;
}

export interface Endpoint {
  host: string;
  port: number;
  /** Connect with TLS, verifying the server against this CA; absent: plain TCP (tls.enabled false). */
  tls?: ClientTls;
}

export function readCa(tls: ClientTls): string {
  try {
    return readFileSync(tls.caFile, 'utf8');
  } catch (error) {
    throw new VectorstackError(
      `cannot read the stack's CA certificate ${tls.caFile}: ${(error as Error).message}`,
      {
        remedy: 'run: npm run up (it writes the TLS material into the state directory)',
      },
    );
  }
}

export async function connectPostgres(
  endpoint: Endpoint & { database: string; user: string; password: string },
  retry?: RetryOptions,
): Promise<pg.Client> {
  return withRetries(
    'postgres',
    endpoint.host,
    endpoint.port,
    async () => {
      const { tls, ...rest } = endpoint;
      const client = new pg.Client({
        ...rest,
        connectionTimeoutMillis: 5000,
        // Verified against the stack's CA (rejectUnauthorized is node's default), the name checked against the host.
        ...(tls ? { ssl: { ca: readCa(tls), servername: tls.servername, rejectUnauthorized: true } } : {}),
      });
      // A connection that drops while idle (a restarted server, a broken port-forward) must not end the process with
      // an unhandled 'error' event: the next query on the client fails with it instead.
      client.on('error', () => {});
      try {
        await client.connect();
        return client;
      } catch (error) {
        await client.end().catch(() => {});
        throw error;
      }
    },
    retry,
  );
}

export type RedisClient = ReturnType<typeof createClient>;

export async function connectRedis(
  endpoint: Endpoint & { password?: string; username?: string },
  retry?: RetryOptions,
): Promise<RedisClient> {
  return withRetries(
    'redis',
    endpoint.host,
    endpoint.port,
    async () => {
      const client = createClient({
        socket: {
          host: endpoint.host,
          port: endpoint.port,
          connectTimeout: 5000,
          reconnectStrategy: false,
          ...(endpoint.tls
            ? { tls: true as const, ca: readCa(endpoint.tls), servername: endpoint.tls.servername }
            : {}),
        },
        username: endpoint.username,
        password: endpoint.password,
      });
      client.on('error', () => {}); // errors surface through the awaited calls
      try {
        await client.connect();
        return client;
      } catch (error) {
        // destroy() throws on a client that never connected; the connection error is the one to report.
        try {
          client.destroy();
        } catch {}
        throw error;
      }
    },
    retry,
  );
}

export async function connectMilvus(
  endpoint: Endpoint & { username: string; password: string },
  retry?: RetryOptions,
): Promise<MilvusClient> {
  return withRetries(
    'milvus',
    endpoint.host,
    endpoint.port,
    async () => {
      const client = new MilvusClient({
        address: `${endpoint.host}:${endpoint.port}`,
        username: endpoint.username,
        password: endpoint.password,
        timeout: 10_000,
        // gRPC would send an IP address as the TLS server name (which node deprecates); the stack's certificates all
        // carry `localhost`, so that name is checked when the host is an address.
        ...(endpoint.tls
          ? {
              tls: {
                rootCert: Buffer.from(readCa(endpoint.tls)),
                serverName: endpoint.tls.servername ?? (isIP(endpoint.host) ? 'localhost' : undefined),
              },
            }
          : {}),
        // Otherwise the SDK logs every request to stdout (at debug level under NODE_ENV=test), mixing into --json.
        logLevel: 'error',
      });
      try {
        // The SDK connects in the background; an unawaited rejection of that promise would end the process.
        await client.connectPromise;
        const collections = await client.listCollections();
        if (collections.status.error_code !== 'Success')
          throw new Error(`milvus refused: ${collections.status.reason}`);
        return client;
      } catch (error) {
        await client.closeConnection().catch(() => {});
        throw error;
      }
    },
    retry,
  );
}

export function minioClient(
  endpoint: Endpoint & { accessKey: string; secretKey: string; tls?: ClientTls },
): Minio.Client {
  const { tls } = endpoint;
  return new Minio.Client({
    endPoint: endpoint.host,
    port: endpoint.port,
    useSSL: Boolean(tls),
    accessKey: endpoint.accessKey,
    secretKey: endpoint.secretKey,
    ...(tls
      ? {
          transportAgent: new https.Agent({
            ca: readCa(tls),
            servername: tls.servername,
            rejectUnauthorized: true,
            keepAlive: true,
          }),
        }
      : {}),
  });
}
