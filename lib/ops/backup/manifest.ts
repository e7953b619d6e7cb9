// manifest.json of a backup set: what each store held (counts, checksums, versions, recall at backup time), every
// data file with its size and SHA-256, and a seal over the whole. Reading one checks all of it before anything is
// restored: a missing or edited manifest, a missing, truncated or altered file is an error naming the file.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type FileEntry, sha256File, writeOwnerOnly } from './files.js';
import { BackupSetError, canonicalJson } from './types.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'vectorstack-backup';
export const MANIFEST_VERSION = 1;

const fileEntry = z.object({
  path: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string(),
});

/** One sampled query: the row it came from, its exact neighbours and what the index returned, at backup time. */
const recallSample = z.object({
  /** Primary key of the row whose vector is the query. */
  id: z.string(),
  /** SHA-256 of the query vector's float32 bytes (little-endian): the row must come back bit-identical. */
  vectorSha256: z.string(),
  /** Exact k nearest ids (brute force, ties by primary key), nearest first. */
  exact: z.array(z.string()),
  /** Ids the index returned, best first. */
  found: z.array(z.string()),
});

const recallRecord = z.object({
  /** What was searched: `schema.table.column` or `database/collection.field`. */
  target: z.string(),
  /** The index searched: name and kind with its build parameters. */
  index: z.string(),
  metric: z.string(),
  /** Search-time parameters used (hnsw.ef_search, ef, nprobe, ...), reused by the restore's measurement. */
  searchParams: z.record(z.string(), z.number()),
  k: z.number().int().positive(),
  samples: z.array(recallSample),
  /** Mean over samples of |found ∩ exact| / k. */
  recall: z.number(),
});

const postgresSection = z.object({
  serverVersion: z.string(),
  serverVersionNum: z.number().int(),
  pgDumpVersion: z.string(),
  database: z.string(),
  /** Transaction start of the dump (its snapshot). */
  snapshotAt: z.string(),
  extensions: z.array(z.object({ name: z.string(), version: z.string(), schema: z.string() })),
  /** Cluster-wide roles the dump refers to (owners, grants); restore needs them to exist (bootstrap creates them). */
  roles: z.array(z.string()),
  dump: z.string(),
  tocEntries: z.number().int().positive(),
  tables: z.array(
    z.object({
      schema: z.string(),
      name: z.string(),
      rows: z.number().int().nonnegative(),
      orderBy: z.array(z.string()),
      sha256: z.string(),
    }),
  ),
  recall: z.array(recallRecord),
});

const milvusField = z.object({
  name: z.string(),
  dataType: z.string(),
  primaryKey: z.boolean(),
  autoID: z.boolean(),
  partitionKey: z.boolean(),
  description: z.string(),
  typeParams: z.record(z.string(), z.string()),
  elementType: z.string().optional(),
});

const milvusCollection = z.object({
  database: z.string(),
  name: z.string(),
  description: z.string(),
  fields: z.array(milvusField),
  enableDynamicField: z.boolean(),
  shardsNum: z.number().int(),
  consistencyLevel: z.string(),
  numPartitions: z.number().int().optional(),
  properties: z.record(z.string(), z.string()),
  aliases: z.array(z.string()),
  partitions: z.array(z.string()),
  indexes: z.array(
    z.object({
      indexName: z.string(),
      fieldName: z.string(),
      indexType: z.string(),
      metricType: z.string().optional(),
      params: z.record(z.string(), z.string()),
    }),
  ),
  /** Loaded for search at backup time: restore loads it again (and releases one that was not). */
  loaded: z.boolean(),
  rows: z.number().int().nonnegative(),
  sha256: z.string(),
  /** Row files, one per partition exported (paths relative to the set). */
  parts: z.array(z.object({ partition: z.string().nullable(), file: z.string(), rows: z.number().int() })),
  recall: z.array(recallRecord),
});

const milvusSection = z.object({
  serverVersion: z.string(),
  /** How the rows were read: milvus-backup, or paged primary-key queries (see docs/backup.md). */
  exporter: z.string(),
  users: z.array(z.string()),
  collections: z.array(milvusCollection),
});

const redisSection = z.object({
  serverVersion: z.string(),
  rdb: z.string(),
  /** When the server finished the snapshot (LASTSAVE). */
  savedAt: z.string(),
  /** Memory the snapshot takes once loaded (a server started on the file): restore checks the target's maxmemory. */
  usedMemoryBytes: z.number().int().nonnegative(),
  aclUsers: z.array(z.string()),
  digest: z.string(),
  databases: z.array(z.object({ db: z.number().int(), keys: z.number().int(), digest: z.string() })),
});

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  formatVersion: z.literal(MANIFEST_VERSION),
  id: z.string(),
  startedAt: z.string(),
  completedAt: z.string(),
  environment: z.string(),
  project: z.string(),
  target: z.string(),
  kit: z.object({ version: z.string(), node: z.string(), milvusSdk: z.string() }),
  images: z.record(z.string(), z.string()),
  stores: z.object({
    postgres: postgresSection.optional(),
    milvus: milvusSection.optional(),
    redis: redisSection.optional(),
  }),
  files: z.array(fileEntry),
  /** SHA-256 of the canonical JSON of every other field: an edit after the backup breaks it. */
  seal: z.string(),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type UnsealedManifest = Omit<Manifest, 'seal'>;
export type PostgresSection = z.infer<typeof postgresSection>;
export type MilvusSection = z.infer<typeof milvusSection>;
export type MilvusCollectionRecord = z.infer<typeof milvusCollection>;
export type MilvusFieldRecord = z.infer<typeof milvusField>;
export type RedisSection = z.infer<typeof redisSection>;
export type RecallRecord = z.infer<typeof recallRecord>;
export type RecallSample = z.infer<typeof recallSample>;

export function sealOf(manifest: UnsealedManifest): string {
  const { seal: _ignored, ...rest } = manifest as Manifest;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** Writes manifest.json last (0600): a set without one is incomplete. */
export function writeManifest(setDir: string, manifest: UnsealedManifest): Manifest {
  const sealed: Manifest = { ...manifest, seal: sealOf(manifest) };
  writeOwnerOnly(path.join(setDir, MANIFEST_FILE), `${JSON.stringify(sealed, null, 2)}\n`);
  return sealed;
}

/**
 * Reads and checks a backup set: the manifest parses, its seal matches, and every file it lists exists with its size
 * and SHA-256. Every problem found is reported at once, each naming its file.
 */
export async function readBackupSet(setDir: string): Promise<Manifest> {
  const file = path.join(setDir, MANIFEST_FILE);
  if (!existsSync(setDir) || !statSync(setDir).isDirectory())
    throw new BackupSetError(`backup set ${setDir} does not exist or is not a directory`);
  if (!existsSync(file))
    throw new BackupSetError(`backup set ${setDir}: ${MANIFEST_FILE} is missing`, {
      problems: [
        `${file}: not found; a set without a manifest is incomplete (the backup did not finish) or not a vectorstack backup`,
      ],
      remedy: 'restore from a complete set (npm run backup writes the manifest last)',
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new BackupSetError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  const checked = manifestSchema.safeParse(parsed);
  if (!checked.success)
    throw new BackupSetError(`${file}: not a vectorstack backup manifest (format ${MANIFEST_VERSION})`, {
      problems: checked.error.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`),
    });
  const manifest = checked.data;
  const expected = sealOf(manifest);
  if (expected !== manifest.seal)
    throw new BackupSetError(`${file} was edited after the backup (its seal does not match its content)`, {
      problems: [
        `${file}: seal ${manifest.seal.slice(0, 12)}… but the content hashes to ${expected.slice(0, 12)}…; counts, checksums or versions in it can no longer be trusted`,
      ],
      remedy: 'restore from an unmodified copy of the set',
    });
  const problems: string[] = [];
  for (const entry of manifest.files) {
    const at = path.join(setDir, entry.path);
    if (!existsSync(at)) {
      problems.push(`${at}: missing (the manifest lists ${entry.bytes} bytes)`);
      continue;
    }
    const size = statSync(at).size;
    if (size !== entry.bytes) {
      problems.push(
        `${at}: ${size} bytes, the manifest says ${entry.bytes}: ${size < entry.bytes ? 'truncated' : 'altered'}`,
      );
      continue;
    }
    const sha = await sha256File(at);
    if (sha !== entry.sha256)
      problems.push(
        `${at}: SHA-256 ${sha.slice(0, 12)}… differs from the manifest's ${entry.sha256.slice(0, 12)}…`,
      );
  }
  if (problems.length > 0)
    throw new BackupSetError(`backup set ${setDir}: ${problems.length} file(s) do not match the manifest`, {
      problems,
      remedy: 'restore from an intact copy of the set',
    });
  return manifest;
}

/** The manifest entry for a path relative to the set; a set that lists no such file is malformed. */
export function listedFile(manifest: Manifest, relative: string): FileEntry {
  const entry = manifest.files.find((f) => f.path === relative);
  if (!entry) throw new BackupSetError(`manifest lists no file ${relative}`);
  return entry;
}
