import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deepMerge, loadConfig } from '../../lib/config/load.js';
import type { ConfigOverrides } from '../../lib/config/schema.js';
import { type Deployment, resolveDeployment } from '../../lib/deployment/resolve.js';
import { checkSetup } from '../../lib/setup/check.js';

/**
 * Integration tests need the prepared host (npm run setup). A missing prerequisite fails the run loudly: these
 * tests are never skipped.
 */
export async function requirePreparedHost(): Promise<void> {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 15_000 });
  } catch {
    throw new Error(
      'integration tests need a running Docker engine: run npm run setup (CI runs it in .ci/run)',
    );
  }
  await checkSetup();
}

/**
 * A deployment of its own for each test file: another project name (so a developer's `vectorstack-local` stack is left
 * alone), host ports in a range of its own, an empty working directory.
 */
export function testDeployment(
  project: string,
  portBase: number,
  overrides: ConfigOverrides = {},
): Deployment {
  const cwd = mkdtempSync(path.join(os.tmpdir(), `${project}-`));
  const config = loadConfig({
    cwd,
    environ: {},
    overrides: deepMerge(
      {
        project,
        postgres: { hostPort: portBase + 1 },
        minio: { hostPort: portBase + 2 },
        milvus: { hostPort: portBase + 3, metricsHostPort: portBase + 4 },
        redis: { hostPort: portBase + 5 },
      } as ConfigOverrides,
      overrides,
    ),
  });
  return resolveDeployment(config, { cwd });
}
