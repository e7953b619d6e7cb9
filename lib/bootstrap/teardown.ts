import { milvusCollectionSpecs } from '../../schemas/milvus/collections.js';
import { REDIS_ACL_USERS } from '../../schemas/redis/acl.js';
import { connectMilvus, connectPostgres, connectRedis } from '../clients.js';
import type { BootstrapTarget } from './environment.js';
import { validateInputs } from './validate.js';

/**
 * Deletes what a bootstrap with this schema and prefix created: the PostgreSQL schema, the Milvus collections and the
 * Redis ACL users. For tests and the benchmark, which bootstrap into their own schema/prefix; refuses `public` and an
 * empty prefix so it can never remove the real data plane.
 */
export async function removeBootstrapObjects(
  target: Pick<BootstrapTarget, 'config' | 'connection'> & { credentials: BootstrapTarget['credentials'] },
  names: { postgresSchema: string; prefix: string },
): Promise<void> {
  if (names.postgresSchema === 'public' || names.prefix === '')
    throw new Error('removeBootstrapObjects: refusing the public schema or an empty prefix');
  validateInputs(target.config, names, [], []);
  const { connection, credentials } = target;
  if (connection.postgres) {
    const client = await connectPostgres({ ...connection.postgres, password: credentials.postgres_password });
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${names.postgresSchema} CASCADE`);
    } finally {
      await client.end();
    }
  }
  if (connection.milvus) {
    const client = await connectMilvus({
      host: connection.milvus.host,
      port: connection.milvus.port,
      username: connection.milvus.user,
      password: credentials.milvus_root_password,
    });
    try {
      for (const spec of milvusCollectionSpecs(target.config))
        await client.dropCollection({ collection_name: names.prefix + spec.name });
    } finally {
      await client.closeConnection();
    }
  }
  if (connection.redis) {
    const client = await connectRedis({ ...connection.redis, password: credentials.redis_password });
    try {
      await client.sendCommand(['ACL', 'DELUSER', ...REDIS_ACL_USERS.map((u) => names.prefix + u.name)]);
    } finally {
      client.destroy();
    }
  }
}
