import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lib/config/load.js';
import type { ConfigOverrides } from '../../lib/config/schema.js';
import { type Deployment, resolveDeployment } from '../../lib/deployment/resolve.js';
import type { RunningStack } from '../../lib/stack/running-stack.js';
import { driverFor } from '../../lib/targets/index.js';
import type { Progress } from '../../lib/util/progress.js';

/**
 * One stack shared by the integration test files that only need running servers (bootstrap, smoke, recall): it is
 * brought up once by global-setup.ts and destroyed at the end. Its own project name and port range keep it apart
 * from a developer's `vectorstack-local` stack and from the lifecycle test's stack.
 */
export const SHARED_STACK_DIR = path.join(os.tmpdir(), 'vectorstack-itest');
export const SHARED_PROJECT = 'vstest';

/** The shared stack's settings, written as a config file in its directory: the commands run there read them too. */
const SHARED_CONFIG: ConfigOverrides = {
  project: SHARED_PROJECT,
  // Small dimension keeps test data small; recall tests make their own scratch tables.
  embedding: { dimension: 8, metric: 'cosine' },
  postgres: { hostPort: 25501 },
  minio: { hostPort: 25502 },
  milvus: { hostPort: 25503, metricsHostPort: 25504 },
  redis: { hostPort: 25505 },
};

export function sharedDeployment(): Deployment {
  mkdirSync(SHARED_STACK_DIR, { recursive: true });
  writeFileSync(
    path.join(SHARED_STACK_DIR, 'vectorstack.config.json'),
    `${JSON.stringify(SHARED_CONFIG, null, 2)}\n`,
  );
  const config = loadConfig({ cwd: SHARED_STACK_DIR, environ: {} });
  return resolveDeployment(config, { cwd: SHARED_STACK_DIR });
}

/** The running shared stack through the same handle every command uses; fails loudly when global setup did not bring it up. */
export async function openSharedStack(progress?: Progress): Promise<RunningStack> {
  try {
    return await driverFor(sharedDeployment(), { progress }).open();
  } catch (error) {
    throw new Error(`the shared test stack is not up (global setup failed?): ${(error as Error).message}`);
  }
}
