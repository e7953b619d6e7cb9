import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { MIGRATIONS_TABLE } from '../../schemas/postgres/layout.js';
import { MANAGED_ROLES, type PostgresRole, postgresRoles } from '../../schemas/postgres/roles.js';
import type { VectorstackConfig } from '../config/schema.js';
import type { Credentials } from '../credentials.js';
import { BootstrapError, type PlannedAction } from './types.js';

/**
 * A SCRAM-SHA-256 verifier as PostgreSQL stores it (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`).
 * Roles are created with the verifier, so the password itself never travels in a statement (or a server log).
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Whether a stored verifier was made from this password (recomputed with the verifier's own salt and iterations). */
export function verifierMatches(stored: string | null, password: string): boolean {
  const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored ?? '');
  if (!match) return false;
  return scramVerifier(password, Buffer.from(match[2]!, 'base64'), Number(match[1])) === stored;
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

interface LiveRole {
  rolname: string;
  rolpassword: string | null;
  rolsuper: boolean;
  rolcanlogin: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
}

export interface RolePlan {
  actions: PlannedAction[];
  execute(action: PlannedAction): Promise<boolean>;
}

/**
 * Plans the logins (owner, application, read-only), the extension, the schema's owner and the privileges, comparing
 * each with the live database: a role is created or reset only when missing or different (password included, checked
 * against the stored SCRAM verifier). Needs the superuser connection. `execute` returns false for an action it does
 * not own.
 */
export async function planPostgresRoles(
  client: pg.Client,
  config: VectorstackConfig,
  credentials: Partial<Credentials>,
  schema: string,
): Promise<RolePlan> {
  const roles = postgresRoles(config);
  const actions: PlannedAction[] = [];
  const action = (kind: string, target: string, detail: string) =>
    actions.push({ store: 'postgres', kind, target, detail, destructive: false });
  const { rows: su } = await client.query<{ super: boolean }>(
    'SELECT rolsuper AS super FROM pg_roles WHERE rolname = current_user',
  );
  if (!su[0]?.super)
    throw new BootstrapError(`postgres: bootstrap must log in as the superuser ${roles.admin.name}`, {
      remedy:
        'the stack was created by an older version whose superuser is the application login: back up, then npm run destroy -- --volumes --yes && npm run up',
    });

  const password = (role: PostgresRole) => {
    const value = credentials[role.secret];
    if (!value)
      throw new BootstrapError(
        `credential ${role.secret} (password of postgres role ${role.name}) is missing`,
        {
          remedy: `run: npm run up -- --env ${config.environment} (it creates every credential)`,
        },
      );
    return value;
  };
  for (const key of MANAGED_ROLES) {
    const role = roles[key];
    const { rows } = await client.query<LiveRole>(
      `SELECT rolname, rolpassword, rolsuper, rolcanlogin, rolcreaterole, rolcreatedb FROM pg_authid WHERE rolname = $1`,
      [role.name],
    );
    const live = rows[0];
    if (!live) {
      action('create-role', role.name, role.use);
      continue;
    }
    const differences = [
      ...(live.rolsuper || live.rolcreaterole || live.rolcreatedb ? ['attributes widened'] : []),
      ...(!live.rolcanlogin ? ['cannot log in'] : []),
      ...(!verifierMatches(live.rolpassword, password(role)) ? ['password'] : []),
    ];
    if (differences.length > 0) action('update-role', role.name, differences.join('; '));
  }

  const { rows: ext } = await client.query<{ installed: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS installed`,
  );
  if (!ext[0]!.installed) action('create-extension', 'vector', 'in schema public, as the superuser');

  const { rows: owner } = await client
    .query<{ owner: string | null; create: boolean }>(
      `SELECT (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1) AS owner,
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2) AND has_schema_privilege($2, $1, 'CREATE') AS create`,
      [schema, roles.owner.name],
    )
    .catch(() => ({ rows: [{ owner: null, create: false }] }));
  if (owner[0]!.owner !== roles.owner.name && !(schema === 'public' && owner[0]!.create))
    action('own-schema', schema, `schema owned by (or, for public, creatable by) ${roles.owner.name}`);

  if (await privilegesMissing(client, config, schema))
    action('grant-privileges', schema, privilegesDetail(config));

  return {
    actions,
    execute: async (a) => {
      switch (a.kind) {
        case 'create-role':
        case 'update-role': {
          const role = Object.values(roles).find((r) => r.name === a.target)!;
          const verb = a.kind === 'create-role' ? 'CREATE' : 'ALTER';
          // Identifiers come from the validated configuration; the verifier is a literal we computed.
          const verifier = scramVerifier(password(role)).replaceAll("'", "''");
          await client.query(
            `${verb} ROLE ${ident(role.name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${verifier}'`,
          );
          return true;
        }
        case 'create-extension':
          await client.query('CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public');
          return true;
        case 'own-schema':
          if (schema === 'public') {
            await client.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${ident(roles.owner.name)}`);
            await client.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
          } else {
            await client.query(
              `CREATE SCHEMA IF NOT EXISTS ${ident(schema)} AUTHORIZATION ${ident(roles.owner.name)}`,
            );
            await client.query(`ALTER SCHEMA ${ident(schema)} OWNER TO ${ident(roles.owner.name)}`);
          }
          return true;
        case 'grant-privileges':
          await grantPrivileges(client, config, schema);
          return true;
        default:
          return false;
      }
    },
  };
}

function privilegesDetail(config: VectorstackConfig): string {
  const roles = postgresRoles(config);
  return `${roles.app.name}: ${roles.app.tablePrivileges.join(', ')}; ${roles.readonly.name}: ${roles.readonly.tablePrivileges.join(', ')} (tables now and later)`;
}

/** Grants on the schema, its tables and sequences, and default privileges for tables the owner creates later. */
async function grantPrivileges(client: pg.Client, config: VectorstackConfig, schema: string): Promise<void> {
  const roles = postgresRoles(config);
  const s = ident(schema);
  for (const role of [roles.app, roles.readonly]) {
    const r = ident(role.name);
    const privileges = role.tablePrivileges.join(', ');
    await client.query(`GRANT USAGE ON SCHEMA ${s} TO ${r}`);
    await client.query(`GRANT ${privileges} ON ALL TABLES IN SCHEMA ${s} TO ${r}`);
    await client.query(
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(roles.owner.name)} IN SCHEMA ${s} GRANT ${privileges} ON TABLES TO ${r}`,
    );
  }
  const app = ident(roles.app.name);
  // Bootstrap's own bookkeeping is read-only to everyone but the owner.
  await client.query(
    `DO $$ BEGIN IF to_regclass('${schema.replaceAll("'", "''")}.${MIGRATIONS_TABLE}') IS NOT NULL THEN
       EXECUTE 'REVOKE INSERT, UPDATE, DELETE ON ${s.replaceAll("'", "''")}.${MIGRATIONS_TABLE} FROM ${app.replaceAll("'", "''")}';
     END IF; END $$`,
  );
  await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${app}`);
  await client.query(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(roles.owner.name)} IN SCHEMA ${s} GRANT USAGE, SELECT ON SEQUENCES TO ${app}`,
  );
}

/** True when a role lacks schema usage, a privilege on an existing table, or the default privileges for new ones. */
async function privilegesMissing(
  client: pg.Client,
  config: VectorstackConfig,
  schema: string,
): Promise<boolean> {
  const roles = postgresRoles(config);
  for (const role of [roles.app, roles.readonly]) {
    const { rows } = await client.query<{ missing: number }>(
      `SELECT (NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)
               OR NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $2)
               OR NOT has_schema_privilege($1, $2, 'USAGE'))::int
            + (SELECT count(*) FROM pg_tables t, unnest($3::text[]) p
                WHERE t.schemaname = $2 AND t.tablename <> '${MIGRATIONS_TABLE}'
                  AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)
                  AND NOT has_table_privilege($1, format('%I.%I', t.schemaname, t.tablename), p))::int
            + (SELECT CASE WHEN EXISTS (
                 SELECT 1 FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
                  WHERE n.nspname = $2 AND d.defaclobjtype = 'r' AND pg_get_userbyid(d.defaclrole) = $4
                    AND array_to_string(d.defaclacl, ',') LIKE '%' || $1 || '=%') THEN 0 ELSE 1 END) AS missing`,
      [role.name, schema, role.tablePrivileges, roles.owner.name],
    );
    if (rows[0]!.missing > 0) return true;
  }
  return false;
}
