#!/usr/bin/env tsx
// npm run down [-- --env local]: remove the containers; network and data volumes stay.
import { parseFlags, runMain } from '../lib/cli.js';
import { down } from '../lib/deploy/local-stack.js';
import { Progress } from '../lib/util/progress.js';

const USAGE = 'usage: npm run down -- [--env local] [--json]';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const result = await down({ env: flags.env, progress: new Progress() });
  if (flags.json) console.log(JSON.stringify(result));
  else
    console.log(
      result.changed
        ? 'containers removed; volumes kept (npm run up brings the data back)'
        : 'nothing to remove',
    );
});
