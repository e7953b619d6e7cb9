#!/usr/bin/env tsx
// npm run synth [-- --env local] [--out DIR]: render the environment's stacks to Terraform JSON, apply nothing.
import path from 'node:path';
import { parseFlags, runMain } from '../lib/cli.js';
import { loadConfig } from '../lib/config/load.js';
import { synthesize } from '../stacks/synth.js';

const USAGE = 'usage: npm run synth -- [--env local|staging|production] [--out DIR] [--json]';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env', 'out'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const config = loadConfig({ env: flags.env });
  const result = synthesize({ config, outdir: flags.out ? path.resolve(flags.out) : undefined });
  const stacks = result.app.node.children.map((c) => c.node.id);
  if (flags.json) console.log(JSON.stringify({ outdir: result.outdir, stacks }));
  else for (const stack of stacks) console.log(path.join(result.outdir, 'stacks', stack, 'cdk.tf.json'));
});
