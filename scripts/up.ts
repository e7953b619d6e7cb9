#!/usr/bin/env tsx
// npm run up [-- --env local|staging|production] [--plan] [--no-wait] [--no-prepare] [--show-secrets] [--json]
// Prepares this host for the environment's target (only what that target needs), brings the environment to its
// configured state on it (Docker for local, Kubernetes for the others) and waits until every service is ready.
// `npm run deploy` is the same command without the host preparation (it checks instead).
import { parseFlags, runMain } from '../lib/cli.js';
import { loadDeployment } from '../lib/deployment/resolve.js';
import { checkSetup, prepareHostFor } from '../lib/setup/check.js';
import { withSecrets } from '../lib/stack/endpoints.js';
import { driverFor } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';
import { renderTable } from '../lib/util/table.js';

const USAGE = [
  'usage: npm run up -- [--env local|staging|production] [--plan] [--no-wait] [--no-prepare] [--show-secrets] [--json]',
  '  --plan          show what would change, change nothing',
  '  --no-wait       Kubernetes: do not wait for rollouts and the bucket job (an API server without nodes)',
  '  --no-prepare    check the host instead of preparing it (what npm run deploy does)',
  '  --show-secrets  print the credentials too',
].join('\n');

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['env'],
    boolean: ['plan', 'show-secrets'],
    negatable: ['wait', 'prepare'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  // The configuration first: a typo is the cheapest mistake to report.
  let deployment = loadDeployment({ env: flags.env });
  const progress = new Progress();
  if (!flags.prepare) {
    progress.log('checking setup (npm run setup -- --check)');
    await checkSetup(deployment.target);
  } else {
    progress.log(
      `preparing this host for the ${deployment.target} target (cached; npm run setup prepares every target)`,
    );
    await prepareHostFor(deployment.target, { progress });
    // Resolved again: preparing may have built local images and recorded them as the image overrides.
    deployment = loadDeployment({ env: flags.env });
  }
  const driver = driverFor(deployment, { progress });
  const result = await driver.apply({ planOnly: flags.plan, wait: flags.wait });
  const secrets = flags['show-secrets'] ? await driver.credentials() : undefined;
  if (flags.json) {
    console.log(JSON.stringify({ ...result, ...(secrets ? { credentials: secrets } : {}) }, null, 2));
    return 0;
  }
  if (!flags.plan) {
    const rows = result.access.map((a) => {
      const w = result.workloads.find((x) => x.service === a.service);
      return [a.service, a.address, w?.image ?? '-', w?.state ?? '-'];
    });
    console.log(renderTable(['service', 'reach it at', 'image', 'state'], rows));
  }
  for (const line of [...result.summaries, ...result.notes]) console.log(line);
  if (result.outputsFile) console.log(`connection details: ${result.outputsFile}`);
  console.log(`credentials: ${result.credentialsLocation}`);
  if (secrets && deployment.target === 'docker') {
    const stack = await driver.open();
    console.log(JSON.stringify(withSecrets(stack.endpoints, secrets), null, 2));
    await stack.close();
  } else if (secrets) console.log(JSON.stringify(secrets, null, 2));
  return 0;
});
