import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { connectMilvus, type Endpoint, UnreachableError } from '../clients.js';
import { VectorstackError } from '../errors.js';
import { WaitTimeoutError, waitFor } from '../util/poll.js';

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
  options: { timeoutMs?: number } = {},
): Promise<'kept' | 'rotated'> {
  const login = (pw: string) =>
    connectMilvus({ ...endpoint, username: 'root', password: pw }, { attempts: 1 });
  // A server whose root coordinator is not serving yet (restarting next to a restarting etcd) refuses every login
  // with the same "auth check failure": both passwords are retried for a bounded while before the refusal is final.
  type Found = { kind: 'kept' } | { kind: 'default'; client: MilvusClient };
  let found: Found;
  try {
    found = await waitFor<Found>(
      `milvus at ${endpoint.host}:${endpoint.port} accepting the generated or the default root password`,
      async () => {
        const refusals: string[] = [];
        for (const [kind, pw] of [
          ['kept', password],
          ['default', MILVUS_DEFAULT_ROOT_PASSWORD],
        ] as const) {
          try {
            const client = await login(pw);
            if (kind === 'kept') {
              await client.closeConnection();
              return { kind };
            }
            return { kind, client };
          } catch (error) {
            if (error instanceof UnreachableError) throw error;
            refusals.push(
              `${kind === 'kept' ? 'generated' : 'default'}: ${(error as Error).message.split('\n')[0]}`,
            );
          }
        }
        return { waiting: refusals.join('; ') };
      },
      { timeoutMs: options.timeoutMs ?? 90_000, intervalMs: 3000 },
    );
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    throw new VectorstackError(
      `milvus at ${endpoint.host}:${endpoint.port} accepts neither the generated root password nor the default one`,
      {
        problems: [
          `refused for ${(error.elapsedMs / 1000).toFixed(0)}s (${error.lastState}): the credentials and the data volume belong to different deployments`,
        ],
      },
    );
  }
  if (found.kind === 'kept') return 'kept';
  const client = found.client;
  try {
    // A server that replaced one stopped uncleanly (a killed or recreated container) still has its predecessor's
    // proxy registered until that session's lease expires; a password change is broadcast to every registered proxy
    // and runs into the dead one's deadline. Its health API says when they are gone.
    await waitForHealthyComponents(client, endpoint, { timeoutMs: options.timeoutMs ?? 180_000 });
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
    await waitForHealthyComponents(client, endpoint, {
      timeoutMs: options.timeoutMs ?? 180_000,
      onWait: options.onWait,
    });
    return Date.now() - started;
  } finally {
    await client.closeConnection();
  }
}

/** Polls Milvus's health API through a connected client until every component reports healthy; bounded. */
async function waitForHealthyComponents(
  client: MilvusClient,
  endpoint: Endpoint,
  options: { timeoutMs: number; onWait?: (reasons: string) => void },
): Promise<void> {
  await waitFor(
    `milvus at ${endpoint.host}:${endpoint.port} reporting every component healthy`,
    async () => {
      const health = await client.checkHealth();
      // Servers without the API (milvus-lite) answer {}: nothing more to wait for.
      if (health.isHealthy === undefined || health.isHealthy) return true;
      return { waiting: health.reasons.join('; ') || 'not healthy' };
    },
    { timeoutMs: options.timeoutMs, intervalMs: 2000, onWait: (observed) => options.onWait?.(observed) },
  );
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
