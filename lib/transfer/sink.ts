import type { ChromaSpace, TargetName, TransferRecord } from './model.js';

/** What an import writes into: the plan of one collection, as the source describes it. */
export interface CollectionPlan {
  chromaName: string;
  chromaId: string;
  /** The source, for the catalog (URL or directory). */
  source: string;
  space: ChromaSpace;
  dimension: number;
  /** Records in the source when the import started. */
  count: number;
}

/** What a target holds for a collection already (from an earlier or interrupted import). */
export interface ExistingCollection {
  dimension: number;
  space: ChromaSpace | undefined;
  rows: number;
  /** Rows an interrupted import had committed (resume point); undefined when the target keeps no checkpoint. */
  checkpoint?: number;
  complete?: boolean;
}

export interface Neighbour {
  id: string;
  distance: number;
}

/** A conflict between source and target that stops the import before anything is written. */
export interface Conflict {
  field: string;
  target: string;
  source: string;
}

/** One target of an import: pgvector or Milvus. Writes are idempotent by id. */
export interface TargetSink {
  readonly target: TargetName;
  /** Where the collection lands (`pgvector imported."docs"`), for messages. */
  label(chromaName: string): string;
  existing(chromaName: string): Promise<ExistingCollection | undefined>;
  /** Creates the home of the collection when absent (schema, table or collection, catalog entry). */
  prepare(plan: CollectionPlan): Promise<void>;
  /** Where to continue: 0 for a new collection or a completed one (a full, idempotent re-run). */
  resumeOffset(plan: CollectionPlan, pageSize: number): Promise<number>;
  /** Writes one page (upsert by id) and records `offset + records.length` as done. */
  write(plan: CollectionPlan, offset: number, records: TransferRecord[]): Promise<void>;
  /** After the last page: index, flush, load, mark complete. Returns what it did for the summary. */
  finish(plan: CollectionPlan): Promise<string>;
  count(chromaName: string): Promise<number>;
  fetch(chromaName: string, ids: string[]): Promise<Map<string, TransferRecord>>;
  /** The target's exact (brute-force) top k for each vector, best first. */
  exactSearch(
    chromaName: string,
    space: ChromaSpace,
    vectors: Float32Array[],
    k: number,
  ): Promise<Neighbour[][]>;
  /** Collections imported into this target (complete ones), for the export. */
  imported(): Promise<ImportedCollection[]>;
  /** Every record of a collection in pages (constant memory). */
  scan(chromaName: string, pageSize: number): AsyncGenerator<TransferRecord[]>;
  close(): Promise<void>;
}

export interface ImportedCollection {
  chromaName: string;
  space: ChromaSpace;
  dimension: number;
}

/** The conflicts between what a target holds and what the source has (dimension, metric): empty when compatible. */
export function conflictsOf(existing: ExistingCollection, plan: CollectionPlan): Conflict[] {
  const conflicts: Conflict[] = [];
  if (existing.dimension !== plan.dimension)
    conflicts.push({
      field: 'dimension',
      target: String(existing.dimension),
      source: String(plan.dimension),
    });
  if (existing.space !== undefined && existing.space !== plan.space)
    conflicts.push({ field: 'metric', target: existing.space, source: plan.space });
  return conflicts;
}

/** The shortest decimal (at most 9 significant digits) that reads back as the float32 `x` (strtof). */
export function float32Text(x: number): string {
  if (Object.is(x, -0)) return '-0';
  if (Number.isInteger(x)) return String(x);
  for (let p = 6; p < 9; p++) {
    const shorter = +x.toPrecision(p);
    if (Math.fround(shorter) === x) return String(shorter);
  }
  return String(+x.toPrecision(9));
}

/** pgvector's text form of a float32 vector: every component reads back as the same float32. */
export function vectorLiteral(v: Float32Array): string {
  let out = '[';
  for (let i = 0; i < v.length; i++) out += `${i === 0 ? '' : ','}${float32Text(v[i]!)}`;
  return `${out}]`;
}
