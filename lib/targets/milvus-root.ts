import { connectMilvus, type Endpoint, UnreachableError } from '../clients.js';
import { VectorstackError } from '../errors.js';
import { waitFor } from '../util/poll.js';

/** Milvus's well-known initial root password; servers that cannot take one from configuration start with it. */
export const MILVUS_DEFAULT_ROOT_PASSWORD = 'Milvus';

/**
 * Makes the root password the generated one. Newer servers take it from COMMON_SECURITY_DEFAULT_ROOT_PASSWORD at
 * first start; older ones (the offline 2.3 server) start with the default, which is replaced here, right after the
 * health check and before the stack is reported up.
 */
export async function ensureMilvusRootPassword(
  endpoint: Endpoint,
  password: string,
): Promise<'kept' | 'rotated'> {
  try {
    const client = await connectMilvus({ ...endpoint, username: 'root', password });
    await client.closeConnection();
    return 'kept';
  } catch (error) {
    if (error instanceof UnreachableError) throw error;
  }
  let client: Awaited<ReturnType<typeof connectMilvus>>;
  try {
    client = await connectMilvus({ ...endpoint, username: 'root', password: MILVUS_DEFAULT_ROOT_PASSWORD });
  } catch (error) {
    throw new VectorstackError(
      `milvus at ${endpoint.host}:${endpoint.port} accepts neither the generated root password nor the default one`,
      {
        problems: [
          `the credentials and the data volume belong to different deployments (${(error as Error).message})`,
        ],
      },
    );
  }
  try {
    const status = await client.updateUser({
      username: 'root',
      oldPassword: MILVUS_DEFAULT_ROOT_PASSWORD,
      newPassword: password,
    });
    if (status.error_code !== 'Success')
      throw new VectorstackError(`milvus refused to change the root password: ${status.reason}`);
  } finally {
    await client.closeConnection();
  }
  const verified = await connectMilvus({ ...endpoint, username: 'root', password });
  await verified.closeConnection();
  return 'rotated';
}

/**
 * Waits until Milvus's own health API reports every component healthy. /healthz turns green before a restarted
 * server has dropped the sessions of its previous run (held in etcd until their lease expires, about 30 s after an
 * unclean stop); until then index and load requests fail. Bounded: throws after `timeoutMs`. Returns the wait in ms.
 */
export async function waitForMilvusReady(
  endpoint: Endpoint,
  password: string,
  options: { timeoutMs?: number; onWait?: (reasons: string) => void } = {},
): Promise<number> {
  const started = Date.now();
  const client = await connectMilvus({ ...endpoint, username: 'root', password });
  try {
    await waitFor(
      `milvus at ${endpoint.host}:${endpoint.port} reporting every component healthy`,
      async () => {
        const health = await client.checkHealth();
        // Servers without the API (milvus-lite) answer {}: nothing more to wait for.
        if (health.isHealthy === undefined || health.isHealthy) return true;
        return { waiting: health.reasons.join('; ') || 'not healthy' };
      },
      {
        timeoutMs: options.timeoutMs ?? 180_000,
        intervalMs: 2000,
        onWait: (observed) => options.onWait?.(observed),
      },
    );
    return Date.now() - started;
  } finally {
    await client.closeConnection();
  }
}

/**
 * Why Milvus is not healthy, from its own health API; null when every component is (or the server has no such API).
 * A refused or failed connection is a reason too.
 */
export async function milvusHealthReasons(endpoint: Endpoint, password: string): Promise<string | null> {
  try {
    const client = await connectMilvus({ ...endpoint, username: 'root', password }, { attempts: 1 });
    try {
      const health = await client.checkHealth();
      if (health.isHealthy === undefined || health.isHealthy) return null;
      return health.reasons.join('; ') || 'not healthy';
    } finally {
      await client.closeConnection();
    }
  } catch (error) {
    return (error as Error).message.split('\n')[0] ?? 'check failed';
  }
}
