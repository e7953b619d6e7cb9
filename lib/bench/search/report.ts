// The search bench's report as text: dataset, loads, builds, the sweep, speed-ups and recommended settings.
import { readFileSync } from 'node:fs';
import { VectorstackError } from '../../errors.js';
import { renderTable } from '../../util/table.js';
import { batchOf } from './recommend.js';
import type { SearchBenchReport } from './run.js';

/** A saved run (`bench-search-<scale>.json`), checked for the parts the tables and the plot read. */
export function readSearchBenchReport(file: string): SearchBenchReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new VectorstackError(`--report ${file}: not a readable JSON file (${(error as Error).message})`);
  }
  const report = parsed as Partial<SearchBenchReport>;
  const missing = (
    ['points', 'builds', 'loads', 'speedups', 'recommendations', 'dataset', 'k'] as const
  ).filter((key) => report[key] === undefined);
  if (missing.length > 0)
    throw new VectorstackError(`--report ${file}: not a bench:search report (missing ${missing.join(', ')})`);
  return report as SearchBenchReport;
}

const mib = (bytes: number | null) => (bytes === null ? '?' : (bytes / 2 ** 20).toFixed(0));
const s = (ms: number | null) => (ms === null ? '—' : (ms / 1000).toFixed(1));
const setting = (p: { param: string | null; value: number | null; effectiveValue: number | null }) =>
  p.param === null
    ? '—'
    : `${p.param}=${p.value}${p.effectiveValue !== p.value ? ` (sent ${p.effectiveValue})` : ''}`;

export function searchBenchText(report: SearchBenchReport): string {
  const d = report.dataset;
  const lines: string[] = [];
  lines.push(
    `dataset ${d.name} (${d.kind}): ${d.base} base + ${d.queries} queries x ${d.dimension}d, L2, exact ground truth depth ${d.depth}${d.reused ? ' (cached, checksums verified)' : ` (generated in ${d.generateSeconds.toFixed(1)}s, ground truth ${d.groundTruthSeconds.toFixed(1)}s with ${d.groundTruthWorkers} worker(s))`}`,
    `  ${d.distribution}`,
    `  ${d.dir}`,
    `queries per measurement: ${report.queryBounds.ann} (HNSW, IVF), ${report.queryBounds.exact} (exact scan), at least two requests per client; warm-up ${report.queryBounds.warmup}; k=${report.k}; clients ${report.concurrency.join(', ')} (each its own connection); queries per request (nq) ${(report.batches ?? [1]).join(', ')} (pgvector: 1)`,
    `machine: ${report.machine.cpus} cores, ${report.machine.memoryGiB} GiB; load average ${report.machine.loadAverageStart.map((v) => v.toFixed(1)).join(' ')} at start, ${report.machine.loadAverageEnd.map((v) => v.toFixed(1)).join(' ')} at end`,
    '',
    renderTable(
      ['store', 'load method', 'rows', 's', 'vectors/s', 'compaction after the load (not in s)'],
      report.loads.map((l) => [
        l.store,
        l.method,
        l.rows,
        s(l.ms),
        Math.round(l.vectorsPerSecond),
        l.settled
          ? `${l.settled.segmentsBefore} -> ${l.settled.segments} segments in ${s(l.settled.ms)} s (${l.settled.rounds} rounds)`
          : '—',
      ]),
    ),
    renderTable(
      [
        'store',
        'index',
        'build params',
        'build s',
        'load s',
        'size MiB',
        'size source',
        'segments',
        'server MiB',
        'peak MiB',
      ],
      report.builds.map((b) => [
        b.store,
        b.label,
        Object.entries(b.buildParams)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || '—',
        b.index === 'exact' && b.buildMs === 0 ? '—' : s(b.buildMs),
        s(b.loadMs),
        b.index === 'exact' && b.store === 'pgvector' ? '—' : mib(b.sizeBytes),
        b.sizeSource,
        b.segments ?? '—',
        b.memoryMb?.toFixed(0) ?? '?',
        b.peakMemoryMb?.toFixed(0) ?? '?',
      ]),
    ),
    renderTable(
      [
        'store',
        'index',
        'setting',
        'clients',
        'nq',
        'queries',
        `recall@${report.k}`,
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'QPS',
      ],
      report.points.map((p) => [
        p.store,
        p.label,
        setting(p),
        p.clients,
        batchOf(p),
        p.queries,
        p.recall.toFixed(4),
        p.p50Ms.toFixed(2),
        p.p95Ms.toFixed(2),
        p.p99Ms.toFixed(2),
        p.qps.toFixed(1),
      ]),
    ),
    `HNSW vs exact scan at recall@${report.k} >= ${report.targetRecall} (fastest HNSW setting reaching it, same client count and queries per request, nq):`,
    renderTable(
      ['store', 'clients', 'nq', 'HNSW setting', `recall@${report.k}`, 'HNSW QPS', 'exact QPS', 'ratio'],
      report.speedups.map((x) => [
        x.store,
        x.clients,
        x.batch ?? 1,
        x.hnsw ? setting({ ...x.hnsw, effectiveValue: x.hnsw.value }) : 'none reached the target',
        x.hnsw?.recall.toFixed(4) ?? '—',
        x.hnsw?.qps.toFixed(1) ?? '—',
        x.exact?.qps.toFixed(1) ?? '—',
        x.ratio === null ? '—' : `${x.ratio.toFixed(1)}x`,
      ]),
    ),
    `Recommended search settings (smallest swept value with recall@${report.k} >= ${report.targetRecall} there and at every larger value):`,
    renderTable(
      ['store', 'index', 'parameter', 'value', `recall@${report.k}`, 'QPS (fewest clients)', 'p99 ms'],
      report.recommendations.map((r) => [
        r.store,
        r.index,
        r.param,
        r.value ?? `none (largest swept ${r.largest.value}: ${r.largest.recall.toFixed(4)})`,
        r.recall?.toFixed(4) ?? '—',
        r.qps?.toFixed(1) ?? '—',
        r.p99Ms?.toFixed(2) ?? '—',
      ]),
    ),
  );
  if (!report.exactRecallOk)
    lines.push(
      `WARNING: an exact scan scored recall@${report.k} below 0.999 against the ground truth: check the dataset`,
    );
  return lines.join('\n');
}
