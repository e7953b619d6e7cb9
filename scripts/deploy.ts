#!/usr/bin/env tsx
// npm run deploy -- --env staging [--no-wait] [--json]: synth, init, plan and apply the environment's cluster stack.
import { parseFlags, runMain } from '../lib/cli.js';
import { deployCluster } from '../lib/deploy/cluster.js';
import { Progress } from '../lib/util/progress.js';
import { renderTable } from '../lib/util/table.js';
import { clientServices } from '../stacks/kubernetes/names.js';

const USAGE =
  'usage: npm run deploy -- --env staging|production [--no-wait] [--json]\n' +
  '  --no-wait  do not wait for rollouts and the bucket job (an API server without nodes)';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env'], boolean: ['wait'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  if (!flags.env) throw Object.assign(new Error(`--env is required\n${USAGE}`), { exitCode: 2 });
  const result = await deployCluster({
    env: flags.env,
    progress: new Progress(),
    wait: flags.wait !== false,
  });
  const services = clientServices(result.config);
  if (flags.json) {
    console.log(
      JSON.stringify(
        { changed: result.changed, namespace: result.config.kubernetes.namespace, services },
        null,
        2,
      ),
    );
    return;
  }
  const rows = Object.entries(services).map(([name, s]) => [name, `service/${s.service}`, String(s.port)]);
  console.log(renderTable(['service', 'client Service', 'port'], rows));
  console.log(
    `${result.changed ? 'applied changes' : 'no changes'} in namespace ${result.config.kubernetes.namespace}; ` +
      `credentials: Secret ${result.config.project}-credentials`,
  );
});
