#!/usr/bin/env tsx
// npm run status [-- --env local] [--json]: each service, where it runs, its image and its readiness as the target
// reports it. Exit 0 when every service is ready, 1 otherwise.
import { parseFlags, runMain } from '../lib/cli.js';
import { loadDeployment } from '../lib/deployment/resolve.js';
import { driverFor } from '../lib/targets/index.js';
import { renderTable } from '../lib/util/table.js';

const USAGE = 'usage: npm run status -- [--env local|staging|production] [--json]';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const deployment = loadDeployment({ env: flags.env });
  const workloads = await driverFor(deployment).status();
  const ready = workloads.every((w) => w.ready);
  if (flags.json)
    console.log(JSON.stringify({ environment: deployment.config.environment, ready, workloads }, null, 2));
  else {
    console.log(
      renderTable(
        ['service', deployment.target === 'docker' ? 'container' : 'workload', 'image', 'ready', 'state'],
        workloads.map((w) => [
          w.service,
          w.kind === 'container' ? w.name : `${w.kind}/${w.name}`,
          w.image,
          w.ready ? 'yes' : 'NO',
          w.state,
        ]),
      ),
    );
    console.log(
      ready
        ? 'every service is ready'
        : `not ready: ${workloads
            .filter((w) => !w.ready)
            .map((w) => w.service)
            .join(', ')}`,
    );
  }
  return ready ? 0 : 1;
});
