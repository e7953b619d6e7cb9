import { ConsistencyLevelEnum, DataType, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import { milvusOk } from '../verify/milvus-store.js';
import {
  type ChromaSpace,
  METRICS,
  MILVUS_PREFIX,
  milvusCollection,
  TransferError,
  type TransferRecord,
  targetLabel,
} from './model.js';
import type {
  CollectionPlan,
  ExistingCollection,
  ImportedCollection,
  Neighbour,
  TargetSink,
} from './sink.js';

/** Milvus VarChar fields hold at most this many bytes. */
export const MILVUS_VARCHAR_MAX = 65_535;

const SPACE_OF_METRIC: Record<string, ChromaSpace> = { L2: 'l2', IP: 'ip', COSINE: 'cosine' };

/**
 * Milvus home of imported collections: one collection per Chroma collection, `chroma_<name>`, with `id` VarChar
 * primary key, `embedding` FloatVector(d), `document` VarChar, `has_document` Bool (Milvus 2.3 has no nullable
 * fields: a null document is '' with has_document false) and `metadata` JSON ({} for none). Index: FLAT with the
 * mapped metric, so searches are exact (Chroma-sized collections; see docs/migration.md for switching to HNSW).
 * Resume: rows are written in the source's order one batch per call, so the row count is the resume point; the batch
 * before it is upserted again (idempotent), later batches are inserted.
 */
export class MilvusSink implements TargetSink {
  readonly target = 'milvus' as const;
  /** Per collection: pages below this offset may already be there and are upserted. */
  private readonly upsertBelow = new Map<string, number>();

  constructor(private readonly client: MilvusClient) {}

  label(chromaName: string): string {
    return targetLabel('milvus', chromaName);
  }

  async existing(chromaName: string): Promise<ExistingCollection | undefined> {
    const name = milvusCollection(chromaName);
    const has = await this.client.hasCollection({ collection_name: name });
    milvusOk(has.status, `hasCollection ${name}`);
    if (!has.value) return undefined;
    const described = await this.client.describeCollection({ collection_name: name });
    milvusOk(described.status, `describeCollection ${name}`);
    const field = described.schema.fields.find((f) => f.name === 'embedding');
    const dim = Number(field?.type_params?.find((p) => p.key === 'dim')?.value ?? field?.dim ?? -1);
    const index = await this.client.describeIndex({ collection_name: name, field_name: 'embedding' });
    const metric = index.index_descriptions?.[0]?.params.find((p) => p.key === 'metric_type')?.value;
    await this.ensureLoaded(name);
    return {
      dimension: dim,
      space: metric ? SPACE_OF_METRIC[String(metric)] : undefined,
      rows: await this.count(chromaName),
    };
  }

  async prepare(plan: CollectionPlan): Promise<void> {
    const name = milvusCollection(plan.chromaName);
    const has = await this.client.hasCollection({ collection_name: name });
    if (!has.value) {
      milvusOk(
        await this.client.createCollection({
          collection_name: name,
          description: `imported from Chroma collection ${plan.chromaName}`.slice(0, 250),
          fields: [
            {
              name: 'id',
              data_type: DataType.VarChar,
              is_primary_key: true,
              autoID: false,
              max_length: MILVUS_VARCHAR_MAX,
            },
            { name: 'embedding', data_type: DataType.FloatVector, dim: plan.dimension },
            { name: 'document', data_type: DataType.VarChar, max_length: MILVUS_VARCHAR_MAX },
            { name: 'has_document', data_type: DataType.Bool },
            { name: 'metadata', data_type: DataType.JSON },
          ],
          consistency_level: 'Strong',
        }),
        `createCollection ${name}`,
      );
    }
    const index = await this.client.describeIndex({ collection_name: name, field_name: 'embedding' });
    if (!index.index_descriptions?.length)
      milvusOk(
        await this.client.createIndex({
          collection_name: name,
          field_name: 'embedding',
          index_type: 'FLAT',
          metric_type: METRICS[plan.space].milvusMetric,
          params: {},
        }),
        `createIndex FLAT on ${name}`,
      );
    await this.ensureLoaded(name);
  }

  private async ensureLoaded(name: string): Promise<void> {
    const state = await this.client.getLoadState({ collection_name: name });
    if (String(state.state) !== 'LoadStateLoaded')
      milvusOk(await this.client.loadCollectionSync({ collection_name: name }), `load ${name}`);
  }

  async resumeOffset(plan: CollectionPlan, pageSize: number): Promise<number> {
    const rows = await this.count(plan.chromaName);
    // All there already: a full pass of upserts. Otherwise continue one page before the count, upserting up to it.
    const resume = rows >= plan.count ? 0 : Math.max(0, rows - pageSize);
    this.upsertBelow.set(plan.chromaName, rows >= plan.count ? Number.POSITIVE_INFINITY : rows);
    return resume;
  }

  async write(plan: CollectionPlan, offset: number, records: TransferRecord[]): Promise<void> {
    const name = milvusCollection(plan.chromaName);
    const data = records.map((r) => {
      if (
        Buffer.byteLength(r.id) > MILVUS_VARCHAR_MAX ||
        (r.document !== null && Buffer.byteLength(r.document) > MILVUS_VARCHAR_MAX)
      )
        throw new TransferError(
          `collection ${plan.chromaName}: record ${JSON.stringify(r.id.slice(0, 80))}: id or document longer than Milvus's VarChar limit of ${MILVUS_VARCHAR_MAX} bytes`,
        );
      return {
        id: r.id,
        embedding: Array.from(r.embedding),
        document: r.document ?? '',
        has_document: r.document !== null,
        metadata: r.metadata ?? {},
      };
    });
    const upsert = offset < (this.upsertBelow.get(plan.chromaName) ?? 0);
    const result = upsert
      ? await this.client.upsert({ collection_name: name, data })
      : await this.client.insert({ collection_name: name, data });
    milvusOk(result.status, `${upsert ? 'upsert' : 'insert'} into ${name}`);
    const counts = result as unknown as { upsert_cnt?: number | string; insert_cnt?: number | string };
    const accepted = Number(upsert ? counts.upsert_cnt : counts.insert_cnt);
    if (accepted !== records.length)
      throw new TransferError(
        `milvus ${upsert ? 'upsert' : 'insert'} into ${name}: ${accepted} of ${records.length} rows accepted`,
      );
  }

  async finish(plan: CollectionPlan): Promise<string> {
    const name = milvusCollection(plan.chromaName);
    const started = performance.now();
    milvusOk((await this.client.flushSync({ collection_names: [name] })).status, `flush ${name}`);
    await this.ensureLoaded(name);
    return `FLAT ${METRICS[plan.space].milvusMetric}, flushed (${((performance.now() - started) / 1000).toFixed(1)}s)`;
  }

  async count(chromaName: string): Promise<number> {
    const name = milvusCollection(chromaName);
    const result = await this.client.query({
      collection_name: name,
      expr: '',
      output_fields: ['count(*)'],
      consistency_level: ConsistencyLevelEnum.Strong,
    });
    milvusOk(result.status, `count ${name}`);
    return Number((result.data[0] as Record<string, unknown>)['count(*)']);
  }

  async fetch(chromaName: string, ids: string[]): Promise<Map<string, TransferRecord>> {
    const name = milvusCollection(chromaName);
    const out = new Map<string, TransferRecord>();
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const result = await this.client.query({
        collection_name: name,
        expr: `id in [${chunk.map((id) => JSON.stringify(id)).join(',')}]`,
        output_fields: ['id', 'embedding', 'document', 'has_document', 'metadata'],
        limit: chunk.length * 2,
        consistency_level: ConsistencyLevelEnum.Strong,
      });
      milvusOk(result.status, `query ${name}`);
      for (const row of result.data as MilvusRow[]) {
        if (out.has(row.id))
          throw new TransferError(`milvus ${name}: id ${JSON.stringify(row.id)} is stored more than once`);
        out.set(row.id, fromRow(row));
      }
    }
    return out;
  }

  async exactSearch(
    chromaName: string,
    space: ChromaSpace,
    vectors: Float32Array[],
    k: number,
  ): Promise<Neighbour[][]> {
    const name = milvusCollection(chromaName);
    const index = await this.client.describeIndex({ collection_name: name, field_name: 'embedding' });
    const kind =
      index.index_descriptions?.[0]?.index_name &&
      index.index_descriptions[0].params.find((p) => p.key === 'index_type')?.value;
    if (kind && kind !== 'FLAT')
      throw new TransferError(
        `milvus ${name}: index ${kind} is approximate; exact verification needs its FLAT index (docs/migration.md)`,
      );
    const out: Neighbour[][] = [];
    for (let i = 0; i < vectors.length; i += 16) {
      const batch = vectors.slice(i, i + 16);
      const found = await this.client.search({
        collection_name: name,
        data: batch.map((v) => Array.from(v)),
        limit: k,
        metric_type: METRICS[space].milvusMetric,
        params: {},
        output_fields: ['id'],
        consistency_level: ConsistencyLevelEnum.Strong,
      });
      milvusOk(found.status, `search ${name}`);
      const results = (batch.length === 1 ? [found.results] : found.results) as unknown as {
        id: string;
        score: number;
      }[][];
      for (const hits of results) out.push(hits.map((h) => ({ id: String(h.id), distance: h.score })));
    }
    return out;
  }

  async imported(): Promise<ImportedCollection[]> {
    const list = await this.client.listCollections();
    milvusOk(list.status, 'listCollections');
    const out: ImportedCollection[] = [];
    for (const { name } of list.data) {
      if (!name.startsWith(MILVUS_PREFIX)) continue;
      const described = await this.client.describeCollection({ collection_name: name });
      const chromaName = DESCRIPTION.exec(described.schema.description ?? '')?.[1];
      if (!chromaName || milvusCollection(chromaName) !== name) continue;
      const existing = await this.existing(chromaName);
      if (existing?.space) out.push({ chromaName, space: existing.space, dimension: existing.dimension });
    }
    return out.sort((a, b) => a.chromaName.localeCompare(b.chromaName));
  }

  /** Primary-key cursor pages (Milvus returns a limited query's rows in primary-key order). */
  async *scan(chromaName: string, pageSize: number): AsyncGenerator<TransferRecord[]> {
    const name = milvusCollection(chromaName);
    let last: string | null = null;
    for (let guard = 0; guard < 100_000_000; guard++) {
      const result = await this.client.query({
        collection_name: name,
        expr: last === null ? 'id != ""' : `id > ${JSON.stringify(last)}`,
        output_fields: ['id', 'embedding', 'document', 'has_document', 'metadata'],
        limit: pageSize,
        consistency_level: ConsistencyLevelEnum.Strong,
      });
      milvusOk(result.status, `query ${name}`);
      const rows = (result.data as MilvusRow[]).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      if (rows.length === 0) return;
      last = rows[rows.length - 1]!.id;
      yield rows.map(fromRow);
      if (rows.length < pageSize) return;
    }
  }

  async close(): Promise<void> {}
}

interface MilvusRow {
  id: string;
  embedding: number[];
  document: string;
  has_document: boolean;
  metadata: Record<string, unknown> | null;
}

function fromRow(row: MilvusRow): TransferRecord {
  return {
    id: row.id,
    embedding: Float32Array.from(row.embedding),
    document: row.has_document ? row.document : null,
    metadata: row.metadata && Object.keys(row.metadata).length > 0 ? row.metadata : null,
  };
}

const DESCRIPTION = /^imported from Chroma collection (\S+)$/;
