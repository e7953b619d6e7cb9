// cdktf app entry (cdktf.json "app"): `npx cdktf synth` renders the stacks of $VECTORSTACK_ENV (default local).
import path from 'node:path';
import { loadDeployment } from '../lib/deployment/resolve.js';
import { readToolchain } from '../lib/setup/toolchain-file.js';
import { synthesize } from './synth.js';

synthesize(loadDeployment(), {
  outdir: process.env.CDKTF_OUTDIR ?? path.resolve('cdktf.out'),
  providerVersions: readToolchain().providers,
});
