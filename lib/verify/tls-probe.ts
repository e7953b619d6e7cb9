// With tls.enabled, each TLS store must refuse a plain (non-TLS) client and serve one that verifies its certificate
// against the stack's CA. Used by the smoke suites and the security integration test.
import { connectMilvus, connectPostgres, connectRedis, type Endpoint } from '../clients.js';

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
