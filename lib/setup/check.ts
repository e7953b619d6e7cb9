import { cacheDir } from '../paths.js';
import { Progress } from '../util/progress.js';
import { DEFAULT_SETUP_STEPS, runSetup, type SetupTarget } from './run.js';
import { SetupError } from './types.js';

/**
 * Fails with the missing components when the host is not prepared for a target; `up` calls this before anything else.
 * Docker needs the engine, the CLI, the providers and the images; a cluster needs the CLI and the providers.
 */
export async function checkSetup(
  target: SetupTarget = 'docker',
  environ: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  return prepare(target, { checkOnly: true, environ, progress: new Progress(undefined, false) });
}

/**
 * Prepares the host for one target, building only what it needs (idempotent, cached): for Docker the engine, the CLI,
 * the Docker provider and the images; for a cluster the CLI and the Kubernetes, Helm and Random providers.
 * `npm run up` calls this; `npm run setup` prepares everything.
 */
export async function prepareHostFor(
  target: SetupTarget,
  options: { environ?: NodeJS.ProcessEnv; progress?: Progress } = {},
): Promise<void> {
  return prepare(target, {
    checkOnly: false,
    environ: options.environ ?? process.env,
    progress: options.progress,
  });
}

async function prepare(
  target: SetupTarget,
  options: { checkOnly: boolean; environ: NodeJS.ProcessEnv; progress?: Progress },
): Promise<void> {
  const report = await runSetup({
    cacheDir: cacheDir(options.environ),
    checkOnly: options.checkOnly,
    environ: options.environ,
    only: target === 'docker' ? DEFAULT_SETUP_STEPS : ['terraform', 'providers'],
    targets: [target],
    progress: options.progress ?? new Progress(),
  });
  if (report.ok) return;
  const missing = report.results
    .filter((r) => r.status === 'missing' || r.status === 'failed')
    .map((r) => `${r.component}: ${r.status}${r.detail ? ` (${r.detail})` : ''}`);
  throw new SetupError(
    options.checkOnly ? 'the host is not prepared' : 'preparing the host failed',
    options.checkOnly ? 'run: npm run setup' : (report.remedies[0] ?? 'see the log lines above'),
    missing,
  );
}
