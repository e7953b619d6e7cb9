#!/usr/bin/env tsx
// npm run down [-- --env local] [--json]: stop the services, keep every byte of data (Docker: containers removed,
// network and volumes kept; Kubernetes: workloads scaled to zero, claims and Secret kept).
import { parseFlags, runMain } from '../lib/cli.js';
import { loadDeployment } from '../lib/deployment/resolve.js';
import { driverFor } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';

const USAGE = 'usage: npm run down -- [--env local|staging|production] [--json]';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const result = await driverFor(loadDeployment({ env: flags.env }), { progress: new Progress() }).down();
  if (flags.json) console.log(JSON.stringify(result));
  else {
    for (const line of result.summaries) console.log(line);
    console.log(result.changed ? 'stopped; data kept (npm run up brings it back)' : 'nothing to stop');
  }
  return 0;
});
