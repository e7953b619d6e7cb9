// cdktf app entry (cdktf.json "app"): `npx cdktf synth` renders the stacks of $VECTORSTACK_ENV (default local).
import { synthesize } from './synth.js';

synthesize({});
