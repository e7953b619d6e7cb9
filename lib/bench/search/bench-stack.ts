// The search bench's own Docker stack: project `vssearch` on 127.0.0.1:25981-25985, PostgreSQL and Milvus sized for a
// million 128-dimension vectors, Redis left out (nothing here uses it). Created through the Docker target driver and
// destroyed, volumes included, whatever happens.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config/load.js';
import type { ConfigOverrides } from '../../config/schema.js';
import { type Deployment, resolveDeployment } from '../../deployment/resolve.js';
import type { RunningStack } from '../../stack/running-stack.js';
import { driverFor } from '../../targets/index.js';
import type { Progress } from '../../util/progress.js';

export const SEARCH_BENCH_PROJECT = 'vssearch';
export const SEARCH_BENCH_PORT_BASE = 25980;

/**
 * What the stack gets beyond the defaults. PostgreSQL: 2 GiB shared_buffers hold the 1M-row table (~0.6 GiB) and its
 * HNSW index (~0.8 GiB); the container limit (6 GiB) leaves room for a 2 GB maintenance_work_mem during a build and
 * for the OS cache. Milvus: 8 GiB for the raw vectors (0.5 GiB at 1M), an index in memory and the build's working set.
 * Both may use both cores.
 */
export const SEARCH_BENCH_OVERRIDES: ConfigOverrides = {
  project: SEARCH_BENCH_PROJECT,
  embedding: { dimension: 128, metric: 'l2' },
  postgres: {
    hostPort: SEARCH_BENCH_PORT_BASE + 1,
    sharedBuffersMb: 2048,
    maintenanceWorkMemMb: 2048,
    resources: { memoryMb: 6144, cpuMillis: 2000 },
  },
  minio: { hostPort: SEARCH_BENCH_PORT_BASE + 2 },
  milvus: {
    hostPort: SEARCH_BENCH_PORT_BASE + 3,
    metricsHostPort: SEARCH_BENCH_PORT_BASE + 4,
    resources: { memoryMb: 8192, cpuMillis: 2000 },
  },
  redis: { enabled: false, hostPort: SEARCH_BENCH_PORT_BASE + 5 },
};

export function searchBenchDeployment(cwd: string): Deployment {
  return resolveDeployment(loadConfig({ cwd, environ: {}, overrides: SEARCH_BENCH_OVERRIDES }), { cwd });
}

/** Brings the stack up, runs `work` on it, and destroys it (data included) afterwards, also when `work` fails. */
export async function withSearchBenchStack<T>(
  progress: Progress,
  work: (stack: RunningStack, deployment: Deployment) => Promise<T>,
): Promise<T> {
  const cwd = mkdtempSync(path.join(os.tmpdir(), `${SEARCH_BENCH_PROJECT}-`));
  const deployment = searchBenchDeployment(cwd);
  const driver = driverFor(deployment, { progress });
  await driver.destroy(); // what an earlier run killed midway left (destroy also removes what no state records)
  try {
    progress.log(
      `stack ${SEARCH_BENCH_PROJECT}: up (ports ${SEARCH_BENCH_PORT_BASE + 1}-${SEARCH_BENCH_PORT_BASE + 5})`,
    );
    await driver.apply();
    const stack = await driver.open();
    try {
      return await work(stack, deployment);
    } finally {
      await stack.close();
    }
  } finally {
    progress.log(`stack ${SEARCH_BENCH_PROJECT}: destroying (volumes included)`);
    await driver.destroy();
    rmSync(cwd, { recursive: true, force: true });
  }
}
