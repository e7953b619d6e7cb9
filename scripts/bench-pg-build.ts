#!/usr/bin/env tsx
// npm run bench:pg-build -- --scale 100k|1m [--workers 0,1] [--rounds 2] [--json]
// pgvector's HNSW build with 0 and with N parallel workers, side by side on one table of the search bench's synthetic
// dataset, on the bench's own stack (project vssearch, created and destroyed here). Run it under the integration lock.
import { runPgBuildBench } from '../lib/bench/search/pg-build.js';
import { SCALES, scaleSpec } from '../lib/bench/search/scales.js';
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { Progress } from '../lib/util/progress.js';
import { renderTable } from '../lib/util/table.js';

const USAGE = `usage: npm run bench:pg-build -- --scale ${Object.keys(SCALES).join('|')} [--workers 0,1] [--rounds 2] [--json]
  --workers  parallel worker counts to compare, the first is the baseline (default 0,1; the leader builds too)
  --rounds   builds per worker count, alternating (default 2)`;

const wholeNumber = (value: string, name: string, min: number) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} takes whole numbers from ${min}, got ${value}`, { remedy: USAGE });
  return n;
};

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['scale', 'workers', 'rounds'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  if (!flags.scale) throw new UsageError('--scale is required', { remedy: USAGE });
  const workers = String(flags.workers ?? '0,1')
    .split(',')
    .map((w) => wholeNumber(w, 'workers', 0));
  const rounds = wholeNumber(String(flags.rounds ?? '2'), 'rounds', 1);
  const report = await runPgBuildBench({
    scale: scaleSpec(String(flags.scale)),
    workers,
    rounds,
    progress: new Progress(),
  });
  if (flags.json) return void console.log(JSON.stringify(report, null, 2));
  console.log(
    `pgvector HNSW build (m ${report.buildParams.m}, ef_construction ${report.buildParams.ef_construction}) of ${report.rows} x ${report.dimension}; maintenance_work_mem ${report.maintenanceWorkMemMb} MB, /dev/shm ${report.sharedMemoryMb ?? 'default'} MB`,
  );
  console.log(
    renderTable(
      ['parallel workers', 'builds (s)', 'median (s)', 'speed-up', 'index MiB', 'peak server MiB'],
      report.summary.map((r) => [
        r.workers,
        r.buildsMs.map((ms) => (ms / 1000).toFixed(1)).join(' · '),
        (r.medianMs / 1000).toFixed(1),
        `${r.speedup.toFixed(2)}x`,
        r.sizeMiB.toFixed(0),
        r.peakMemoryMb?.toFixed(0) ?? '?',
      ]),
    ),
  );
  return 0;
});
