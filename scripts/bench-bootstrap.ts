#!/usr/bin/env tsx
// npm run bench:bootstrap [-- --env local] [--rounds 3] [--json]: times a fresh bootstrap and a no-op re-run side by
// side, in this process (no tsx start-up in the figures), against the environment's running stack. It bootstraps into
// its own schema and prefix (bench_bootstrap / bench_) and removes them afterwards.
import { bootstrap } from '../lib/bootstrap/index.js';
import { removeBootstrapObjects } from '../lib/bootstrap/teardown.js';
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { openStack } from '../lib/targets/index.js';
import { renderTable } from '../lib/util/table.js';
import { median } from '../lib/verify/recall-math.js';

const USAGE = 'usage: npm run bench:bootstrap -- [--env local] [--rounds 3] [--json]';
const NAMES = { postgresSchema: 'bench_bootstrap', prefix: 'bench_' };
const GOALS_MS = { fresh: 10_000, rerun: 3_000 };

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env', 'rounds'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const rounds = Number(flags.rounds ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20)
    throw new UsageError(`--rounds ${flags.rounds}: allowed values: 1-20`);
  const stack = await openStack({ env: flags.env });
  const run = async () => {
    const started = performance.now();
    const result = await bootstrap({ stack, ...NAMES });
    return { ms: performance.now() - started, actions: result.applied.length };
  };
  const fresh: number[] = [];
  const rerun: number[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      await removeBootstrapObjects(stack, NAMES);
      const first = await run();
      const second = await run();
      if (first.actions === 0 || second.actions !== 0)
        throw new Error(
          `round ${round}: fresh applied ${first.actions}, re-run ${second.actions} (expected >0, 0)`,
        );
      fresh.push(first.ms);
      rerun.push(second.ms);
      process.stderr.write(
        `round ${round}: fresh ${Math.round(first.ms)} ms (${first.actions} actions), re-run ${Math.round(second.ms)} ms\n`,
      );
    }
  } finally {
    await removeBootstrapObjects(stack, NAMES).finally(() => stack.close());
  }
  const row = (name: keyof typeof GOALS_MS, xs: number[]) => ({
    phase: name === 'fresh' ? 'fresh bootstrap' : 'no-op re-run',
    medianMs: Math.round(median(xs)),
    minMs: Math.round(Math.min(...xs)),
    maxMs: Math.round(Math.max(...xs)),
    goalMs: GOALS_MS[name],
    met: median(xs) <= GOALS_MS[name],
  });
  const rows = [row('fresh', fresh), row('rerun', rerun)];
  const ratio = median(fresh) / median(rerun);
  if (flags.json) {
    console.log(JSON.stringify({ rounds, rows, ratio: Number(ratio.toFixed(2)) }, null, 2));
  } else {
    console.log(
      renderTable(
        ['phase', 'median ms', 'min ms', 'max ms', 'goal ms', 'met'],
        rows.map((r) => [r.phase, r.medianMs, r.minMs, r.maxMs, r.goalMs, r.met ? 'yes' : 'NO']),
      ),
    );
    console.log(`fresh / re-run ratio: ${ratio.toFixed(1)}x over ${rounds} round(s)`);
  }
  return rows.every((r) => r.met) ? 0 : 1;
});
