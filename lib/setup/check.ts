import { cacheDir } from '../paths.js';
import { Progress } from '../util/progress.js';
import { runSetup } from './run.js';
import { SetupError } from './types.js';

/**
 * Fails with the missing components when the host is not prepared for a target; `up` calls this before anything else.
 * Docker needs the engine, the CLI, the providers and the images; a cluster needs the CLI and the providers.
 */
export async function checkSetup(
  target: 'docker' | 'kubernetes' = 'docker',
  environ: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const report = await runSetup({
    cacheDir: cacheDir(environ),
    checkOnly: true,
    environ,
    only: target === 'docker' ? undefined : ['terraform', 'providers'],
    progress: new Progress(undefined, false),
  });
  if (report.ok) return;
  const missing = report.results
    .filter((r) => r.status === 'missing' || r.status === 'failed')
    .map((r) => `${r.component}: ${r.status}${r.detail ? ` (${r.detail})` : ''}`);
  throw new SetupError('the host is not prepared', 'run: npm run setup', missing);
}
