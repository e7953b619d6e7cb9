// Redis in a backup set: a snapshot the server itself writes (BGSAVE, awaited through INFO persistence), copied out of
// the container through exec, and a digest of its keyspace computed on that very file: a second redis-server, started
// on the copy inside the same container (loopback only, its own random password), loads it and runs the digest script.
// Restore stages the file the same way, checks the digest, then makes the live server a replica of that staged server
// (a full sync loads the snapshot exactly, expiries included), promotes it back, and compares digests.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from '../../clients.js';
import type { RunningStack } from '../../stack/running-stack.js';
import { waitFor } from '../../util/poll.js';
import { type FileEntry, fileEntry, ownerOnlyDir } from './files.js';
import type { RedisSection } from './manifest.js';
import { BackupError, compareVersions, type StoreContext } from './types.js';

export const REDIS_RDB = 'redis/dump.rdb';
export const REDIS_DIGEST =
  'lib/ops/backup/redis-digest.lua v1: per database, XOR of SHA-1(key, type, PEXPIRETIME, canonical value)';

const DIGEST_SCRIPT = readFileSync(
  path.join(path.dirname(fileURLToPath(import.meta.url)), 'redis-digest.lua'),
  'utf8',
);

/** Port of the staged server inside the Redis container (loopback only). */
const STAGING_PORT = 6391;
const COPY_TIMEOUT_MS = 3600_000;

export interface DatabaseDigest {
  db: number;
  keys: number;
  digest: string;
}

/** `db0:keys=7,expires=1,...` lines of INFO keyspace → database numbers and key counts. */
export function parseKeyspace(info: string): { db: number; keys: number }[] {
  return [...info.matchAll(/^db(\d+):keys=(\d+)/gm)].map((m) => ({ db: Number(m[1]), keys: Number(m[2]) }));
}

function infoField(info: string, field: string): string | undefined {
  return info.match(new RegExp(`^${field}:(.*)$`, 'm'))?.[1]?.trim();
}

function parseDigest(reply: string): DatabaseDigest[] {
  const parsed = JSON.parse(reply) as DatabaseDigest[] | Record<string, never>;
  return Array.isArray(parsed) ? parsed : [];
}

async function digestOf(client: RedisClient): Promise<DatabaseDigest[]> {
  const dbs = parseKeyspace(await client.info('keyspace')).map((d) => String(d.db));
  return parseDigest(String(await client.eval(DIGEST_SCRIPT, { keys: [], arguments: dbs })));
}

/**
 * A redis-server started inside the Redis container on a copy of a snapshot, reachable only from that container. Its
 * files live in a scratch directory on the data volume (the one place both targets can write and that holds a
 * snapshot's size), removed by stop().
 */
class StagedServer {
  private readonly tokenFile: string;
  private readonly conf: string;
  private readonly pidFile: string;
  private readonly logFile: string;
  readonly token = randomBytes(24).toString('hex');

  constructor(
    private readonly stack: RunningStack,
    readonly dir: string,
    readonly port = STAGING_PORT,
  ) {
    this.tokenFile = `${dir}/token`;
    this.conf = `${dir}/staged.conf`;
    this.pidFile = `${dir}/staged.pid`;
    this.logFile = `${dir}/staged.log`;
  }

  get rdb(): string {
    return `${this.dir}/dump.rdb`;
  }

  private sh(script: string, args: string[], options: Parameters<RunningStack['exec']>[2] = {}) {
    return this.stack.exec('redis', ['sh', '-c', script, 'sh', ...args], options);
  }

  async prepare(): Promise<void> {
    // A staged server left by an interrupted run would hold the port: stop it first.
    await this.sh(
      'if test -e "$2"; then kill "$(cat "$2")" 2>/dev/null; sleep 1; fi; rm -rf "$1" && umask 077 && mkdir -p "$1"',
      [this.dir, this.pidFile],
    );
  }

  /** redis-cli against the staged server; its password comes from a file, never an argument. */
  cli(args: string[], timeoutMs = 60_000) {
    return this.sh(
      'REDISCLI_AUTH="$(cat "$1")"; export REDISCLI_AUTH; shift; exec redis-cli --no-auth-warning "$@"',
      [this.tokenFile, '-p', String(this.port), ...args],
      { timeoutMs },
    );
  }

  async start(): Promise<void> {
    const conf = [
      `port ${this.port}`,
      'bind 127.0.0.1',
      'protected-mode yes',
      `dir ${this.dir}`,
      'dbfilename dump.rdb',
      'save ""',
      'appendonly no',
      'daemonize yes',
      `pidfile ${this.pidFile}`,
      `logfile ${this.logFile}`,
      'maxmemory 0',
      `requirepass ${this.token}`,
    ].join('\n');
    await this.sh(
      'umask 077 && cat > "$1" && printf %s "$3" > "$2"',
      [this.conf, this.tokenFile, this.token],
      {
        input: `${conf}\n`,
      },
    );
    await this.stack.exec('redis', ['redis-server', this.conf]);
    await waitFor(
      `redis: staged server on ${this.rdb} loading the snapshot`,
      async () => {
        const pong = await this.cli(['ping']).catch((e: Error) => ({ stdout: e.message }));
        if (pong.stdout.trim() === 'PONG') return true;
        const alive = await this.sh('test -e "$1" && kill -0 "$(cat "$1")"', [this.pidFile]).then(
          () => true,
          () => false,
        );
        if (!alive) {
          const log = await this.sh('tail -n 5 "$1"', [this.logFile]).catch(() => ({ stdout: '' }));
          throw new BackupError(
            `redis: the snapshot does not load: ${log.stdout.trim() || 'the server exited'}`,
          );
        }
        return { waiting: pong.stdout.trim().split('\n')[0] ?? 'no answer' };
      },
      { timeoutMs: COPY_TIMEOUT_MS, intervalMs: 500 },
    );
  }

  async digest(): Promise<DatabaseDigest[]> {
    const keyspace = parseKeyspace((await this.cli(['info', 'keyspace'])).stdout);
    const { stdout } = await this.cli(
      ['--raw', 'eval', DIGEST_SCRIPT, '0', ...keyspace.map((d) => String(d.db))],
      COPY_TIMEOUT_MS,
    );
    return parseDigest(stdout.trim());
  }

  async usedMemory(): Promise<number> {
    return Number(infoField((await this.cli(['info', 'memory'])).stdout, 'used_memory') ?? 0);
  }

  /** Stops the server (no save) and removes the scratch directory. */
  async stop(): Promise<void> {
    await this.sh('test -e "$1" && kill "$(cat "$1")"; true', [this.pidFile]).catch(() => {});
    await waitFor(
      'redis: staged server to exit',
      async () =>
        (await this.sh('test -e "$1" && kill -0 "$(cat "$1")" 2>/dev/null', [this.pidFile]).then(
          () => false,
          () => true,
        )) || undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch(() => {});
    await this.sh('rm -rf "$1"', [this.dir]).catch(() => {});
  }
}

async function dataDir(client: RedisClient): Promise<{ dir: string; dbfilename: string }> {
  const dir = (await client.configGet('dir')).dir;
  const dbfilename = (await client.configGet('dbfilename')).dbfilename;
  if (!dir || !dbfilename) throw new BackupError('redis: CONFIG GET dir/dbfilename answered nothing');
  return { dir, dbfilename };
}

/** Waits until the server runs no fork (a save or an AOF rewrite), so the next BGSAVE starts at once. */
async function waitNoChild(client: RedisClient): Promise<void> {
  await waitFor(
    'redis: the running save or AOF rewrite to finish',
    async () => {
      const info = await client.info('persistence');
      const busy = ['rdb_bgsave_in_progress', 'aof_rewrite_in_progress'].filter(
        (f) => infoField(info, f) === '1',
      );
      return busy.length === 0 ? true : { waiting: busy.join(', ') };
    },
    { timeoutMs: COPY_TIMEOUT_MS, intervalMs: 200 },
  );
}

/** BGSAVE and wait for it: the snapshot is the dataset at the fork instant. */
async function snapshot(ctx: StoreContext, client: RedisClient): Promise<void> {
  await waitNoChild(client);
  const before = Number(infoField(await client.info('persistence'), 'rdb_saves') ?? 0);
  try {
    await client.bgSave();
  } catch (error) {
    // A fork that started meanwhile: schedule ours after it.
    if (!/in progress/i.test((error as Error).message)) throw error;
    await client.sendCommand(['BGSAVE', 'SCHEDULE']);
  }
  ctx.progress.log('redis: BGSAVE started');
  await waitFor(
    'redis: BGSAVE to finish',
    async () => {
      const info = await client.info('persistence');
      if (
        Number(infoField(info, 'rdb_saves') ?? 0) <= before ||
        infoField(info, 'rdb_bgsave_in_progress') === '1'
      )
        return { waiting: 'saving' };
      if (infoField(info, 'rdb_last_bgsave_status') !== 'ok')
        throw new BackupError(
          `redis: BGSAVE failed (rdb_last_bgsave_status ${infoField(info, 'rdb_last_bgsave_status')})`,
        );
      return true;
    },
    { timeoutMs: COPY_TIMEOUT_MS, intervalMs: 200 },
  );
}

/** Snapshot, copy, and digest of the copy. */
export async function backupRedis(
  ctx: StoreContext,
  setDir: string,
): Promise<{ section: RedisSection; files: FileEntry[] }> {
  const { stack, progress } = ctx;
  return stack.with(stack.redis(), async (client) => {
    const version = infoField(await client.info('server'), 'redis_version') ?? 'unknown';
    const { dir, dbfilename } = await dataDir(client);
    const aclUsers = ((await client.sendCommand(['ACL', 'USERS'])) as string[]).sort();
    await snapshot(ctx, client);
    const staged = new StagedServer(stack, `${dir}/.vectorstack-backup`);
    await staged.prepare();
    try {
      // A hard link pins the snapshot just written: a later automatic save renames a new file over the name only.
      await stack.exec('redis', ['ln', '-f', `${dir}/${dbfilename}`, staged.rdb]);
      const savedAt = new Date(Number(await client.lastSave()) * 1000).toISOString();
      const local = path.join(setDir, REDIS_RDB);
      ownerOnlyDir(path.dirname(local));
      await progress.heartbeat(
        'redis: copying the snapshot',
        stack.exec('redis', ['cat', staged.rdb], { stdoutFile: local, timeoutMs: COPY_TIMEOUT_MS }),
      );
      await staged.start();
      const databases = await staged.digest();
      const usedMemoryBytes = await staged.usedMemory();
      const entry = await fileEntry(setDir, local);
      progress.log(
        `redis: snapshot ${(entry.bytes / 1e6).toFixed(1)} MB, ${databases.reduce((s, d) => s + d.keys, 0)} key(s) in ${databases.length} database(s)`,
      );
      return {
        section: {
          serverVersion: version,
          rdb: entry.path,
          savedAt,
          usedMemoryBytes,
          aclUsers,
          digest: REDIS_DIGEST,
          databases,
        },
        files: [entry],
      };
    } finally {
      await staged.stop();
    }
  });
}

/** Databases of the target that hold keys, e.g. `db0: 12 key(s)`. */
export async function redisData(client: RedisClient): Promise<string[]> {
  return parseKeyspace(await client.info('keyspace'))
    .filter((d) => d.keys > 0)
    .map((d) => `db${d.db}: ${d.keys} key(s)`);
}

export async function checkRedisTarget(
  client: RedisClient,
  section: RedisSection,
): Promise<{ problems: string[]; warnings: string[]; found: string[] }> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const version = infoField(await client.info('server'), 'redis_version') ?? 'unknown';
  if (compareVersions(section.serverVersion, version) > 0)
    problems.push(
      `redis: the backup comes from Redis ${section.serverVersion}, newer than the target's ${version}: an RDB file loads into the same or a newer Redis`,
    );
  const maxmemory = Number((await client.configGet('maxmemory')).maxmemory ?? 0);
  if (maxmemory > 0 && section.usedMemoryBytes > maxmemory)
    problems.push(
      `redis: the snapshot takes ${section.usedMemoryBytes} bytes once loaded, over the target's maxmemory ${maxmemory}: raise redis.maxmemoryMb first`,
    );
  const users = new Set((await client.sendCommand(['ACL', 'USERS'])) as string[]);
  const missing = section.aclUsers.filter((u) => !users.has(u));
  if (missing.length > 0)
    warnings.push(
      `redis: ACL user(s) ${missing.join(', ')} do not exist on the target (ACL users are not in an RDB; npm run bootstrap creates the kit's)`,
    );
  return { problems, warnings, found: await redisData(client) };
}

/** The snapshot staged in the target's container, loaded and digested, ready to be synced into the live server. */
export interface StagedRedis {
  server: StagedServer;
  digest: DatabaseDigest[];
}

function digestProblems(label: string, expected: DatabaseDigest[], actual: DatabaseDigest[]): string[] {
  const problems: string[] = [];
  const dbs = new Set([...expected.map((d) => d.db), ...actual.map((d) => d.db)]);
  for (const db of [...dbs].sort((a, b) => a - b)) {
    const e = expected.find((d) => d.db === db) ?? { db, keys: 0, digest: '-' };
    const a = actual.find((d) => d.db === db) ?? { db, keys: 0, digest: '-' };
    if (e.keys !== a.keys) problems.push(`${label} db${db}: ${a.keys} key(s), the manifest says ${e.keys}`);
    else if (e.digest !== a.digest)
      problems.push(
        `${label} db${db}: keys or values differ (digest ${a.digest.slice(0, 12)}… vs ${e.digest.slice(0, 12)}…)`,
      );
  }
  return problems;
}

/** Copies the snapshot into the target's container and loads it in a staged server; checks its digest. */
export async function stageRedis(
  stack: RunningStack,
  section: RedisSection,
  rdbFile: string,
): Promise<StagedRedis> {
  const { dir } = await stack.with(stack.redis(), dataDir);
  const server = new StagedServer(stack, `${dir}/.vectorstack-restore`);
  await server.prepare();
  try {
    await stack.exec('redis', ['sh', '-c', 'umask 077 && cat > "$1"', 'sh', server.rdb], {
      stdinFile: rdbFile,
      timeoutMs: COPY_TIMEOUT_MS,
    });
    await server.start();
    const digest = await server.digest();
    const problems = digestProblems(
      `redis: ${rdbFile} (loaded in a staged server)`,
      section.databases,
      digest,
    );
    if (problems.length > 0)
      throw new BackupError('redis: the snapshot does not hold what the manifest says', { problems });
    return { server, digest };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * Loads the staged snapshot into the live server by replication: REPLICAOF the staged server (a full sync replaces
 * the dataset with the snapshot's), wait for the sync, REPLICAOF NO ONE. The server's own persistence (AOF, RDB)
 * then records the restored data. Idempotent: a re-run syncs again from scratch.
 */
export async function restoreRedis(ctx: StoreContext, staged: StagedRedis): Promise<void> {
  const { stack, progress } = ctx;
  try {
    await stack.with(stack.redis(), async (client) => {
      await client.configSet('masterauth', staged.server.token);
      try {
        progress.log('redis: syncing the live server from the staged snapshot (REPLICAOF)');
        await client.sendCommand(['REPLICAOF', '127.0.0.1', String(staged.server.port)]);
        await waitFor(
          'redis: full sync from the staged snapshot',
          async () => {
            const repl = await client.info('replication');
            const persistence = await client.info('persistence');
            const up = infoField(repl, 'master_link_status') === 'up';
            const syncing = infoField(repl, 'master_sync_in_progress') === '1';
            const loading = infoField(persistence, 'loading') === '1';
            return up && !syncing && !loading
              ? true
              : {
                  waiting: `link ${infoField(repl, 'master_link_status')}${syncing ? ', syncing' : ''}${loading ? ', loading' : ''}`,
                };
          },
          { timeoutMs: COPY_TIMEOUT_MS, intervalMs: 200 },
        );
      } finally {
        await client.sendCommand(['REPLICAOF', 'NO', 'ONE']);
        await client.configSet('masterauth', '');
      }
    });
  } finally {
    await staged.server.stop();
  }
}

export async function verifyRedis(stack: RunningStack, section: RedisSection): Promise<string[]> {
  const digest = await stack.with(stack.redis(), digestOf);
  return digestProblems('redis:', section.databases, digest);
}
