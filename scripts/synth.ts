#!/usr/bin/env tsx
// npm run synth [-- --env local] [--out DIR] [--json]: render the environment's stacks to Terraform JSON, apply nothing.
import path from 'node:path';
import { parseFlags, runMain } from '../lib/cli.js';
import { loadDeployment } from '../lib/deployment/resolve.js';
import { readToolchain } from '../lib/setup/toolchain-file.js';
import { synthesize } from '../stacks/synth.js';

const USAGE = 'usage: npm run synth -- [--env local|staging|production] [--out DIR] [--json]';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env', 'out'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const deployment = loadDeployment({ env: flags.env });
  const outdir = path.resolve(flags.out ?? 'cdktf.out');
  const result = synthesize(deployment, { outdir, providerVersions: readToolchain().providers });
  if (flags.json) console.log(JSON.stringify({ outdir: result.outdir, stacks: result.stacks }));
  else
    for (const stack of result.stacks) console.log(path.join(result.outdir, 'stacks', stack, 'cdk.tf.json'));
  return 0;
});
