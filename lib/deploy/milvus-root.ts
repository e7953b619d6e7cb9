import { connectMilvus, type Endpoint } from '../clients.js';

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
    if ((error as Error).name === 'UnreachableError') throw error;
  }
  let client: Awaited<ReturnType<typeof connectMilvus>>;
  try {
    client = await connectMilvus({ ...endpoint, username: 'root', password: MILVUS_DEFAULT_ROOT_PASSWORD });
  } catch (error) {
    throw new Error(
      `milvus at ${endpoint.host}:${endpoint.port} accepts neither the root password in credentials.json nor the default one; ` +
        `the credentials file and the data volume belong to different deployments (${(error as Error).message})`,
    );
  }
  try {
    const status = await client.updateUser({
      username: 'root',
      oldPassword: MILVUS_DEFAULT_ROOT_PASSWORD,
      newPassword: password,
    });
    if (status.error_code !== 'Success')
      throw new Error(`milvus refused to change the root password: ${status.reason}`);
  } finally {
    await client.closeConnection();
  }
  const verified = await connectMilvus({ ...endpoint, username: 'root', password });
  await verified.closeConnection();
  return 'rotated';
}
