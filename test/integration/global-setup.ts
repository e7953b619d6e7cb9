import { destroyAll, up } from '../../lib/deploy/local-stack.js';
import { Progress } from '../../lib/util/progress.js';
import { requirePreparedHost } from './prerequisites.js';
import { SHARED_STACK_DIR, sharedStackConfig } from './shared-stack.js';

/** Brings the shared integration stack up once for all files, and destroys it (volumes included) at the end. */
export async function setup(): Promise<() => Promise<void>> {
  await requirePreparedHost();
  const config = sharedStackConfig();
  const options = { config, cwd: SHARED_STACK_DIR, progress: new Progress() };
  // Start from empty volumes: a previous run that died may have left data behind.
  await destroyAll(options).catch(() => {});
  await up(options);
  return async () => {
    await destroyAll(options);
  };
}
