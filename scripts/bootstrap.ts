#!/usr/bin/env tsx
// npm run bootstrap [-- --env local] [--plan] [--json] [--allow-recreate]: bring every store's schema in line with
// schemas/. Exit 0 in sync, 1 failed, 2 drift found that this run did not resolve.
import { bootstrap } from '../lib/bootstrap/index.js';
import { bootstrapJson, renderBootstrapReport } from '../lib/bootstrap/report.js';
import { parseFlags, runMain } from '../lib/cli.js';
import { openStack } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';

const USAGE =
  'usage: npm run bootstrap -- [--env local|staging|production] [--plan] [--json] [--allow-recreate] [--schema public] [--prefix name_]';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['env', 'schema', 'prefix'],
    boolean: ['plan', 'allow-recreate'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  const stack = await openStack({ env: flags.env });
  try {
    const result = await bootstrap({
      stack,
      planOnly: flags.plan,
      allowRecreate: flags['allow-recreate'],
      postgresSchema: flags.schema,
      prefix: flags.prefix,
      progress: new Progress(undefined, !flags.json),
    });
    console.log(flags.json ? bootstrapJson(result) : renderBootstrapReport(result));
    return result.exitCode;
  } finally {
    await stack.close();
  }
});
