#!/usr/bin/env tsx
// npm run smoke [-- --env local] [--json] [--junit FILE]: every service reachable, authenticated, configured as
// expected, and a round trip per store. Exit 1 when any check fails.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseFlags, runMain } from '../lib/cli.js';
import { reportsDir } from '../lib/paths.js';
import { openStack } from '../lib/targets/index.js';
import { checksJson, checksJUnit, checksTable, summarize } from '../lib/verify/report.js';
import { runSmoke } from '../lib/verify/smoke.js';
import { SMOKE_SUITES } from '../smoke-tests/index.js';

const USAGE =
  'usage: npm run smoke -- [--env local|staging|production] [--json] [--junit FILE]  (JUnit defaults to .vectorstack/<env>/reports/smoke-junit.xml)';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env', 'junit'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  // Docker: the published ports; Kubernetes: port-forwards of the client Services, closed when done.
  const stack = await openStack({ env: flags.env });
  const results = await runSmoke(stack, SMOKE_SUITES).finally(() => stack.close());
  const junitFile = flags.junit
    ? path.resolve(flags.junit)
    : path.join(reportsDir(stack.deployment.stateDir), 'smoke-junit.xml');
  writeFileSync(junitFile, checksJUnit(results));
  const summary = summarize(results);
  if (flags.json) console.log(checksJson(results));
  else {
    console.log(checksTable(results));
    console.log(
      `${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped; JUnit: ${path.relative(process.cwd(), junitFile)}`,
    );
  }
  for (const failed of results.filter((r) => r.status === 'fail'))
    process.stderr.write(`FAIL ${failed.service} ${failed.check}: ${failed.message}\n`);
  return summary.ok ? 0 : 1;
});
