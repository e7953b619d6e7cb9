#!/usr/bin/env tsx
// npm run destroy -- --volumes --yes [--env local]: remove everything the environment created, data included.
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { loadDeployment } from '../lib/deployment/resolve.js';
import { driverFor } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';

const USAGE = [
  'usage: npm run destroy -- --volumes --yes [--env local|staging|production] [--json]',
  '  deletes every container or workload, the network or namespace, and the data volumes or claims: all data is lost.',
  '  To keep the data, use npm run down.',
].join('\n');

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['env'],
    boolean: ['volumes', 'yes'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  if (!flags.volumes || !flags.yes)
    throw new UsageError('refusing to destroy: this deletes all data; pass both --volumes and --yes', {
      remedy: USAGE,
    });
  const result = await driverFor(loadDeployment({ env: flags.env }), { progress: new Progress() }).destroy();
  if (flags.json) console.log(JSON.stringify(result));
  else {
    for (const line of result.summaries) console.log(line);
    console.log(result.changed ? 'everything removed, data included' : 'nothing to remove');
  }
  return 0;
});
