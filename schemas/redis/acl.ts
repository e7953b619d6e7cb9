// Redis ACL users and key conventions. Each application role gets its own user, limited to its key patterns.
import type { SecretName } from '../../lib/services/types.js';

export interface RedisKeyspace {
  /** Key pattern, as in an ACL `~pattern` rule. */
  pattern: string;
  /** What the keys hold and how they are named. */
  convention: string;
  /** TTL the application sets on every key, in seconds. Documented, not enforced by the server. */
  ttlSeconds: number;
}

export interface RedisAclUserSpec {
  /** User name without the run's prefix. */
  name: string;
  /** Credential (credentials.json) holding the user's password. */
  secret: SecretName;
  keyspaces: RedisKeyspace[];
  /**
   * Command rules in the order Redis prints them back (ACL GETUSER): written this way, the live user compares equal
   * to the spec with a plain string comparison.
   */
  commands: string;
}

/**
 * Data commands only: no KEYS/FLUSHALL/CONFIG/DEBUG (all in @dangerous), no pub/sub. SCAN and RANDOMKEY go too: Redis
 * applies key patterns to the keys a command names, not to the names a keyspace walk returns, so either would list
 * the other users' keys (the session ids) to the cache user.
 */
const DATA_COMMANDS = '-@all +@read +@write +@keyspace +@connection -@dangerous -scan -randomkey';

export const REDIS_ACL_USERS: RedisAclUserSpec[] = [
  {
    name: 'cache',
    secret: 'redis_cache_password',
    keyspaces: [
      {
        pattern: 'cache:*',
        convention: 'cache:<kind>:<sha256 of the normalized request>, e.g. cache:answer:9f2c...',
        ttlSeconds: 3600,
      },
      {
        pattern: 'emb:*',
        convention: 'emb:<model>:<dimension>:<sha256 of the input text>: the embedding as float32 bytes',
        ttlSeconds: 7 * 24 * 3600,
      },
    ],
    commands: DATA_COMMANDS,
  },
  {
    name: 'session',
    secret: 'redis_session_password',
    keyspaces: [
      {
        pattern: 'sess:*',
        convention:
          'sess:<session id>: a hash of the conversation state; the TTL is renewed on every request',
        ttlSeconds: 24 * 3600,
      },
    ],
    commands: DATA_COMMANDS,
  },
];
