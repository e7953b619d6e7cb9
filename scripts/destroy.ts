#!/usr/bin/env tsx
// npm run destroy -- --volumes --yes [--env local]: remove containers, network AND data volumes.
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { destroyAll } from '../lib/deploy/local-stack.js';
import { Progress } from '../lib/util/progress.js';

const USAGE = [
  'usage: npm run destroy -- --volumes --yes [--env local] [--json]',
  '  deletes every container, the network and the data volumes of the environment: all data is lost.',
  '  To keep the data, use npm run down.',
].join('\n');

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['env'],
    boolean: ['volumes', 'yes'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  if (!flags.volumes || !flags.yes) {
    throw new UsageError(
      `refusing to destroy: this deletes all data; pass both --volumes and --yes\n${USAGE}`,
    );
  }
  const result = await destroyAll({ env: flags.env, progress: new Progress() });
  if (flags.json) console.log(JSON.stringify(result));
  else console.log(result.changed ? 'containers, network and volumes removed' : 'nothing to remove');
});
