// Milvus in a backup set. milvus-backup (the binlog-level tool) is not obtainable here (see docs/backup.md), so
// collections are exported through the proxy: schema, partitions, aliases and index definitions from the describe
// calls, rows by paged primary-key queries (`pk > last`, strongly consistent, in key order) into row files, vectors as
// float32. Restore creates each collection again, inserts the rows, flushes, builds the recorded indexes, waits for
// them, loads, and verifies rows, sampled vectors and recall against the manifest.
import { createHash, type Hash } from 'node:crypto';
import path from 'node:path';
import { ConsistencyLevelEnum, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import { indexSettings } from '../../milvus/index-settings.js';
import { indexesBuilt } from '../../milvus/readiness.js';
import { checkStatus } from '../../milvus/status.js';
import { waitFor } from '../../util/poll.js';
import { type FileEntry, fileEntry, ownerOnlyDir } from './files.js';
import type {
  MilvusCollectionRecord,
  MilvusFieldRecord,
  MilvusSection,
  RecallRecord,
  RecallSample,
} from './manifest.js';
import {
  meanRecall,
  recallDifferences,
  samplePositions,
  score,
  TopK,
  type VectorMetric,
  vectorSha256,
} from './recall.js';
import { type Row, RowFileWriter, readRowFile, type VectorColumn } from './row-file.js';
import { BackupError, canonicalJson, compareVersions, type StoreContext } from './types.js';

export const MILVUS_EXPORTER = 'vectorstack paged primary-key query export, row files VSROWS1';

/** Field types the exporter reads and writes; anything else (sparse, float16 vectors) is refused by name. */
const SUPPORTED_TYPES = new Set([
  'Bool',
  'Int8',
  'Int16',
  'Int32',
  'Int64',
  'Float',
  'Double',
  'VarChar',
  'JSON',
  'Array',
  'FloatVector',
  'BinaryVector',
]);

/** Bytes a page of rows should stay under (Milvus caps a query at 16,384 rows). */
const PAGE_BYTES = 4 * 1024 * 1024;
const MAX_PAGE_ROWS = 16_384;
const STRONG = ConsistencyLevelEnum.Strong;

/** Index builds on large collections take minutes on 2 cores; this only bounds a hung build. */
const INDEX_TIMEOUT_MS = 2 * 3600_000;

const DEFAULT_PARTITION = '_default';

/** The vector columns of a collection, for the row files. */
function vectorColumns(fields: MilvusFieldRecord[]): VectorColumn[] {
  return fields
    .filter((f) => f.dataType === 'FloatVector' || f.dataType === 'BinaryVector')
    .map((f) => ({
      name: f.name,
      kind: f.dataType === 'FloatVector' ? 'float' : 'binary',
      dim: Number(f.typeParams.dim),
    }));
}

function primaryKey(fields: MilvusFieldRecord[]): MilvusFieldRecord {
  const pk = fields.find((f) => f.primaryKey);
  if (!pk) throw new BackupError('milvus: a collection without a primary key field');
  return pk;
}

/** A primary-key value as a literal of a Milvus boolean expression. */
function keyLiteral(pk: MilvusFieldRecord, value: string): string {
  return pk.dataType === 'Int64' ? value : JSON.stringify(value);
}

/** Milvus orders Int64 keys numerically and VarChar keys by their UTF-8 bytes. */
function keyAfter(pk: MilvusFieldRecord, a: string, b: string): boolean {
  return pk.dataType === 'Int64' ? BigInt(a) > BigInt(b) : Buffer.compare(Buffer.from(a), Buffer.from(b)) > 0;
}

/**
 * The checksum's row encoding: every schema field in schema order, then the dynamic field, each length-prefixed;
 * vectors as float32 little-endian (binary vectors as bytes), Int64 as decimal, JSON and arrays as canonical JSON.
 */
function hashRow(hash: Hash, fields: MilvusFieldRecord[], dynamic: boolean, row: Row): void {
  const part = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  };
  for (const f of fields) {
    const value = row[f.name];
    if (f.dataType === 'FloatVector') {
      const values = value as ArrayLike<number>;
      const bytes = Buffer.alloc(values.length * 4);
      for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i]!, i * 4);
      part(bytes);
    } else if (f.dataType === 'BinaryVector') part(Buffer.from(value as number[]));
    else if (f.dataType === 'Int64') part(Buffer.from(String(value)));
    else part(Buffer.from(canonicalJson(value ?? null)));
  }
  if (dynamic) part(Buffer.from(canonicalJson(row.$meta ?? {})));
}

/** Search-time parameters of the recall measurement, per index type (recorded in the manifest). */
function searchParamsFor(indexType: string, k: number): Record<string, number> {
  if (indexType === 'HNSW') return { ef: Math.max(64, k) };
  if (indexType.startsWith('IVF')) return { nprobe: 16 };
  if (indexType === 'DISKANN') return { search_list: Math.max(64, k) };
  return {};
}

async function use(client: MilvusClient, database: string): Promise<void> {
  await client.useDatabase({ db_name: database });
}

async function listDatabases(client: MilvusClient): Promise<string[]> {
  const listed = await client.listDatabases();
  if (listed.status && listed.status.error_code !== 'Success' && listed.status.code !== 0) return ['default'];
  return listed.db_names?.length ? [...listed.db_names].sort() : ['default'];
}

/** The collection's definition as the manifest records it (rows, checksum and files filled in by the export). */
async function describe(client: MilvusClient, database: string, name: string) {
  const d = await client.describeCollection({ collection_name: name });
  checkStatus(d.status, `describeCollection ${database}/${name}`);
  const fields: MilvusFieldRecord[] = [];
  for (const f of d.schema.fields) {
    if (f.is_dynamic) continue;
    const dataType = String(f.data_type);
    if (!SUPPORTED_TYPES.has(dataType))
      throw new BackupError(
        `milvus: ${database}/${name}: field ${f.name} has type ${dataType}, which this exporter does not handle (supported: ${[...SUPPORTED_TYPES].join(', ')})`,
      );
    const typeParams: Record<string, string> = {};
    for (const p of f.type_params ?? []) typeParams[String(p.key)] = String(p.value);
    fields.push({
      name: f.name,
      dataType,
      primaryKey: Boolean(f.is_primary_key),
      autoID: Boolean(f.autoID),
      partitionKey: Boolean(f.is_partition_key),
      description: f.description ?? '',
      typeParams,
      ...(f.element_type && f.element_type !== 'None' ? { elementType: String(f.element_type) } : {}),
    });
  }
  const indexes: MilvusCollectionRecord['indexes'] = [];
  const described = await client.describeIndex({ collection_name: name });
  if (described.index_descriptions?.length) {
    for (const i of described.index_descriptions) {
      const { index_type, metric_type, ...params } = indexSettings(i.params);
      indexes.push({
        indexName: i.index_name,
        fieldName: i.field_name,
        indexType: index_type ?? '',
        ...(metric_type ? { metricType: metric_type } : {}),
        params,
      });
    }
  }
  const partitions = await client.showPartitions({ collection_name: name });
  checkStatus(partitions.status, `showPartitions ${database}/${name}`);
  const state = await client.getLoadState({ collection_name: name });
  const properties: Record<string, string> = {};
  for (const p of d.properties ?? []) properties[String(p.key)] = String(p.value);
  return {
    database,
    name,
    description: d.schema.description ?? '',
    fields,
    enableDynamicField: Boolean(d.schema.enable_dynamic_field),
    shardsNum: Number(d.shards_num ?? 1),
    consistencyLevel: String(d.consistency_level ?? 'Bounded'),
    ...(fields.some((f) => f.partitionKey) ? { numPartitions: Number(d.num_partitions) } : {}),
    properties,
    aliases: [...(d.aliases ?? [])].sort(),
    partitions: [...partitions.partition_names].sort(),
    indexes,
    loaded: String(state.state) === 'LoadStateLoaded',
  };
}

async function countRows(client: MilvusClient, name: string): Promise<number> {
  const res = await client.query({
    collection_name: name,
    expr: '',
    output_fields: ['count(*)'],
    consistency_level: STRONG,
  });
  checkStatus(res.status, `count ${name}`);
  return Number((res.data[0] as Record<string, unknown>)['count(*)']);
}

/**
 * Every row of a collection (or of one partition), page by page in primary-key order: each page asks for keys
 * greater than the last one seen. Fails if the server ever returns keys out of order (the paging would miss rows).
 */
async function* pages(
  client: MilvusClient,
  record: Pick<MilvusCollectionRecord, 'name' | 'fields' | 'database'>,
  partition: string | null,
): AsyncGenerator<Row[]> {
  const pk = primaryKey(record.fields);
  const bytesPerRow =
    256 +
    vectorColumns(record.fields).reduce((s, v) => s + (v.kind === 'float' ? v.dim * 4 : v.dim / 8) * 3, 0);
  const limit = Math.max(100, Math.min(MAX_PAGE_ROWS, Math.floor(PAGE_BYTES / bytesPerRow)));
  let last: string | null = null;
  for (;;) {
    const res = await client.query({
      collection_name: record.name,
      ...(partition ? { partition_names: [partition] } : {}),
      expr: last === null ? '' : `${pk.name} > ${keyLiteral(pk, last)}`,
      output_fields: ['*'],
      limit,
      consistency_level: STRONG,
    });
    checkStatus(res.status, `query ${record.database}/${record.name}`);
    const rows = res.data as Row[];
    if (rows.length === 0) return;
    for (const row of rows) {
      const key = String(row[pk.name]);
      if (last !== null && !keyAfter(pk, key, last))
        throw new BackupError(
          `milvus: ${record.database}/${record.name}: the server returned key ${key} after ${last}; paged export needs rows in key order`,
        );
      last = key;
    }
    yield rows;
    if (rows.length < limit) return;
  }
}

/** Parts of a collection: one per partition, or the whole collection when a partition key routes rows itself. */
function partsOf(record: Pick<MilvusCollectionRecord, 'fields' | 'partitions'>): (string | null)[] {
  if (record.fields.some((f) => f.partitionKey)) return [null];
  return record.partitions.length <= 1 ? [null] : record.partitions;
}

/** The metric of a float-vector index, when recall can be computed for it here. */
function vectorMetric(metric: string | undefined): VectorMetric | null {
  return metric === 'L2' || metric === 'IP' || metric === 'COSINE' ? metric : null;
}

async function searchIds(
  client: MilvusClient,
  record: Pick<MilvusCollectionRecord, 'name' | 'fields'>,
  field: string,
  metric: string,
  params: Record<string, number>,
  vector: number[],
  k: number,
): Promise<string[]> {
  const pk = primaryKey(record.fields);
  const res = await client.search({
    collection_name: record.name,
    anns_field: field,
    data: [vector],
    limit: k,
    params,
    metric_type: metric,
    output_fields: [pk.name],
    consistency_level: STRONG,
  });
  checkStatus(res.status, `search ${record.name}`);
  // The key comes back under its field name when it is an output field, else as `id`.
  return (res.results as Row[]).map((r) => String(r[pk.name] ?? r.id));
}

/** Exact neighbours of the samples by a pass over the row files, then the index's answers for the same queries. */
async function measureRecall(
  client: MilvusClient,
  record: MilvusCollectionRecord,
  files: string[],
  samples: Map<string, { id: string; vector: number[] }[]>,
  k: number,
): Promise<RecallRecord[]> {
  const pk = primaryKey(record.fields);
  const columns = vectorColumns(record.fields);
  const measured: { index: MilvusCollectionRecord['indexes'][number]; metric: VectorMetric }[] = [];
  for (const index of record.indexes) {
    const metric = vectorMetric(index.metricType);
    if (metric && columns.some((c) => c.name === index.fieldName && c.kind === 'float'))
      measured.push({ index, metric });
  }
  if (measured.length === 0) return [];
  const tops = measured.map(({ index }) => (samples.get(index.fieldName) ?? []).map(() => new TopK(k)));
  for (const file of files)
    for (const rows of readRowFile(file, columns))
      for (const row of rows) {
        const id = String(row[pk.name]);
        for (const [m, { index, metric }] of measured.entries()) {
          const vector = row[index.fieldName] as number[];
          for (const [i, q] of samples.get(index.fieldName)!.entries())
            tops[m]![i]!.offer(id, score(metric, q.vector, vector));
        }
      }
  const out: RecallRecord[] = [];
  for (const [m, { index, metric }] of measured.entries()) {
    const queries = samples.get(index.fieldName) ?? [];
    if (queries.length === 0) continue;
    const searchParams = searchParamsFor(index.indexType, k);
    const found: RecallSample[] = [];
    for (const [i, q] of queries.entries())
      found.push({
        id: q.id,
        vectorSha256: vectorSha256(q.vector),
        exact: tops[m]![i]!.ids(),
        found: await searchIds(client, record, index.fieldName, metric, searchParams, q.vector, k),
      });
    out.push({
      target: `${record.database}/${record.name}.${index.fieldName}`,
      index: `${index.indexName}: ${index.indexType} ${canonicalJson(index.params)}`,
      metric,
      searchParams,
      k,
      samples: found,
      recall: meanRecall(found, k),
    });
  }
  return out;
}

/** Loads a collection for the duration of `work` when it is not loaded, and releases it afterwards. */
async function whileLoaded<T>(
  client: MilvusClient,
  record: { name: string; database: string; loaded: boolean },
  work: () => Promise<T>,
): Promise<T> {
  if (!record.loaded) {
    const loaded = await client.loadCollectionSync({ collection_name: record.name });
    checkStatus(loaded, `load ${record.database}/${record.name} (to read it; released afterwards)`);
  }
  try {
    return await work();
  } finally {
    if (!record.loaded) await client.releaseCollection({ collection_name: record.name }).catch(() => {});
  }
}

/** Exports every collection of every database into row files, with counts, checksums and recall. */
export async function backupMilvus(
  ctx: StoreContext,
  setDir: string,
): Promise<{ section: MilvusSection; files: FileEntry[] }> {
  const { stack, progress } = ctx;
  return stack.with(stack.milvus(), async (client) => {
    const version = await client.getVersion();
    const users = await client.listUsers();
    const collections: MilvusCollectionRecord[] = [];
    const files: FileEntry[] = [];
    for (const database of await listDatabases(client)) {
      await use(client, database);
      const shown = await client.showCollections();
      checkStatus(shown.status, `showCollections in ${database}`);
      for (const name of shown.data.map((c) => c.name).sort()) {
        const base = await describe(client, database, name);
        // Milvus reads rows only from a loaded collection, and loads one only when each vector field has an index.
        const unindexed = vectorColumns(base.fields).filter(
          (v) => !base.indexes.some((i) => i.fieldName === v.name),
        );
        if (!base.loaded && unindexed.length > 0)
          throw new BackupError(
            `milvus: ${database}/${name}: vector field(s) ${unindexed.map((v) => v.name).join(', ')} have no index, so Milvus cannot load the collection to read its rows; the backup set is incomplete (no manifest)`,
            {
              remedy: `create an index on ${unindexed.map((v) => v.name).join(', ')} of ${name} (or drop the collection), then run the backup again`,
            },
          );
        const record = await whileLoaded(client, base, async () => {
          const pk = primaryKey(base.fields);
          const dynamic = base.enableDynamicField;
          const columns = vectorColumns(base.fields);
          const before = await countRows(client, name);
          const positions = new Set(samplePositions(before, ctx.recallQueries));
          const samples = new Map<string, { id: string; vector: number[] }[]>(
            columns.map((c) => [c.name, []]),
          );
          const hash = createHash('sha256');
          const dir = ownerOnlyDir(path.join(setDir, 'milvus', database, name));
          const parts: MilvusCollectionRecord['parts'] = [];
          const written: string[] = [];
          let position = 0;
          for (const partition of partsOf(base)) {
            const file = path.join(dir, `${partition ?? 'all'}.rows`);
            const writer = new RowFileWriter(file, columns);
            try {
              for await (const rows of pages(client, base, partition)) {
                writer.write(rows);
                for (const row of rows) {
                  hashRow(hash, base.fields, dynamic, row);
                  if (positions.has(position))
                    for (const c of columns)
                      if (c.kind === 'float')
                        samples
                          .get(c.name)!
                          .push({ id: String(row[pk.name]), vector: row[c.name] as number[] });
                  position++;
                }
                if (writer.rows % 50_000 < rows.length)
                  progress.log(`milvus: ${database}/${name}: ${position}/${before} row(s) exported`);
              }
            } finally {
              writer.close();
            }
            parts.push({
              partition,
              file: path.relative(setDir, file).split(path.sep).join('/'),
              rows: writer.rows,
            });
            written.push(file);
          }
          const after = await countRows(client, name);
          if (before === after && position !== before)
            throw new BackupError(
              `milvus: ${database}/${name}: exported ${position} row(s) but the collection holds ${before}; the paged export missed rows`,
            );
          if (before !== after)
            progress.log(
              `milvus: ${database}/${name}: the row count changed during the export (${before} → ${after}): writes were running; ${position} row(s) exported`,
            );
          const partial = { ...base, rows: position, sha256: hash.digest('hex'), parts, recall: [] };
          const recall = await measureRecall(client, partial, written, samples, ctx.recallK);
          for (const r of recall) progress.log(`milvus: recall@${r.k} ${r.recall.toFixed(4)} on ${r.target}`);
          for (const file of written) files.push(await fileEntry(setDir, file));
          return { ...partial, recall };
        });
        progress.log(
          `milvus: ${database}/${name}: ${record.rows} row(s), ${record.indexes.length} index(es)`,
        );
        collections.push(record);
      }
    }
    await use(client, 'default');
    return {
      section: {
        serverVersion: String(version.version ?? 'unknown'),
        exporter: MILVUS_EXPORTER,
        users: [...(users.usernames ?? [])].sort(),
        collections,
      },
      files,
    };
  });
}

/** Collections in the target that hold rows, e.g. `default/rag_chunks: 2000 row(s)` (the server's statistics). */
export async function milvusData(
  client: MilvusClient,
): Promise<{ found: string[]; rowsOf: Map<string, number>; version: string }> {
  const version = String((await client.getVersion()).version ?? 'unknown');
  const found: string[] = [];
  const rowsOf = new Map<string, number>();
  for (const database of await listDatabases(client)) {
    await use(client, database);
    const shown = await client.showCollections();
    checkStatus(shown.status, `showCollections in ${database}`);
    for (const { name } of shown.data) {
      const stats = await client.getCollectionStatistics({ collection_name: name });
      checkStatus(stats.status, `getCollectionStatistics ${database}/${name}`);
      const rows = Number(stats.data.row_count ?? 0);
      rowsOf.set(`${database}/${name}`, rows);
      if (rows > 0) found.push(`${database}/${name}: ${rows} row(s)`);
    }
  }
  await use(client, 'default');
  return { found, rowsOf, version };
}

/** Refusals for a Milvus target: a newer server in the backup, missing users (a warning, returned apart). */
export async function checkMilvusTarget(
  client: MilvusClient,
  section: MilvusSection,
): Promise<{ problems: string[]; warnings: string[]; found: string[] }> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const { found, version } = await milvusData(client);
  if (compareVersions(section.serverVersion, version) > 0)
    problems.push(
      `milvus: the backup comes from Milvus ${section.serverVersion}, newer than the target's ${version}: restore into the same or a newer Milvus`,
    );
  const users = new Set((await client.listUsers()).usernames ?? []);
  const missing = section.users.filter((u) => !users.has(u));
  if (missing.length > 0)
    warnings.push(
      `milvus: user(s) ${missing.join(', ')} do not exist on the target (users are not in the backup; npm run bootstrap creates the kit's)`,
    );
  for (const c of section.collections)
    if (c.fields.some((f) => f.autoID))
      warnings.push(
        `milvus: ${c.database}/${c.name} has an autoID primary key; it is restored with autoID off so every row keeps its key`,
      );
  return { problems, warnings, found };
}

/** Waits until every index of the restored collection is built over all its rows (lib/milvus/readiness.ts). */
async function waitForIndexes(
  ctx: StoreContext,
  client: MilvusClient,
  record: MilvusCollectionRecord,
): Promise<void> {
  if (record.indexes.length === 0) return;
  await waitFor(
    `milvus: ${record.database}/${record.name}: index build`,
    () => indexesBuilt(client, record.name),
    {
      timeoutMs: INDEX_TIMEOUT_MS,
      intervalMs: 1000,
      onWait: (state, elapsed) => {
        if (Math.round(elapsed / 1000) % 30 === 0)
          ctx.progress.log(`milvus: ${record.name}: building indexes (${state})`);
      },
    },
  );
}

const numeric = (params: Record<string, string>) =>
  Object.fromEntries(Object.entries(params).map(([k, v]) => [k, /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v]));

/**
 * Restores one collection: drops what the target has under its name (preflight made sure it holds no data, or --force
 * was given), creates it as recorded, inserts every row file, flushes, builds and awaits the indexes, creates the
 * aliases, and loads it.
 */
export async function restoreMilvusCollection(
  ctx: StoreContext,
  client: MilvusClient,
  record: MilvusCollectionRecord,
  setDir: string,
): Promise<void> {
  const { progress } = ctx;
  const label = `${record.database}/${record.name}`;
  const databases = await listDatabases(client);
  if (!databases.includes(record.database))
    checkStatus(
      await client.createDatabase({ db_name: record.database }),
      `createDatabase ${record.database}`,
    );
  await use(client, record.database);
  const exists = await client.hasCollection({ collection_name: record.name });
  if (exists.value) {
    const d = await client.describeCollection({ collection_name: record.name });
    for (const alias of d.aliases ?? []) await client.dropAlias({ alias });
    checkStatus(await client.dropCollection({ collection_name: record.name }), `dropCollection ${label}`);
  }
  const created = await client.createCollection({
    collection_name: record.name,
    description: record.description,
    fields: record.fields.map((f) => ({
      name: f.name,
      description: f.description,
      data_type: f.dataType as never,
      ...(f.elementType ? { element_type: f.elementType as never } : {}),
      is_primary_key: f.primaryKey,
      is_partition_key: f.partitionKey,
      autoID: false,
      type_params: f.typeParams,
    })),
    enable_dynamic_field: record.enableDynamicField,
    shards_num: record.shardsNum,
    consistency_level: record.consistencyLevel,
    ...(record.numPartitions ? { num_partitions: record.numPartitions } : {}),
  });
  checkStatus(created, `createCollection ${label}`);
  if (Object.keys(record.properties).length > 0)
    checkStatus(
      await client.alterCollectionProperties({ collection_name: record.name, properties: record.properties }),
      `alterCollectionProperties ${label}`,
    );
  if (!record.fields.some((f) => f.partitionKey))
    for (const partition of record.partitions)
      if (partition !== DEFAULT_PARTITION)
        checkStatus(
          await client.createPartition({ collection_name: record.name, partition_name: partition }),
          `createPartition ${label}/${partition}`,
        );
  const columns = vectorColumns(record.fields);
  let inserted = 0;
  for (const part of record.parts) {
    for (const rows of readRowFile(path.join(setDir, part.file), columns)) {
      const data = rows.map((row) => {
        const { $meta, ...fields } = row;
        return { ...(($meta as Row | undefined) ?? {}), ...fields };
      });
      const res = await client.insert({
        collection_name: record.name,
        ...(part.partition ? { partition_name: part.partition } : {}),
        data: data as never,
      });
      checkStatus(res.status, `insert into ${label}`);
      if (Number(res.insert_cnt) !== data.length)
        throw new BackupError(`milvus: ${label}: ${res.insert_cnt} of ${data.length} row(s) accepted`);
      inserted += data.length;
      if (inserted % 50_000 < data.length)
        progress.log(`milvus: ${label}: ${inserted}/${record.rows} row(s) inserted`);
    }
  }
  await client.flushSync({ collection_names: [record.name] });
  for (const index of record.indexes)
    checkStatus(
      await client.createIndex({
        collection_name: record.name,
        field_name: index.fieldName,
        index_name: index.indexName,
        ...(index.indexType ? { index_type: index.indexType } : {}),
        ...(index.metricType ? { metric_type: index.metricType } : {}),
        params: numeric(index.params),
      }),
      `createIndex ${label}.${index.fieldName}`,
    );
  progress.log(`milvus: ${label}: ${inserted} row(s) inserted, building ${record.indexes.length} index(es)`);
  await waitForIndexes(ctx, client, record);
  for (const alias of record.aliases) {
    const res = await client.createAlias({ collection_name: record.name, alias });
    if (res.error_code !== 'Success')
      checkStatus(await client.alterAlias({ collection_name: record.name, alias }), `alias ${alias}`);
  }
  checkStatus(await client.loadCollectionSync({ collection_name: record.name }), `load ${label}`);
  await use(client, 'default');
}

/** Compares a restored collection with the manifest: count, checksum of every row, sampled vectors, recall. */
export async function verifyMilvusCollection(
  client: MilvusClient,
  record: MilvusCollectionRecord,
  recallTolerance: number,
): Promise<{ problems: string[]; recall: { target: string; before: number; after: number }[] }> {
  const label = `milvus: ${record.database}/${record.name}`;
  const problems: string[] = [];
  const recall: { target: string; before: number; after: number }[] = [];
  await use(client, record.database);
  try {
    const has = await client.hasCollection({ collection_name: record.name });
    if (!has.value) return { problems: [`${label}: missing after the restore`], recall };
    const live = await describe(client, record.database, record.name);
    await whileLoaded(client, { ...live, loaded: true }, async () => {
      const hash = createHash('sha256');
      let rows = 0;
      for (const partition of partsOf(record))
        for await (const page of pages(client, record, partition)) {
          for (const row of page) hashRow(hash, record.fields, record.enableDynamicField, row);
          rows += page.length;
        }
      const sha = hash.digest('hex');
      if (rows !== record.rows) problems.push(`${label}: ${rows} row(s), the manifest says ${record.rows}`);
      else if (sha !== record.sha256)
        problems.push(
          `${label}: rows differ (SHA-256 ${sha.slice(0, 12)}… vs ${record.sha256.slice(0, 12)}…)`,
        );
      const pk = primaryKey(record.fields);
      for (const before of record.recall) {
        const field = before.target.slice(before.target.lastIndexOf('.') + 1);
        const ids = before.samples.map((s) => keyLiteral(pk, s.id));
        const res = await client.query({
          collection_name: record.name,
          expr: `${pk.name} in [${ids.join(', ')}]`,
          output_fields: [pk.name, field],
          consistency_level: STRONG,
        });
        checkStatus(res.status, `query samples of ${record.name}`);
        const byId = new Map((res.data as Row[]).map((r) => [String(r[pk.name]), r[field] as number[]]));
        const after: RecallSample[] = [];
        for (const s of before.samples) {
          const vector = byId.get(s.id);
          if (!vector) problems.push(`${label}: sampled row ${s.id} missing`);
          else if (vectorSha256(vector) !== s.vectorSha256)
            problems.push(`${label}: sampled row ${s.id}: vector differs from the backup's`);
          else
            after.push({
              ...s,
              found: await searchIds(
                client,
                record,
                field,
                before.metric,
                before.searchParams,
                vector,
                before.k,
              ),
            });
        }
        if (after.length !== before.samples.length) continue;
        recall.push({ target: before.target, before: before.recall, after: meanRecall(after, before.k) });
        problems.push(...recallDifferences(before, after, recallTolerance).map((p) => `milvus: ${p}`));
      }
    });
    if (!record.loaded) await client.releaseCollection({ collection_name: record.name });
  } finally {
    await use(client, 'default');
  }
  return { problems, recall };
}
