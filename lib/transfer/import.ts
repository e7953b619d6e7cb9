import { EXIT } from '../errors.js';
import { Progress } from '../util/progress.js';
import { renderTable } from '../util/table.js';
import type { ChromaSource, SourceCollection } from './chroma-source.js';
import { METRICS, TransferError } from './model.js';
import { type CollectionPlan, type Conflict, conflictsOf, type TargetSink } from './sink.js';
import { type Verification, type VerifyOptions, verifyCollection } from './verify.js';

export interface ImportOptions {
  /** Collections to move; empty: all. */
  collections?: string[];
  /** Records per page read from Chroma and written to each target. @default defaultPageSize(the collection's dimension) */
  pageSize?: number;
  /** Pages requested from Chroma ahead of the one being written (memory: readAhead + 1 pages). @default 2 */
  readAhead?: number;
  /** Plan and check only: nothing is written. */
  dryRun?: boolean;
  /** Verify what the targets hold; nothing is written. */
  verifyOnly?: boolean;
  verify?: VerifyOptions;
  progress?: Progress;
}

/** Float32 bytes of the vectors in a default page: 1.25 MiB. */
export const PAGE_VECTOR_BYTES = 1_310_720;

/**
 * Records per page when `--page-size` is not given: as many as carry PAGE_VECTOR_BYTES of float32 vectors, between
 * 1,000 and 5,000. Pages of small vectors get longer, so what every page costs (a request to Chroma, a commit, a
 * COPY or insert call) weighs less (docs/benchmarks.md, `bench:import`: at 128 dimensions, pages of 2,500 imported
 * into pgvector 1.1-1.4x faster than pages of 1,000); from 320 dimensions up a page stays at 1,000 records, so
 * memory never exceeds what pages of 1,000 took.
 */
export function defaultPageSize(dimension: number | undefined): number {
  if (!dimension || dimension < 1) return 1000;
  return Math.min(5000, Math.max(1000, Math.floor(PAGE_VECTOR_BYTES / (4 * dimension))));
}

export interface ImportRow {
  collection: string;
  target: string;
  space: string;
  metric: string;
  dimension: number | null;
  sourceCount: number;
  /** Rows written in this run (a resumed run writes fewer). */
  written: number;
  resumedFrom: number;
  seconds: number;
  vectorsPerSecond: number;
  finished: string;
  status: 'imported' | 'planned' | 'verified' | 'empty (skipped)' | 'verify-only';
  verification?: Verification;
}

export interface ImportReport {
  source: string;
  rows: ImportRow[];
  ok: boolean;
  exitCode: number;
}

/** A target holds the collection with another dimension or metric: nothing was written. */
export class TargetConflictError extends TransferError {}

export function planOf(source: ChromaSource, c: SourceCollection): CollectionPlan {
  return {
    chromaName: c.name,
    chromaId: c.info.id,
    source: source.label,
    space: c.space,
    dimension: c.dimension ?? 0,
    count: c.count,
  };
}

/**
 * Imports Chroma collections into the targets: checks every (collection, target) pair for conflicts first (nothing
 * is written when any exists), then per collection reads pages once and writes each to every target (resuming where
 * an interrupted run stopped), finishes (index, flush), and verifies each copy. Exit code: 0 ok, 2 a verification
 * mismatch.
 */
export async function runImport(
  source: ChromaSource,
  sinks: TargetSink[],
  options: ImportOptions = {},
): Promise<ImportReport> {
  const progress = options.progress ?? new Progress();
  const collections = await source.collections(options.collections ?? []);
  progress.log(
    `${source.client.describe()}: ${collections.map((c) => `${c.name} (${c.count} x ${c.dimension ?? '-'}d, ${c.space})`).join(', ') || 'no collections'}`,
  );

  const conflicts: string[] = [];
  for (const c of collections) {
    if (c.dimension === undefined) continue;
    for (const sink of sinks) {
      const existing = await sink.existing(c.name);
      if (options.verifyOnly) {
        if (!existing)
          conflicts.push(`collection ${c.name}: ${sink.label(c.name)} does not exist (nothing to verify)`);
        continue;
      }
      if (!existing) continue;
      for (const x of conflictsOf(existing, planOf(source, c)) as Conflict[])
        conflicts.push(
          `collection ${c.name}: ${sink.label(c.name)} field ${x.field}: target has ${x.target}, source has ${x.source}`,
        );
    }
  }
  if (conflicts.length > 0)
    throw new TargetConflictError(
      options.verifyOnly
        ? 'nothing to verify'
        : 'the targets hold these collections with another shape; nothing was written',
      {
        problems: conflicts,
        remedy: options.verifyOnly
          ? 'import first: npm run import:chroma -- ... (without --verify-only)'
          : 'drop the target table/collection, or import into another environment',
      },
    );

  const rows: ImportRow[] = [];
  for (const c of collections) {
    const plan = planOf(source, c);
    const base = (sink: TargetSink): ImportRow => ({
      collection: c.name,
      target: sink.label(c.name),
      space: c.space,
      metric: sink.target === 'pgvector' ? METRICS[c.space].pgOpclass : METRICS[c.space].milvusMetric,
      dimension: c.dimension ?? null,
      sourceCount: c.count,
      written: 0,
      resumedFrom: 0,
      seconds: 0,
      vectorsPerSecond: 0,
      finished: '-',
      status: 'planned',
    });
    if (c.dimension === undefined) {
      for (const sink of sinks) rows.push({ ...base(sink), status: 'empty (skipped)' });
      continue;
    }
    if (options.dryRun) {
      for (const sink of sinks) {
        const existing = await sink.existing(c.name);
        rows.push({ ...base(sink), finished: existing ? `exists: ${existing.rows} rows` : 'new' });
      }
      continue;
    }
    const current = sinks.map(base);
    if (!options.verifyOnly) {
      const pageSize = options.pageSize ?? defaultPageSize(c.dimension);
      const offsets: number[] = [];
      for (const sink of sinks) {
        await sink.prepare(plan);
        offsets.push(await sink.resumeOffset(plan, pageSize));
      }
      const start = Math.min(...offsets);
      current.forEach((row, i) => {
        row.resumedFrom = offsets[i]!;
        row.status = 'imported';
      });
      if (start > 0) progress.log(`${c.name}: resuming at record ${start} of ${c.count}`);
      const started = performance.now();
      let lastLog = started;
      let done = start;
      for await (const page of source.pages(c, { offset: start, pageSize, readAhead: options.readAhead })) {
        await Promise.all(
          sinks.map(async (sink, i) => {
            // A target ahead of the others (its own resume point) gets only the part of the page past that point.
            const skip = Math.max(0, offsets[i]! - page.offset);
            if (skip >= page.records.length) return;
            const records = skip > 0 ? page.records.slice(skip) : page.records;
            await sink.write(plan, page.offset + skip, records);
            current[i]!.written += records.length;
          }),
        );
        done = page.offset + page.records.length;
        const now = performance.now();
        if (now - lastLog > 2000 || done >= c.count) {
          lastLog = now;
          progress.log(
            `${c.name}: ${done}/${c.count} records (${Math.round(((done - start) / (now - started)) * 1000)}/s)`,
          );
        }
      }
      const seconds = (performance.now() - started) / 1000;
      for (const [i, sink] of sinks.entries()) {
        current[i]!.seconds = seconds;
        current[i]!.vectorsPerSecond = seconds > 0 ? current[i]!.written / seconds : 0;
        current[i]!.finished = await sink.finish(plan);
      }
    } else {
      for (const row of current) row.status = 'verify-only';
    }
    for (const [i, sink] of sinks.entries()) {
      progress.log(`${c.name} → ${sink.label(c.name)}: verifying`);
      current[i]!.verification = await verifyCollection(source, c, sink, { ...options.verify, progress });
      if (current[i]!.status === 'imported' && current[i]!.verification!.ok) current[i]!.status = 'verified';
    }
    rows.push(...current);
  }
  const ok = rows.every((r) => !r.verification || r.verification.ok);
  return { source: source.label, rows, ok, exitCode: ok ? EXIT.ok : EXIT.drift };
}

export function importTable(report: ImportReport): string {
  const table = renderTable(
    [
      'collection',
      'target',
      'space → metric',
      'dim',
      'source',
      'written',
      'resumed at',
      's',
      'vectors/s',
      'finish',
      'identical',
      'top-k agreement',
      'status',
    ],
    report.rows.map((r) => [
      r.collection,
      r.target,
      `${r.space} → ${r.metric}`,
      r.dimension ?? '-',
      r.sourceCount,
      r.written,
      r.resumedFrom,
      r.seconds.toFixed(1),
      Math.round(r.vectorsPerSecond),
      r.finished,
      r.verification
        ? `${r.verification.compared - r.verification.differingCount}/${r.verification.sourceCount} (target ${r.verification.targetCount})`
        : '-',
      r.verification
        ? `${r.verification.agreement.toFixed(4)} @${r.verification.k} (${r.verification.queries} q)`
        : '-',
      r.verification && !r.verification.ok ? 'MISMATCH' : r.status,
    ]),
  );
  const problems = report.rows.flatMap((r) =>
    r.verification?.ok === false ? r.verification.problems.map((p) => `${r.collection}: ${p}`) : [],
  );
  return problems.length > 0 ? `${table}\nverification failed:\n  ${problems.join('\n  ')}` : table;
}
