import { driverFor } from '../../lib/targets/index.js';
import { Progress } from '../../lib/util/progress.js';
import { requirePreparedHost } from './prerequisites.js';
import { sharedDeployment } from './shared-stack.js';

/** Brings the shared integration stack up once for all files, and destroys it (volumes included) at the end. */
export async function setup(): Promise<() => Promise<void>> {
  await requirePreparedHost();
  const driver = driverFor(sharedDeployment(), { progress: new Progress() });
  // VECTORSTACK_TEST_KEEP_STACK=1 reuses a running shared stack and leaves it up: for quick iterations while
  // developing. CI starts from empty volumes, since a previous run that died may have left data behind.
  const keep = process.env.VECTORSTACK_TEST_KEEP_STACK === '1';
  if (!keep) await driver.destroy();
  await driver.apply();
  return async () => {
    if (!keep) await driver.destroy();
  };
}
