// The configuration against the live stores: a vector dimension or metric that differs means the checker (and every
// application reading the configuration) talks about other vectors than the stores hold. Reported as one error
// naming each collection or table, field, and both values.
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import { MILVUS_COLLECTIONS, type MilvusFieldSpec } from '../../../schemas/milvus/collections.js';
import { postgresLayout } from '../../../schemas/postgres/layout.js';
import { layoutDifferences } from '../../bootstrap/postgres-layout.js';
import type { VectorstackConfig } from '../../config/schema.js';
import { checkStatus } from '../../milvus/status.js';
import type { VectorCollection } from './milvus-side.js';
import { ConsistencyError } from './types.js';

interface LiveField {
  name: string;
  data_type?: string;
  dim?: unknown;
  type_params?: { key: string; value: unknown }[];
  fields?: LiveField[];
}

const liveDim = (field: LiveField | undefined) =>
  field ? String(field.dim ?? field.type_params?.find((p) => p.key === 'dim')?.value ?? 'none') : 'missing';

/** Where an expected value comes from, for the message: the configuration field, or the collection spec. */
function source(collection: VectorCollection, what: 'dimension' | 'metric'): string {
  return collection.spec.name === MILVUS_COLLECTIONS.dense
    ? `in the configuration (embedding.${what})`
    : `in the collection spec (schemas/milvus/collections.ts)`;
}

/** Differences between the specs the configuration gives and the live Milvus collections: dimension and metric. */
export async function milvusMismatches(
  client: MilvusClient,
  collections: VectorCollection[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const collection of collections) {
    const described = await client.describeCollection({ collection_name: collection.name });
    checkStatus(described.status, `describeCollection ${collection.name}`);
    const live = new Map((described.schema.fields as unknown as LiveField[]).map((f) => [f.name, f]));
    const where = (field: string) => `milvus collection ${collection.name}, field ${field}`;
    const vectorFields: { path: string; spec: MilvusFieldSpec; live: LiveField | undefined }[] = [];
    for (const field of collection.spec.fields) {
      if (field.type === 'FloatVector')
        vectorFields.push({ path: field.name, spec: field, live: live.get(field.name) });
      for (const sub of field.structFields ?? [])
        if (sub.type === 'FloatVector')
          vectorFields.push({
            path: `${field.name}[${sub.name}]`,
            spec: sub,
            live: live.get(field.name)?.fields?.find((f) => f.name === sub.name),
          });
    }
    for (const field of vectorFields) {
      const actual = liveDim(field.live);
      if (actual !== String(field.spec.dim))
        problems.push(
          `${where(field.path)}: dimension ${actual} live, ${field.spec.dim} ${source(collection, 'dimension')}`,
        );
    }
    const indexes = await client.describeIndex({ collection_name: collection.name });
    for (const index of collection.spec.indexes) {
      if (!index.metric) continue;
      const found = (indexes.index_descriptions ?? []).find((d) => d.field_name === index.field);
      const metric = found?.params.find((p) => p.key === 'metric_type')?.value;
      if (found && metric !== undefined && String(metric) !== index.metric)
        problems.push(
          `${where(index.field)}: metric ${metric} live, ${index.metric} ${source(collection, 'metric')}`,
        );
    }
  }
  return problems;
}

/** The embedding column's type (its dimension) and the vector index's operator class (its metric) in PostgreSQL. */
export async function postgresMismatches(
  client: pg.Client,
  schema: string,
  config: VectorstackConfig,
): Promise<string[]> {
  const differences = await layoutDifferences(client, schema, postgresLayout(config));
  return differences
    .filter(
      (d) =>
        (d.target === `${schema}.chunk_embeddings` &&
          d.field === 'column embedding' &&
          d.actual !== 'missing') ||
        d.field === 'operator class (metric)',
    )
    .map((d) =>
      d.field === 'column embedding'
        ? `postgres table ${d.target}, column embedding: ${d.actual} live, ${d.expected} in the configuration (embedding.dimension)`
        : `postgres index ${d.target}: operator class ${d.actual} live, ${d.expected} in the configuration (embedding.metric)`,
    );
}

/** Throws one ConsistencyError listing every mismatch, or returns when there is none. */
export function throwOnMismatches(problems: string[]): void {
  if (problems.length === 0) return;
  throw new ConsistencyError('the configuration does not match the live stores', {
    problems,
    remedy:
      'point the configuration at the stores it describes (embedding.dimension, embedding.metric), or re-embed into collections of the configured shape (npm run bootstrap reports the same as drift)',
  });
}
