#!/usr/bin/env tsx
// npm run bench:up [-- --rounds 1] [--json]: cold up, no-op up and down of the local stack, side by side with
// plain `docker run` of the same images waiting for the same health checks.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dockerRunBaseline, removeBaseline } from '../lib/bench/docker-run-baseline.js';
import { parseFlags, runMain } from '../lib/cli.js';
import { loadConfig } from '../lib/config/load.js';
import { generateSecret } from '../lib/credentials.js';
import { resolveDeployment } from '../lib/deployment/resolve.js';
import { SECRET_NAMES } from '../lib/services/types.js';
import { checkSetup } from '../lib/setup/check.js';
import { driverFor } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';
import { renderTable } from '../lib/util/table.js';
import { median } from '../lib/verify/recall-math.js';

const USAGE = 'usage: npm run bench:up -- [--rounds N] [--json]';

async function timed<T>(work: () => Promise<T>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['rounds'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const rounds = Number(flags.rounds ?? 1);
  await checkSetup();
  const progress = new Progress();
  // Its own project and ports: a developer's stack keeps running undisturbed.
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'vsbench-'));
  const config = loadConfig({
    cwd,
    environ: {},
    overrides: {
      project: 'vsbench',
      postgres: { hostPort: 25601 },
      minio: { hostPort: 25602 },
      milvus: { hostPort: 25603, metricsHostPort: 25604 },
      redis: { hostPort: 25605 },
    },
  });
  const deployment = resolveDeployment(config, { cwd });
  const { specs } = deployment;
  const driver = driverFor(deployment, { progress: new Progress(undefined, false) });
  const times = {
    baseline: [] as number[],
    coldUp: [] as number[],
    noopUp: [] as number[],
    down: [] as number[],
  };
  await driver.destroy(); // what a previous run that died midway left
  try {
    for (let round = 1; round <= rounds; round++) {
      const credentials = Object.fromEntries(SECRET_NAMES.map((n) => [n, generateSecret()])) as Record<
        (typeof SECRET_NAMES)[number],
        string
      >;
      const prefix = `vsbench-baseline`;
      await removeBaseline(specs, prefix);
      progress.log(`round ${round}: baseline (docker run, wait for health)`);
      times.baseline.push(
        await timed(() => dockerRunBaseline(specs, credentials, prefix, '127.0.0.1', 300_000)),
      );
      await removeBaseline(specs, prefix);
      progress.log(`round ${round}: cold npm run up`);
      times.coldUp.push(await timed(() => driver.apply()));
      progress.log(`round ${round}: no-op npm run up`);
      times.noopUp.push(await timed(() => driver.apply()));
      progress.log(`round ${round}: npm run down`);
      times.down.push(await timed(() => driver.down()));
      await driver.destroy();
    }
  } finally {
    // Reported, not thrown: an error from the rounds above is the one to show.
    await driver.destroy().catch((error: Error) => progress.log(`destroy failed: ${error.message}`));
    await removeBaseline(specs, 'vsbench-baseline');
  }
  const base = median(times.baseline);
  const rows = [
    ['plain docker run + health (baseline)', base, 1],
    ['cold up to all-healthy', median(times.coldUp), median(times.coldUp) / base],
    ['no-op up (plan: no changes)', median(times.noopUp), median(times.noopUp) / base],
    ['down (containers removed, volumes kept)', median(times.down), median(times.down) / base],
  ] as const;
  if (flags.json) {
    console.log(JSON.stringify({ rounds, times }, null, 2));
  } else {
    console.log(
      renderTable(
        ['step', 'seconds (median)', 'ratio to baseline'],
        rows.map(([step, s, r]) => [step, s.toFixed(1), r.toFixed(2)]),
      ),
    );
    console.log(
      `goals: no-op up <= 20 s; cold up <= 1.5x baseline (${(median(times.coldUp) / base).toFixed(2)}x)`,
    );
  }
  return 0;
});
