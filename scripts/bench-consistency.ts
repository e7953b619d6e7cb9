#!/usr/bin/env tsx
// npm run bench:consistency [-- --chunks 1000000] [--fault-rate 0.001] [--keep-stack] [--env X] [--json]
// Time and peak RSS of `npm run consistency` (check, repair, check again) over a million chunk ids with 0.1% faults.
// Without --env it brings up a stack of its own (project vsconsist, 127.0.0.1:25951-25955, state in
// $TMPDIR/vectorstack-bench-consistency) and destroys it afterwards (--keep-stack leaves it up for the next run);
// with --env it uses that environment's running stack. Data goes to schema bench_consistency / prefix benchc_, removed
// at the end unless --keep-data; --reuse-data runs on a data set a previous --keep-data run left (faults put back).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { loadConfig } from '../lib/config/load.js';
import type { ConfigOverrides } from '../lib/config/schema.js';
import { resolveDeployment } from '../lib/deployment/resolve.js';
import { benchTable, runConsistencyBench } from '../lib/ops/consistency/bench.js';
import type { RunningStack } from '../lib/stack/running-stack.js';
import { driverFor, openStack } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';

const USAGE =
  'usage: npm run bench:consistency -- [--chunks 1000000] [--fault-rate 0.001] [--keep-stack] [--keep-data] [--reuse-data] [--env local|staging|production] [--json]';

/** The bench's own stack: a project name and ports of its own; dimension 8, since the check compares ids only. */
const BENCH_STACK_DIR = path.join(os.tmpdir(), 'vectorstack-bench-consistency');
const BENCH_STACK: ConfigOverrides = {
  project: 'vsconsist',
  embedding: { dimension: 8, metric: 'cosine' },
  postgres: { hostPort: 25951 },
  minio: { hostPort: 25952 },
  milvus: { hostPort: 25953, metricsHostPort: 25954 },
  redis: { hostPort: 25955 },
};

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['env', 'chunks', 'fault-rate'],
    boolean: ['keep-stack', 'keep-data', 'reuse-data'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  const chunks = Number(flags.chunks ?? 1_000_000);
  const faultRate = Number(flags['fault-rate'] ?? 0.001);
  if (!Number.isInteger(chunks) || chunks < 1000 || chunks > 20_000_000)
    throw new UsageError(`--chunks ${flags.chunks}: allowed values: 1000-20000000`);
  if (!(faultRate > 0 && faultRate <= 0.5))
    throw new UsageError(`--fault-rate ${flags['fault-rate']}: allowed values: above 0, at most 0.5`);
  const progress = new Progress();

  let stack: RunningStack;
  let cwd = process.cwd();
  let commandArgs = flags.env ? ['--env', String(flags.env)] : [];
  let destroy: (() => Promise<unknown>) | undefined;
  if (flags.env) {
    stack = await openStack({ env: flags.env, progress });
  } else {
    mkdirSync(BENCH_STACK_DIR, { recursive: true });
    // The command the bench runs reads the same settings from this directory (as `npm run consistency` in a project).
    writeFileSync(
      path.join(BENCH_STACK_DIR, 'vectorstack.config.json'),
      `${JSON.stringify(BENCH_STACK, null, 2)}\n`,
    );
    const config = loadConfig({ cwd: BENCH_STACK_DIR, environ: {} });
    const driver = driverFor(resolveDeployment(config, { cwd: BENCH_STACK_DIR }), { progress });
    progress.log(`bringing up the bench stack ${BENCH_STACK.project} (${BENCH_STACK_DIR})`);
    await driver.apply();
    if (!flags['keep-stack']) destroy = () => driver.destroy();
    stack = await driver.open();
    cwd = BENCH_STACK_DIR;
    commandArgs = ['--env', config.environment];
  }
  try {
    const report = await runConsistencyBench(
      stack,
      { chunks, faultRate, chunksPerDocument: 1000 },
      {
        cwd,
        commandArgs,
        progress,
        keepData: flags['keep-data'],
        reuseData: flags['reuse-data'],
      },
    );
    console.log(flags.json ? JSON.stringify(report, null, 2) : benchTable(report));
    return report.met ? 0 : 1;
  } finally {
    await stack.close();
    if (destroy) {
      progress.log(`removing the bench stack ${BENCH_STACK.project}`);
      await destroy();
    }
  }
});
