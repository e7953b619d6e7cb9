import { milvusCollectionSpecs } from '../../schemas/milvus/collections.js';
import { milvusUsers } from '../../schemas/milvus/users.js';
import { REDIS_ACL_USERS } from '../../schemas/redis/acl.js';
import { VectorstackError } from '../errors.js';
import type { RunningStack } from '../stack/running-stack.js';
import { validateInputs } from './validate.js';

/**
 * Deletes what a bootstrap with this schema and prefix created: the PostgreSQL schema, the Milvus collections and the
 * Redis ACL users. For tests and the benchmark, which bootstrap into their own schema/prefix; refuses `public` and an
 * empty prefix so it can never remove the real data plane.
 */
export async function removeBootstrapObjects(
  stack: RunningStack,
  names: { postgresSchema: string; prefix: string },
): Promise<void> {
  if (names.postgresSchema === 'public' || names.prefix === '')
    throw new VectorstackError('removeBootstrapObjects: refusing the public schema or an empty prefix');
  validateInputs(names, [], []);
  const { config } = stack;
  if (config.postgres.enabled)
    await stack.with(stack.postgres({ role: 'admin' }), (client) =>
      client.query(`DROP SCHEMA IF EXISTS ${names.postgresSchema} CASCADE`),
    );
  if (config.milvus.enabled)
    await stack.with(stack.milvus(), async (client) => {
      for (const spec of milvusCollectionSpecs(config))
        await client.dropCollection({ collection_name: names.prefix + spec.name });
      for (const user of milvusUsers(config)) {
        const name = names.prefix + user.name;
        await client.deleteUser({ username: name });
        for (const privilegeName of user.collectionPrivileges)
          await client.revokePrivilege({
            roleName: name,
            object: 'Collection' as never,
            objectName: '*',
            privilegeName: privilegeName as never,
          });
        await client.dropRole({ roleName: name });
      }
    });
  if (config.redis.enabled)
    await stack.with(stack.redis(), (client) =>
      client.sendCommand(['ACL', 'DELUSER', ...REDIS_ACL_USERS.map((u) => names.prefix + u.name)]),
    );
}
