// Taking a backup set: every enabled store in turn into one owner-only directory, then manifest.json (written last,
// sealed). A set without a manifest is incomplete and restore refuses it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../paths.js';
import type { RunningStack } from '../../stack/running-stack.js';
import { Progress } from '../../util/progress.js';
import { backupId, type FileEntry, ownerOnlyDir } from './files.js';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  type UnsealedManifest,
  writeManifest,
} from './manifest.js';
import { backupMilvus } from './milvus.js';
import { backupPostgres } from './postgres.js';
import { backupRedis } from './redis.js';
import {
  BackupError,
  type BackupStore,
  DEFAULT_RECALL_K,
  DEFAULT_RECALL_QUERIES,
  type StoreContext,
} from './types.js';

export interface BackupOptions {
  stack: RunningStack;
  /** Parent directory of the set; the set is `<to>/<UTC timestamp>/`. @default <stateDir>/backups */
  to?: string;
  /** @default new Progress() (stderr) */
  progress?: Progress;
  /** Sampled queries per vector index or collection. @default 20 */
  recallQueries?: number;
  /** @default 10 */
  recallK?: number;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

export interface BackupResult {
  dir: string;
  manifest: Manifest;
  /** Seconds each store took. */
  seconds: Partial<Record<BackupStore, number>>;
}

/** Where sets of an environment go by default. */
export function defaultBackupRoot(stack: RunningStack): string {
  return path.join(stack.deployment.stateDir, 'backups');
}

/** Versions of the kit and its clients, recorded in every manifest. */
export function kitVersions(): Manifest['kit'] {
  const read = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  return {
    version: read(path.join(REPO_ROOT, 'package.json')),
    node: process.version,
    milvusSdk: read(path.join(REPO_ROOT, 'node_modules', '@zilliz', 'milvus2-sdk-node', 'package.json')),
  };
}

export async function takeBackup(options: BackupOptions): Promise<BackupResult> {
  const { stack } = options;
  const progress = options.progress ?? new Progress();
  const started = (options.now ?? (() => new Date()))();
  const id = backupId(started);
  const dir = path.resolve(options.to ?? defaultBackupRoot(stack), id);
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new BackupError(`backup directory ${dir} already exists and is not empty`, {
      remedy: 'wait a second and run again, or pass another --to',
    });
  ownerOnlyDir(path.dirname(dir));
  ownerOnlyDir(dir);
  const ctx: StoreContext = {
    stack,
    progress,
    recallQueries: options.recallQueries ?? DEFAULT_RECALL_QUERIES,
    recallK: options.recallK ?? DEFAULT_RECALL_K,
  };
  const config = stack.config;
  const stores: UnsealedManifest['stores'] = {};
  const files: FileEntry[] = [];
  const seconds: BackupResult['seconds'] = {};
  const timed = async <T extends { files: FileEntry[] }>(store: BackupStore, work: () => Promise<T>) => {
    const begun = Date.now();
    progress.log(`${store}: backing up`);
    const result = await work();
    files.push(...result.files);
    seconds[store] = (Date.now() - begun) / 1000;
    progress.log(`${store}: done in ${seconds[store]!.toFixed(1)} s`);
    return result;
  };
  if (config.postgres.enabled)
    stores.postgres = (await timed('postgres', () => backupPostgres(ctx, dir))).section;
  if (config.milvus.enabled) stores.milvus = (await timed('milvus', () => backupMilvus(ctx, dir))).section;
  if (config.redis.enabled) stores.redis = (await timed('redis', () => backupRedis(ctx, dir))).section;
  const manifest = writeManifest(dir, {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    id,
    startedAt: started.toISOString(),
    completedAt: new Date().toISOString(),
    environment: config.environment,
    project: config.project,
    target: stack.deployment.target,
    kit: kitVersions(),
    images: { ...stack.deployment.images },
    stores,
    files,
  });
  progress.log(`backup set ${dir}: manifest written`);
  return { dir, manifest, seconds };
}
