// Restoring a backup set: verify the set (manifest, seal, every file), check every store of the target (versions,
// extensions, roles, data it already holds) and stage the Redis snapshot, all before changing anything; then restore
// PostgreSQL, Milvus and Redis in that order, and verify the result against the manifest.
import path from 'node:path';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type { RunningStack } from '../../stack/running-stack.js';
import { Progress } from '../../util/progress.js';
import { type Manifest, readBackupSet } from './manifest.js';
import { checkMilvusTarget, restoreMilvusCollection, verifyMilvusCollection } from './milvus.js';
import {
  checkPostgresTarget,
  type PostgresTargetCheck,
  restorePostgres,
  verifyPostgres,
} from './postgres.js';
import { DEFAULT_RECALL_TOLERANCE } from './recall.js';
import { checkRedisTarget, restoreRedis, type StagedRedis, stageRedis, verifyRedis } from './redis.js';
import { RestoreState } from './restore-state.js';
import {
  BACKUP_STORES,
  type BackupStore,
  DEFAULT_RECALL_K,
  DEFAULT_RECALL_QUERIES,
  RestoreMismatchError,
  RestoreRefusedError,
  type StoreContext,
} from './types.js';

export interface RestoreOptions {
  stack: RunningStack;
  /** The backup set's directory (holding manifest.json). */
  from: string;
  /** Replace data the target already holds (it is named first). @default false */
  force?: boolean;
  /** Accepted drop of recall@k after the restore below the value at backup time. @default 0.01 */
  recallTolerance?: number;
  progress?: Progress;
}

export interface RecallComparison {
  store: BackupStore;
  target: string;
  before: number;
  after: number;
}

export interface RestoreResult {
  manifest: Manifest;
  /** Seconds each store's restore took (verification apart). */
  seconds: Partial<Record<BackupStore, number>>;
  verifySeconds: number;
  /** Stores whose restore a previous, interrupted run had already finished. */
  resumed: string[];
  recall: RecallComparison[];
  warnings: string[];
}

/** The target instance, for the resume state: PostgreSQL's system identifier, else the Redis run and Milvus version. */
async function targetFingerprint(stack: RunningStack): Promise<string> {
  if (stack.config.postgres.enabled)
    return stack.with(stack.postgres({ role: 'admin', database: 'postgres' }), async (c) => {
      const { rows } = await c.query<{ id: string }>(
        'SELECT system_identifier::text AS id FROM pg_control_system()',
      );
      return `postgres:${rows[0]!.id}`;
    });
  return `${stack.config.project}/${stack.config.environment}`;
}

interface Preflight {
  postgres?: PostgresTargetCheck;
  redis?: StagedRedis;
  warnings: string[];
}

/** Every check that can refuse the restore, run before anything changes. */
async function preflight(
  ctx: StoreContext,
  manifest: Manifest,
  from: string,
  state: RestoreState,
  force: boolean,
): Promise<Preflight> {
  const { stack } = ctx;
  const config = stack.config;
  const problems: string[] = [];
  const found: string[] = [];
  const out: Preflight = { warnings: [] };
  for (const store of BACKUP_STORES)
    if (manifest.stores[store] && !config[store].enabled)
      problems.push(
        `${store}: the backup holds it but ${store}.enabled is false in environment ${config.environment}`,
      );
  const pg = manifest.stores.postgres;
  if (pg) {
    const check = await checkPostgresTarget(stack, pg, path.join(from, pg.dump));
    problems.push(...check.problems);
    if (!state.ours('postgres')) found.push(...check.data.map((d) => `postgres: ${d}`));
    out.postgres = check;
  }
  const milvus = manifest.stores.milvus;
  if (milvus) {
    const check = await stack.with(stack.milvus(), (client) => checkMilvusTarget(client, milvus));
    problems.push(...check.problems);
    out.warnings.push(...check.warnings);
    found.push(
      ...check.found
        .filter((f) => !state.ours(`milvus:${f.slice(0, f.indexOf(':'))}`))
        .map((f) => `milvus: ${f}`),
    );
  }
  const redis = manifest.stores.redis;
  if (redis) {
    const check = await stack.with(stack.redis(), (client) => checkRedisTarget(client, redis));
    problems.push(...check.problems);
    out.warnings.push(...check.warnings);
    if (!state.ours('redis')) found.push(...check.found.map((f) => `redis: ${f}`));
  }
  if (problems.length > 0)
    throw new RestoreRefusedError(`restore of ${from} refused: nothing was restored`, { problems });
  if (found.length > 0 && !force)
    throw new RestoreRefusedError(`restore of ${from} refused: the target holds data; nothing was restored`, {
      problems: found,
      remedy:
        'restore into an empty stack (npm run destroy, up, bootstrap), or pass --force to replace what is named',
    });
  if (redis && state.get('redis') !== 'done') {
    ctx.progress.log('redis: staging the snapshot in the target (loaded by a second server, digest checked)');
    out.redis = await stageRedis(stack, redis, path.join(from, redis.rdb));
  }
  return out;
}

export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const { stack } = options;
  const progress = options.progress ?? new Progress();
  const from = path.resolve(options.from);
  const tolerance = options.recallTolerance ?? DEFAULT_RECALL_TOLERANCE;
  progress.log(`verifying backup set ${from}`);
  const manifest = await readBackupSet(from);
  progress.log(
    `backup set ${manifest.id}: manifest sealed, ${manifest.files.length} file(s) match their checksums`,
  );
  const ctx: StoreContext = {
    stack,
    progress,
    recallQueries: DEFAULT_RECALL_QUERIES,
    recallK: DEFAULT_RECALL_K,
  };
  const state = new RestoreState(stack.deployment.stateDir, manifest.seal, await targetFingerprint(stack));
  const checked = await preflight(ctx, manifest, from, state, options.force ?? false);
  for (const warning of checked.warnings) progress.log(`warning: ${warning}`);
  const seconds: RestoreResult['seconds'] = {};
  const resumed: string[] = [];
  const step = async (name: string, work: () => Promise<void>) => {
    if (state.get(name) === 'done') {
      resumed.push(name);
      progress.log(`${name}: restored by an earlier run of this restore; skipped (verified below)`);
      return;
    }
    state.set(name, 'started');
    await work();
    state.set(name, 'done');
  };
  const timed = async (store: BackupStore, work: () => Promise<void>) => {
    const begun = Date.now();
    await work();
    seconds[store] = (Date.now() - begun) / 1000;
    progress.log(`${store}: restored in ${seconds[store]!.toFixed(1)} s`);
  };
  try {
    const pg = manifest.stores.postgres;
    if (pg)
      await timed('postgres', () =>
        step('postgres', () =>
          restorePostgres(ctx, pg, path.join(from, pg.dump), checked.postgres!, manifest.id),
        ),
      );
    const milvus = manifest.stores.milvus;
    if (milvus)
      await timed('milvus', () =>
        stack.with(stack.milvus(), async (client: MilvusClient) => {
          for (const record of milvus.collections)
            await step(`milvus:${record.database}/${record.name}`, () =>
              restoreMilvusCollection(ctx, client, record, from),
            );
        }),
      );
    const redis = manifest.stores.redis;
    if (redis && checked.redis) {
      const staged = checked.redis;
      checked.redis = undefined;
      await timed('redis', () => step('redis', () => restoreRedis(ctx, staged)));
    }
  } finally {
    await checked.redis?.server.stop();
  }

  progress.log('verifying the restored stores against the manifest');
  const begun = Date.now();
  const problems: string[] = [];
  const recall: RecallComparison[] = [];
  if (manifest.stores.postgres) {
    const v = await verifyPostgres(ctx, manifest.stores.postgres, tolerance);
    problems.push(...v.problems);
    recall.push(...v.recall.map((r) => ({ store: 'postgres' as const, ...r })));
  }
  const milvus = manifest.stores.milvus;
  if (milvus)
    await stack.with(stack.milvus(), async (client) => {
      for (const record of milvus.collections) {
        const v = await verifyMilvusCollection(client, record, tolerance);
        problems.push(...v.problems);
        recall.push(...v.recall.map((r) => ({ store: 'milvus' as const, ...r })));
      }
    });
  if (manifest.stores.redis) problems.push(...(await verifyRedis(stack, manifest.stores.redis)));
  const verifySeconds = (Date.now() - begun) / 1000;
  if (problems.length > 0)
    throw new RestoreMismatchError(
      `restore of ${from}: the restored data does not match the manifest`,
      problems,
    );
  state.clear();
  progress.log(
    `verified in ${verifySeconds.toFixed(1)} s: counts, checksums, sampled vectors and recall match`,
  );
  return { manifest, seconds, verifySeconds, resumed, recall, warnings: checked.warnings };
}
