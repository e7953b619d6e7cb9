import { defineConfig } from 'vitest/config';

const CLUSTER_FILES = [
  'test/integration/cluster-staging.test.ts',
  'test/integration/local-cluster.test.ts',
  'test/integration/k8s-apply.test.ts',
  'test/integration/k8s-validate.test.ts',
];
/** Docker files that bring up a stack of their own and never touch the shared one. */
const OWN_STACK_FILES = ['test/integration/chaos.test.ts'];

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    env: { CHECKPOINT_DISABLE: '1' },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 30_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...CLUSTER_FILES, ...OWN_STACK_FILES],
          globalSetup: ['test/integration/global-setup.ts'],
          // Real servers: one file at a time, generous timeouts for image start-up on 2 cores.
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          // The files on the kit's own Kubernetes node and API server: no Docker stack of their own, so `npm test`
          // runs them in a lane beside the Docker ones (scripts/test-lanes.ts).
          name: 'cluster',
          include: CLUSTER_FILES,
          globalSetup: ['test/integration/prepared-host-setup.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          // Docker files with a stack of their own: `npm test` runs them in the cluster lane, which evens out the two
          // lanes (docs/benchmarks.md, CI). Its own groupOrder makes it a group of its own: vitest runs it, then the
          // cluster files, never side by side.
          name: 'own-stack',
          include: OWN_STACK_FILES,
          globalSetup: ['test/integration/prepared-host-setup.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
