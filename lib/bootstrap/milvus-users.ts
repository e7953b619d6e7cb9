import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { MILVUS_FIELDS } from '../../schemas/milvus/collections.js';
import { type MilvusUserSpec, milvusUsers } from '../../schemas/milvus/users.js';
import type { VectorstackConfig } from '../config/schema.js';
import type { Credentials } from '../credentials.js';
import { checkStatus, statusProblem } from '../milvus/status.js';
import { WaitTimeoutError, waitFor } from '../util/poll.js';
import { BootstrapError, type PlannedAction } from './types.js';

/** Kinds of the actions this planner owns (the collection planner owns the rest). */
export const MILVUS_USER_ACTIONS = new Set([
  'create-role',
  'grant-privileges',
  'create-user',
  'reset-user',
  'bind-role',
]);

export interface MilvusUsersPlan {
  actions: PlannedAction[];
  warnings: string[];
  execute(action: PlannedAction): Promise<void>;
}

/**
 * Plans the application and read-only logins: a role per login with privileges on every collection, the user bound to
 * it, its password the generated one (proved by logging in with it; a user whose password drifted is recreated, since
 * Milvus never returns a password). Where the server has no RBAC API (milvus-lite), nothing is planned and a warning
 * says every client then acts as root.
 */
export async function planMilvusUsers(
  client: MilvusClient,
  config: VectorstackConfig,
  credentials: Partial<Credentials>,
  /** Whether a login works with this password (a throwaway connection). */
  canLogIn: (username: string, password: string) => Promise<boolean>,
  prefix = '',
): Promise<MilvusUsersPlan> {
  const actions: PlannedAction[] = [];
  const action = (kind: string, target: string, detail: string) =>
    actions.push({ store: 'milvus', kind, target, detail, destructive: false });
  const listed = await client.listUsers();
  const unsupported = statusProblem(listed.status);
  if (unsupported)
    return {
      actions,
      warnings: [`users and roles: ${unsupported}; every client of this server has root's powers (no RBAC)`],
      execute: async () => {},
    };
  const specs = milvusUsers(config).map((spec) => ({ ...spec, name: prefix + spec.name }));
  const password = (spec: MilvusUserSpec) => {
    const value = credentials[spec.secret];
    if (!value)
      throw new BootstrapError(
        `credential ${spec.secret} (password of milvus user ${spec.name}) is missing`,
        {
          remedy: `run: npm run up -- --env ${config.environment} (it creates every credential)`,
        },
      );
    return value;
  };

  for (const spec of specs) {
    const hasRole = await client.hasRole({ roleName: spec.name });
    checkStatus(hasRole.status, `hasRole ${spec.name}`);
    if (!hasRole.hasRole)
      action(
        'create-role',
        spec.name,
        `privileges on every collection: ${spec.collectionPrivileges.join(', ')}`,
      );
    // selectGrant with the object named: 2.3 answers listGrants (no object) with nothing.
    const grants = hasRole.hasRole
      ? await client.selectGrant({ roleName: spec.name, object: 'Collection' as never, objectName: '*' })
      : undefined;
    if (grants) checkStatus(grants.status, `selectGrant ${spec.name}`);
    const granted = new Set(
      (grants?.entities ?? [])
        .filter((g) => g.object.name === 'Collection' && g.object_name === '*')
        .map((g) => g.grantor.privilege.name as string),
    );
    const missing = spec.collectionPrivileges.filter((p) => !granted.has(p));
    if (missing.length > 0) action('grant-privileges', spec.name, `Collection *: ${missing.join(', ')}`);

    if (!listed.usernames.includes(spec.name)) {
      action('create-user', spec.name, `${spec.use}; role ${spec.name}`);
      continue;
    }
    if (!(await canLogIn(spec.name, password(spec)))) {
      action('reset-user', spec.name, 'password differs from the generated one: user recreated');
      continue;
    }
    const described = await client.describeUser({ username: spec.name, includeRoleInfo: true });
    checkStatus(described.status, `describeUser ${spec.name}`);
    const roles = described.results[0]?.roles.map((r) => r.name) ?? [];
    if (!roles.includes(spec.name)) action('bind-role', spec.name, `role ${spec.name}`);
  }

  const byName = new Map(specs.map((s) => [s.name, s]));
  return {
    actions,
    warnings: [],
    execute: async (a) => {
      const spec = byName.get(a.target)!;
      const bind = async () =>
        checkStatus(
          await client.addUserToRole({ username: spec.name, roleName: spec.name }),
          `addUserToRole ${spec.name}`,
        );
      const create = async () =>
        checkStatus(
          await client.createUser({ username: spec.name, password: password(spec) }),
          `createUser ${spec.name}`,
        );
      switch (a.kind) {
        case 'create-role':
          return checkStatus(await client.createRole({ roleName: spec.name }), `createRole ${spec.name}`);
        case 'grant-privileges':
          return grantOnEveryCollection(
            client,
            spec.name,
            a.detail.replace(/^Collection \*: /, '').split(', '),
          );
        case 'create-user':
          await create();
          return bind();
        case 'reset-user':
          checkStatus(await client.deleteUser({ username: spec.name }), `deleteUser ${spec.name}`);
          await create();
          return bind();
        case 'bind-role':
          return bind();
        default:
          throw new Error(`unknown milvus user action ${a.kind}`);
      }
    },
  };
}

/** Grants `privileges` to `roleName` on every collection (object Collection, name `*`), each checked. */
async function grantOnEveryCollection(
  client: MilvusClient,
  roleName: string,
  privileges: readonly string[],
): Promise<void> {
  for (const privilegeName of privileges)
    checkStatus(
      await client.grantPrivilege({
        roleName,
        object: 'Collection' as never,
        objectName: '*',
        privilegeName: privilegeName as never,
      }),
      `grantPrivilege ${privilegeName} to ${roleName}`,
    );
}

/** A query that matches nothing: proves the Query privilege without reading data. */
export const GRANT_PROBE_FILTER = `${MILVUS_FIELDS.chunkId} == "vectorstack-grant-probe"`;

export interface GrantWaitOptions {
  /** Prefix of the data plane's names (logins, collections). @default '' */
  prefix?: string;
  /** Bound on the wait, per login (a held-up root coordinator can take a minute to tell the proxy). @default 120_000 */
  timeoutMs?: number;
  /** Applies the login's grants and binding again (additions only), so the proxy hears of them anew. */
  reassert?: (spec: MilvusUserSpec & { name: string }) => Promise<void>;
  /** What the server's metadata says of the login (its roles, its role's grants), for the error when the wait fails. */
  describe?: (spec: MilvusUserSpec & { name: string }) => Promise<string>;
}

/**
 * Waits, bounded, until each of `usernames` (names with the prefix) can use `collection` (see `query`) with its generated
 * password. Milvus acknowledges a grant or a role binding before its proxies apply it; a login used at once can still
 * be refused with PERMISSION_DENIED for a moment. Throws a BootstrapError naming the login and the last refusal.
 */
export async function waitForMilvusGrants(
  usernames: string[],
  collection: string,
  /** Uses the login as it will be used; a refusal naming a permission or privilege is waited out. */
  query: (
    username: string,
    password: string,
    spec: MilvusUserSpec,
  ) => Promise<{ status: { error_code: string | number; reason: string } }>,
  config: VectorstackConfig,
  credentials: Partial<Credentials>,
  options: GrantWaitOptions = {},
): Promise<void> {
  const { prefix = '', timeoutMs = 120_000, reassert, describe } = options;
  const specs = milvusUsers(config).filter((spec) => usernames.includes(prefix + spec.name));
  for (const spec of specs) {
    const username = prefix + spec.name;
    const password = credentials[spec.secret];
    if (!password) continue;
    let lastReassert = Date.now();
    try {
      await waitFor(
        `milvus login ${username} allowed to use ${collection}`,
        async () => {
          // Milvus 2.3's proxy learns of grants from background steps of the root coordinator, which can be held up
          // (and its policy cache can be dropped when a refresh fails, milvus-io/milvus#34667, fixed in 2.4): the
          // grants stay in the metadata and the proxy denies them until it hears of them again. After 10 s of
          // refusals the grants are applied once more (additions only, see reassertMilvusGrants).
          if (reassert && Date.now() - lastReassert >= 10_000) {
            lastReassert = Date.now();
            await reassert({ ...spec, name: username });
          }
          try {
            const result = await query(username, password, spec);
            // Only a refusal is waited out; any other answer is not this wait's business.
            const refused =
              result.status.error_code !== 'Success' && /permission|privilege/i.test(result.status.reason);
            return !refused || { waiting: result.status.reason };
          } catch (error) {
            const message = (error as Error).message.split('\n')[0] ?? '';
            if (/PERMISSION_DENIED|permission den/i.test(message)) return { waiting: message };
            throw error;
          }
        },
        { timeoutMs, intervalMs: 500 },
      );
    } catch (error) {
      if (!(error instanceof WaitTimeoutError)) throw error;
      // Whether the metadata holds the grants tells a proxy that has not applied them from grants that are missing.
      const metadata = describe
        ? await describe({ ...spec, name: username }).catch(
            (e: Error) => `metadata not readable: ${e.message}`,
          )
        : null;
      throw new BootstrapError(`milvus: the grants of ${username} did not take effect`, {
        problems: [
          `refused for ${(error.elapsedMs / 1000).toFixed(0)}s: ${error.lastState}`,
          ...(metadata ? [metadata] : []),
        ],
      });
    }
  }
}

/** The login's roles and its role's grants on every collection, as the server's metadata holds them. */
export async function describeMilvusGrants(
  client: MilvusClient,
  spec: MilvusUserSpec & { name: string },
): Promise<string> {
  const user = await client.selectUser({ username: spec.name, includeRoleInfo: true });
  const roles = (user.results ?? []).flatMap((r) => r.roles.map((role) => role.name)).sort();
  const grants = await client.selectGrant({
    roleName: spec.name,
    object: 'Collection' as never,
    objectName: '*',
  });
  const privileges = (grants.entities ?? []).map((g) => String(g.grantor.privilege.name)).sort();
  return `metadata: ${spec.name} has roles [${roles.join(', ')}]; role ${spec.name} holds [${privileges.join(', ')}] on Collection * (wanted: ${spec.collectionPrivileges.join(', ')})`;
}

/**
 * Applies a login's collection grants and its role binding again through `client` (root), additions only: each
 * privilege granted and the user bound once more. Milvus 2.3's root coordinator records a grant that already exists as
 * done and still tells the proxies of it, in a background step. Those steps run in batches, each batch's steps side by
 * side and in no order, and a batch waits for its slowest step (a collection drop's clean-up can hold it for long). An
 * earlier version revoked and unbound first, with a pause: when the queue was held up the removals and the additions
 * landed in one batch, and a removal applied after its addition left the proxy without the privilege for good (bootstrap
 * then failed with PERMISSION_DENIED for 60 s while the metadata held every grant). Additions in any order converge.
 */
export async function reassertMilvusGrants(
  client: MilvusClient,
  spec: MilvusUserSpec & { name: string },
): Promise<void> {
  await grantOnEveryCollection(client, spec.name, spec.collectionPrivileges);
  checkStatus(
    await client.addUserToRole({ username: spec.name, roleName: spec.name }),
    `addUserToRole ${spec.name}`,
  );
}
