#!/usr/bin/env tsx
// npm run restore -- --from DIR [--env local] [--force] [--json] [--recall-tolerance X]: restore a backup set into
// the environment's stores and verify it against the manifest. Exit 0 restored and verified; 1 refused or failed
// (a bad set, a newer server, data in the target: nothing restored); 2 restored but not identical to the manifest.
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { restoreTable } from '../lib/ops/backup/report.js';
import { restoreBackup } from '../lib/ops/backup/restore.js';
import { openStack } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';

const USAGE = `usage: npm run restore -- --from DIR [--env local|staging|production] [--force] [--json] [--recall-tolerance X]
  --from              the backup set (a directory holding manifest.json)
  --force             replace data the target already holds (named first); without it such a target is refused
  --recall-tolerance  accepted drop of recall@10 below its value at backup time (default 0.01; 0: not lower)`;

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['env', 'from', 'recall-tolerance'],
    boolean: ['force'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  if (!flags.from) throw new UsageError('--from DIR is required', { remedy: USAGE });
  const tolerance = flags['recall-tolerance'] === undefined ? undefined : Number(flags['recall-tolerance']);
  if (tolerance !== undefined && !(tolerance >= 0 && tolerance <= 1))
    throw new UsageError(`--recall-tolerance must be between 0 and 1, got ${flags['recall-tolerance']}`, {
      remedy: USAGE,
    });
  const progress = new Progress(undefined, !flags.json);
  const stack = await openStack({ env: flags.env, progress });
  try {
    const result = await restoreBackup({
      stack,
      from: flags.from,
      force: flags.force,
      recallTolerance: tolerance,
      progress,
    });
    if (flags.json)
      console.log(
        JSON.stringify(
          {
            id: result.manifest.id,
            seconds: result.seconds,
            verifySeconds: result.verifySeconds,
            resumed: result.resumed,
            recall: result.recall,
            warnings: result.warnings,
          },
          null,
          2,
        ),
      );
    else console.log(`${restoreTable(result)}\nrestored and verified: ${result.manifest.id}`);
    return 0;
  } finally {
    await stack.close();
  }
});
