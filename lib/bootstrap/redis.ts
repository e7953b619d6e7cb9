import { createHash } from 'node:crypto';
import type { RedisAclUserSpec } from '../../schemas/redis/acl.js';
import type { RedisClient } from '../clients.js';
import type { VectorstackConfig } from '../config/schema.js';
import type { Credentials } from '../credentials.js';
import { BootstrapError, type ExecutablePlan, type PlannedAction } from './types.js';

export interface RedisContext {
  client: RedisClient;
  config: VectorstackConfig;
  credentials: Partial<Credentials>;
  users: RedisAclUserSpec[];
  prefix: string;
}

/** Server settings bootstrap keeps in line with the configuration (also passed on redis-server's command line). */
export function desiredRedisSettings(config: VectorstackConfig): Record<string, string> {
  return {
    maxmemory: String(config.redis.maxmemoryMb * 1024 * 1024),
    'maxmemory-policy': config.redis.evictionPolicy,
    appendonly: config.redis.appendonly ? 'yes' : 'no',
  };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The ACL rules for a user, as sent to ACL SETUSER. The password goes as its SHA-256 (`#hash`), never in clear. */
export function aclRules(user: RedisAclUserSpec, password: string): string[] {
  return [
    'reset',
    'on',
    `#${sha256(password)}`,
    ...user.keyspaces.map((k) => `~${k.pattern}`),
    'resetchannels',
    ...user.commands.split(/\s+/),
  ];
}

/** ACL GETUSER's flat [key, value, ...] reply as a record; null for an unknown user. */
async function getUser(client: RedisClient, name: string): Promise<Record<string, unknown> | null> {
  const reply = (await client.sendCommand(['ACL', 'GETUSER', name])) as unknown[] | null;
  if (!reply) return null;
  const user: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) user[String(reply[i])] = reply[i + 1];
  return user;
}

export async function planRedis(ctx: RedisContext): Promise<ExecutablePlan> {
  const { client, prefix } = ctx;
  const info = await client.info('server');
  const serverVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const actions: PlannedAction[] = [];
  const warnings: string[] = [];
  const action = (kind: string, target: string, detail: string) =>
    actions.push({ store: 'redis', kind, target, detail, destructive: false });

  const desired = desiredRedisSettings(ctx.config);
  const live = await client.configGet(['aclfile', ...Object.keys(desired)]);
  for (const [key, value] of Object.entries(desired))
    if (live[key] !== value) action('config-set', key, `${live[key] ?? 'unset'} -> ${value}`);

  const passwords = new Map<string, string>();
  let usersChanged = false;
  for (const user of ctx.users) {
    const name = prefix + user.name;
    const password = ctx.credentials[user.secret];
    if (!password)
      throw new BootstrapError(
        `credential ${user.secret} (password of redis user ${name}) is missing from the environment's credentials`,
        { remedy: `run: npm run up -- --env ${ctx.config.environment} (it creates every credential)` },
      );
    passwords.set(name, password);
    const existing = await getUser(client, name);
    const patterns = user.keyspaces.map((k) => `~${k.pattern}`).join(' ');
    if (!existing) {
      action('create-user', name, `keys ${patterns}; ${user.commands}`);
      usersChanged = true;
      continue;
    }
    const differences: string[] = [];
    if (!(existing.flags as string[]).includes('on')) differences.push('disabled');
    const livePasswords = existing.passwords as string[];
    if (livePasswords.length !== 1 || livePasswords[0] !== sha256(password)) differences.push('password');
    if (String(existing.keys) !== patterns)
      differences.push(`keys ${String(existing.keys) || 'none'} -> ${patterns}`);
    if (String(existing.channels) !== '') differences.push(`channels ${String(existing.channels)} -> none`);
    if (String(existing.commands) !== user.commands)
      differences.push(`commands ${String(existing.commands)} -> ${user.commands}`);
    if (differences.length > 0) {
      action('update-user', name, differences.join('; '));
      usersChanged = true;
    }
  }
  const aclfile = live.aclfile ?? '';
  if (usersChanged) {
    if (aclfile) action('acl-save', aclfile, 'persist ACL users across restarts');
    else
      warnings.push(
        'redis has no aclfile: ACL users last until the server restarts (re-run bootstrap after it)',
      );
  }

  return {
    store: 'redis',
    serverVersion,
    actions,
    drift: [],
    warnings,
    execute: async (a) => {
      switch (a.kind) {
        case 'config-set':
          await client.configSet(a.target, desired[a.target]!);
          return;
        case 'create-user':
        case 'update-user': {
          const spec = ctx.users.find((u) => prefix + u.name === a.target)!;
          await client.sendCommand(['ACL', 'SETUSER', a.target, ...aclRules(spec, passwords.get(a.target)!)]);
          return;
        }
        case 'acl-save':
          await client.sendCommand(['ACL', 'SAVE']);
          return;
        default:
          throw new Error(`unknown redis action ${a.kind}`);
      }
    },
  };
}
