import { describe, expect, it } from 'vitest';
import { type PgBuildRecord, summarisePgBuilds } from '../../lib/bench/search/pg-build.js';

const record = (round: number, workers: number, ms: number, peak: number | null = 900): PgBuildRecord => ({
  round,
  workers,
  ms,
  sizeBytes: 100 * 2 ** 20,
  peakMemoryMb: peak,
});

describe('summarisePgBuilds', () => {
  it('gives one row per worker count in the order asked, medians and the speed-up against the first', () => {
    const rows = summarisePgBuilds(
      [record(1, 0, 30_000), record(1, 1, 18_000, 1200), record(2, 0, 34_000), record(2, 1, 16_000, null)],
      [0, 1],
    );
    expect(rows.map((r) => [r.workers, r.buildsMs, r.medianMs, r.peakMemoryMb])).toEqual([
      [0, [30_000, 34_000], 32_000, 900],
      [1, [18_000, 16_000], 17_000, 1200],
    ]);
    expect(rows[0]!.speedup).toBe(1);
    expect(rows[1]!.speedup).toBeCloseTo(32 / 17, 6);
    expect(rows[1]!.sizeMiB).toBe(100);
  });

  it('takes the middle build of an odd count and reports no peak when none was read', () => {
    const [row] = summarisePgBuilds([record(1, 2, 5), record(2, 2, 1, null), record(3, 2, 9, null)], [2]);
    expect(row!.medianMs).toBe(5);
    expect(summarisePgBuilds([record(1, 0, 1, null)], [0])[0]!.peakMemoryMb).toBeNull();
  });
});
