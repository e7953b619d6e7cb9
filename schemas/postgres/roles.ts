// PostgreSQL logins, one per use: the superuser is for administration only; the schema belongs to a migrations role;
// applications and reporting get the least they need. One place for the names, credentials and privileges.
import type { VectorstackConfig } from '../../lib/config/schema.js';
import type { SecretName } from '../../lib/services/types.js';

export type PostgresRoleName = 'admin' | 'owner' | 'app' | 'readonly';

export interface PostgresRole {
  /** Login name. */
  name: string;
  /** Credential (credentials file or Secret key) holding its password. */
  secret: SecretName;
  /** What it is for, shown by `up` and in docs/security.md. */
  use: string;
  /** Table privileges on the RAG tables (none for admin and owner, which need no grants). */
  tablePrivileges: string[];
}

/** The superuser's login: created by the image at initdb (POSTGRES_USER), used for role management and backups. */
export const POSTGRES_ADMIN_USER = 'postgres';

export function postgresRoles(config: VectorstackConfig): Record<PostgresRoleName, PostgresRole> {
  const user = config.postgres.user;
  return {
    admin: {
      name: POSTGRES_ADMIN_USER,
      secret: 'postgres_password',
      use: 'administration only: roles, extensions, backup and restore',
      tablePrivileges: [],
    },
    owner: {
      name: `${user}_owner`,
      secret: 'postgres_owner_password',
      use: 'migrations: owns the schema and its tables (bootstrap)',
      tablePrivileges: [],
    },
    app: {
      name: user,
      secret: 'postgres_app_password',
      use: 'applications: read and write rows of the RAG tables; cannot create, alter or drop tables',
      tablePrivileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    },
    readonly: {
      name: `${user}_readonly`,
      secret: 'postgres_readonly_password',
      use: 'reporting and checks: read rows only',
      tablePrivileges: ['SELECT'],
    },
  };
}

/** The logins bootstrap creates and keeps in line (the admin comes from the image). */
export const MANAGED_ROLES: PostgresRoleName[] = ['owner', 'app', 'readonly'];
