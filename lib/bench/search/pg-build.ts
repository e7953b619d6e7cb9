// pgvector's HNSW build with and without parallel workers, side by side on one table: the bench's own stack, the
// search bench's synthetic dataset, builds alternating between worker counts round by round (so the machine's drift
// falls on each alike). The stack's /dev/shm is sized from postgres.maintenanceWorkMemMb, which a parallel build needs.
import type { RunningStack } from '../../stack/running-stack.js';
import type { Progress } from '../../util/progress.js';
import { median } from '../../verify/recall-math.js';
import { withSearchBenchStack } from './bench-stack.js';
import { ensureSyntheticDataset } from './dataset-cache.js';
import { DEFAULT_MIXTURE } from './mixture.js';
import { pgTarget } from './pg-target.js';
import type { ScaleSpec } from './scales.js';
import { peakMemoryDuring } from './server-memory.js';

export interface PgBuildRecord {
  round: number;
  workers: number;
  ms: number;
  sizeBytes: number;
  peakMemoryMb: number | null;
}

export interface PgBuildRow {
  workers: number;
  buildsMs: number[];
  medianMs: number;
  /** The median build of the first worker count (usually 0) divided by this one's. */
  speedup: number;
  sizeMiB: number;
  peakMemoryMb: number | null;
}

export interface PgBuildReport {
  scale: string;
  rows: number;
  dimension: number;
  buildParams: { m: number; ef_construction: number };
  maintenanceWorkMemMb: number;
  sharedMemoryMb: number | undefined;
  records: PgBuildRecord[];
  summary: PgBuildRow[];
}

/** One row per worker count, in the order given; the speed-up is against the first one's median. */
export function summarisePgBuilds(records: PgBuildRecord[], workers: number[]): PgBuildRow[] {
  const rows = workers.map((w) => {
    const mine = records.filter((r) => r.workers === w);
    const peaks = mine.map((r) => r.peakMemoryMb).filter((p): p is number => p !== null);
    return {
      workers: w,
      buildsMs: mine.map((r) => r.ms),
      medianMs: median(mine.map((r) => r.ms)),
      speedup: 1,
      sizeMiB: median(mine.map((r) => r.sizeBytes)) / 2 ** 20,
      peakMemoryMb: peaks.length > 0 ? Math.max(...peaks) : null,
    };
  });
  for (const row of rows) row.speedup = rows[0]!.medianMs / row.medianMs;
  return rows;
}

export async function runPgBuildBench(options: {
  scale: ScaleSpec;
  workers: number[];
  rounds: number;
  progress: Progress;
}): Promise<PgBuildReport> {
  const { scale, workers, rounds, progress } = options;
  const { dataset } = await ensureSyntheticDataset(scale, DEFAULT_MIXTURE, { progress });
  return withSearchBenchStack(progress, async (stack: RunningStack, deployment) => {
    const { postgres } = stack.config;
    const shm = deployment.specs.find((s) => s.name === 'postgres')?.sharedMemoryMb;
    return stack.with(stack.postgres({ role: 'admin' }), async (admin) => {
      const targets = workers.map((w) =>
        pgTarget(stack, admin, dataset.base, scale, {
          maintenanceWorkMem: `${postgres.maintenanceWorkMemMb}MB`,
          maintenanceWorkers: w,
        }),
      );
      const first = targets[0]!;
      progress.log(`pgvector: loading ${dataset.base.count} vectors`);
      await first.load();
      const plan = first.plans().find((p) => p.index === 'hnsw')!;
      const records: PgBuildRecord[] = [];
      try {
        for (let round = 1; round <= rounds; round++)
          for (const [i, target] of targets.entries()) {
            const { value, peakMb } = await peakMemoryDuring(
              target.container,
              progress.heartbeat(
                `round ${round}: HNSW build, ${workers[i]} parallel worker(s)`,
                target.build(plan),
                30,
              ),
            );
            records.push({
              round,
              workers: workers[i]!,
              ms: value.buildMs,
              sizeBytes: value.sizeBytes ?? 0,
              peakMemoryMb: peakMb,
            });
            progress.log(
              `round ${round}: ${workers[i]} worker(s): ${(value.buildMs / 1000).toFixed(1)} s, peak ${peakMb?.toFixed(0) ?? '?'} MiB`,
            );
          }
      } finally {
        await first.drop();
      }
      return {
        scale: scale.name,
        rows: dataset.base.count,
        dimension: dataset.base.dimension,
        buildParams: plan.buildParams as { m: number; ef_construction: number },
        maintenanceWorkMemMb: postgres.maintenanceWorkMemMb,
        sharedMemoryMb: shm,
        records,
        summary: summarisePgBuilds(records, workers),
      };
    });
  });
}
