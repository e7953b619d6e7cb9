// A container's memory as `docker stats` reports it (the cgroup's usage less the page cache it could drop), once or
// sampled while some work runs.
import { setTimeout as sleep } from 'node:timers/promises';
import { runProcess } from '../../util/process.js';

const UNITS: Record<string, number> = {
  B: 1 / 2 ** 20,
  KiB: 1 / 1024,
  MiB: 1,
  GiB: 1024,
  TiB: 1024 * 1024,
  kB: 1e3 / 2 ** 20,
  MB: 1e6 / 2 ** 20,
  GB: 1e9 / 2 ** 20,
};

/** MiB used from docker's `{{.MemUsage}}` column (`1.234GiB / 8GiB`); null when it cannot be read. */
export function parseMemUsage(text: string): number | null {
  const match = /^\s*([\d.]+)\s*([KMGT]i?B|[kMG]B|B)\b/.exec(text);
  if (!match) return null;
  const unit = UNITS[match[2]!];
  return unit === undefined ? null : Number(match[1]) * unit;
}

export async function containerMemoryMb(container: string): Promise<number | null> {
  const result = await runProcess(
    'docker',
    ['stats', '--no-stream', '--format', '{{.MemUsage}}', container],
    {
      timeoutMs: 30_000,
    },
  );
  return result.exitCode === 0 ? parseMemUsage(result.stdout) : null;
}

/** Runs `work` while sampling the container's memory (one `docker stats` after another); returns the peak seen. */
export async function peakMemoryDuring<T>(
  container: string,
  work: Promise<T>,
): Promise<{ value: T; peakMb: number | null }> {
  let done = false;
  let peak: number | null = null;
  const sampler = (async () => {
    while (!done) {
      const mb = await containerMemoryMb(container);
      if (mb !== null) peak = Math.max(peak ?? 0, mb);
      await sleep(1000);
    }
  })();
  try {
    return { value: await work, peakMb: peak };
  } finally {
    done = true;
    await sampler;
  }
}
