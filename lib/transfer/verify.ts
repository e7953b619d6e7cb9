import type { Progress } from '../util/progress.js';
import type { ChromaSource, SourceCollection } from './chroma-source.js';
import { chromaDistance, recordDifferences, topKAgreement } from './compare.js';
import type { TargetSink } from './sink.js';

export interface VerifyOptions {
  /** Records compared per round trip. @default 1000 */
  pageSize?: number;
  /** Stored vectors used as queries for the neighbour agreement. @default 100 */
  sample?: number;
  /** @default 10 */
  k?: number;
  /** Minimum mean top-k agreement between Chroma's query and the target's exact query. @default 0.99 */
  gate?: number;
  progress?: Progress;
}

export interface Verification {
  collection: string;
  target: string;
  sourceCount: number;
  targetCount: number;
  /** Records compared field by field. */
  compared: number;
  /** Records whose copy is missing or differs, with the differing fields (first 10 kept). */
  differing: { id: string; fields: string[] }[];
  differingCount: number;
  /** Mean top-k agreement of Chroma's own query with the target's exact query, over `queries` stored vectors. */
  agreement: number;
  queries: number;
  k: number;
  gate: number;
  ok: boolean;
  problems: string[];
}

/** Evenly spread positions of `sample` records among `count` (all when fewer). */
export function samplePositions(count: number, sample: number): Set<number> {
  const n = Math.min(count, sample);
  const out = new Set<number>();
  for (let i = 0; i < n; i++) out.add(Math.floor((i * count) / n));
  return out;
}

/**
 * Checks a target's copy of a collection against the source: the same number of records, every source record
 * present with a bit-identical float32 embedding, the same document and deep-equal metadata (so, with equal counts
 * and a primary key on id, the id sets are equal), and the top-k neighbours of sampled stored vectors: Chroma's own
 * query against the target's exact search.
 */
export async function verifyCollection(
  source: ChromaSource,
  collection: SourceCollection,
  sink: TargetSink,
  options: VerifyOptions = {},
): Promise<Verification> {
  const k = options.k ?? 10;
  const gate = options.gate ?? 0.99;
  const label = sink.label(collection.name);
  const sourceCount = await source.client.count(collection.info);
  const targetCount = await sink.count(collection.name);
  const positions = samplePositions(sourceCount, options.sample ?? 100);
  const queries: Float32Array[] = [];
  const differing: Verification['differing'] = [];
  let differingCount = 0;
  let compared = 0;
  for await (const page of source.pages(collection, { pageSize: options.pageSize ?? 1000 })) {
    const copies = await sink.fetch(
      collection.name,
      page.records.map((r) => r.id),
    );
    page.records.forEach((record, i) => {
      if (positions.has(page.offset + i)) queries.push(record.embedding);
      const fields = recordDifferences(record, copies.get(record.id));
      if (fields.length > 0) {
        differingCount++;
        if (differing.length < 10) differing.push({ id: record.id, fields });
      }
    });
    compared += page.records.length;
  }
  options.progress?.log(
    `${collection.name} → ${label}: compared ${compared} records, ${differingCount} differ; querying ${queries.length} samples`,
  );

  let agreement = 1;
  const depth = Math.min(k, sourceCount);
  if (queries.length > 0 && depth > 0) {
    const sum = { value: 0 };
    for (let i = 0; i < queries.length; i += 25) {
      const batch = queries.slice(i, i + 25);
      const chroma = await source.query(collection, batch, depth);
      const exact = await sink.exactSearch(collection.name, collection.space, batch, depth);
      const exactIds = [...new Set(exact.flatMap((hits) => hits.map((h) => h.id)))];
      const exactRecords = await sink.fetch(collection.name, exactIds);
      batch.forEach((q, j) => {
        const embeddings = new Map<string, Float32Array>();
        chroma[j]!.ids.forEach((id, n) => {
          const e = chroma[j]!.embeddings[n];
          if (e) embeddings.set(id, e);
        });
        for (const [id, r] of exactRecords) embeddings.set(id, r.embedding);
        sum.value += topKAgreement({
          source: chroma[j]!.ids,
          exact: exact[j]!.map((h) => h.id),
          k: depth,
          distanceOf: (id) => {
            const e = embeddings.get(id);
            return e ? chromaDistance(collection.space, q, e) : undefined;
          },
        });
      });
    }
    agreement = sum.value / queries.length;
  }
  const problems: string[] = [];
  if (targetCount !== sourceCount)
    problems.push(`${label} holds ${targetCount} records, the source ${sourceCount}`);
  if (differingCount > 0)
    problems.push(
      `${differingCount} record(s) missing or different in ${label}; first: ${differing
        .slice(0, 5)
        .map((d) => `${JSON.stringify(d.id)} (${d.fields.join(', ')})`)
        .join('; ')}`,
    );
  if (agreement < gate)
    problems.push(
      `top-${depth} agreement of Chroma's query with ${label}'s exact search is ${agreement.toFixed(4)} (gate ${gate})`,
    );
  return {
    collection: collection.name,
    target: label,
    sourceCount,
    targetCount,
    compared,
    differing,
    differingCount,
    agreement,
    queries: queries.length,
    k: depth,
    gate,
    ok: problems.length === 0,
    problems,
  };
}
