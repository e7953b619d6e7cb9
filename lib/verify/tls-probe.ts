// With tls.enabled, each TLS store must refuse a plain (non-TLS) client and serve one that verifies its certificate
// against the stack's CA. Used by the smoke suites and the security integration test.
import http from 'node:http';
import https from 'node:https';
import {
  type ClientTls,
  connectMilvus,
  connectPostgres,
  connectRedis,
  type Endpoint,
  readCa,
} from '../clients.js';

/** The outcome of a plain connection attempt to a TLS-only store: what refused it, or that it was served. */
export type PlainOutcome = { refused: true; message: string; code?: string } | { refused: false };

/**
 * A plain PostgreSQL connection: the server's pg_hba rejects TCP without TLS (`hostnossl ... reject`), SQLSTATE 28000
 * with "no encryption" in the message.
 */
export async function plainPostgres(
  endpoint: Endpoint & { database: string; user: string; password: string },
): Promise<PlainOutcome> {
  const { tls: _tls, ...plain } = endpoint;
  try {
    const client = await connectPostgres(plain, { attempts: 1 });
    await client.end();
    return { refused: false };
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { refused: true, message: e.message, code: e.code };
  }
}

/** A plain Redis connection to the TLS-only port: the server drops it during the handshake. */
export async function plainRedis(
  endpoint: Endpoint & { password?: string; username?: string },
): Promise<PlainOutcome> {
  const { tls: _tls, ...plain } = endpoint;
  try {
    const client = await connectRedis(plain, { attempts: 1 });
    try {
      await client.ping();
    } finally {
      client.destroy();
    }
    return { refused: false };
  } catch (error) {
    return { refused: true, message: (error as Error).message, code: (error as { code?: string }).code };
  }
}

/** A plain gRPC connection to Milvus's TLS proxy: no answer over plain HTTP/2. */
export async function plainMilvus(
  endpoint: Endpoint & { username: string; password: string },
): Promise<PlainOutcome> {
  const { tls: _tls, ...plain } = endpoint;
  try {
    const client = await connectMilvus(plain, { attempts: 1 });
    await client.closeConnection();
    return { refused: false };
  } catch (error) {
    return { refused: true, message: (error as Error).message.split('\n')[0] ?? '' };
  }
}

/** The PostgreSQL refusal a plain client gets from the kit's pg_hba with TLS on. */
export const PG_PLAIN_REFUSAL = /no encryption/;

/** A GET with a 5 s bound: over https verified against `tls` when given, else plain http. Status and body. */
export function httpGet(url: string, tls?: ClientTls): Promise<{ status: number; body: string }> {
  const secure = url.startsWith('https:');
  const get = secure ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const request = get(
      url,
      {
        timeout: 5000,
        ...(secure && tls ? { ca: readCa(tls), servername: tls.servername, rejectUnauthorized: true } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    request.on('error', reject);
  });
}

/**
 * A plain HTTP request to MinIO's TLS-only port: Go's HTTPS server answers 400 "Client sent an HTTP request to an
 * HTTPS server." and serves nothing else.
 */
export async function plainMinio(endpoint: { host: string; port: number }): Promise<PlainOutcome> {
  try {
    const { status, body } = await httpGet(`http://${endpoint.host}:${endpoint.port}/minio/health/live`);
    if (status === 400 && /HTTPS server/.test(body))
      return { refused: true, message: `HTTP 400 ${body.trim()}` };
    return { refused: false };
  } catch (error) {
    return { refused: true, message: (error as Error).message, code: (error as { code?: string }).code };
  }
}
