// Milvus logins, one per use, each bound to a role of its own (where the server has RBAC): the root user is for
// administration only (bootstrap, backups).
import type { VectorstackConfig } from '../../lib/config/schema.js';
import type { SecretName } from '../../lib/services/types.js';

export interface MilvusUserSpec {
  /** Login and role name. */
  name: string;
  /** Credential holding its password. */
  secret: SecretName;
  use: string;
  /** Privileges on every collection (object type Collection, name `*`). */
  collectionPrivileges: string[];
}

/**
 * Names are short and fixed (one Milvus per stack): Milvus limits user and role names to 32 characters, and tests put
 * a prefix in front of them.
 */
export function milvusUsers(_config: VectorstackConfig): MilvusUserSpec[] {
  return [
    {
      name: 'rag_app',
      secret: 'milvus_app_password',
      use: 'applications: search, query, insert, upsert, delete, load; cannot create or drop collections',
      collectionPrivileges: [
        'Search',
        'Query',
        'Insert',
        'Upsert',
        'Delete',
        'Load',
        'GetLoadState',
        'GetLoadingProgress',
        'Flush',
        'GetFlushState',
        'GetStatistics',
        'IndexDetail',
      ],
    },
    {
      name: 'rag_reader',
      secret: 'milvus_readonly_password',
      use: 'reporting and checks: search and query only',
      collectionPrivileges: [
        'Search',
        'Query',
        'GetLoadState',
        'GetLoadingProgress',
        'GetStatistics',
        'IndexDetail',
      ],
    },
  ];
}
