#!/usr/bin/env tsx
// npm test's last step: the vitest projects in two lanes side by side, since neither waits on the other's servers:
// "docker" (unit files, then the integration files on the shared Docker stack, one at a time) and "cluster" (the files
// on the kit's own Kubernetes node and API server, and the Docker files with a stack of their own, one at a time).
// Exit code: 0 when both lanes passed, else 1.
import path from 'node:path';
import { runMain } from '../lib/cli.js';
import { REPO_ROOT } from '../lib/paths.js';
import { runLanes } from '../lib/util/lanes.js';
import { renderTable } from '../lib/util/table.js';

await runMain(async () => {
  const vitest = path.join(REPO_ROOT, 'node_modules', '.bin', 'vitest');
  const results = await runLanes([
    { name: 'docker', command: vitest, args: ['run', '--project', 'unit', '--project', 'integration'] },
    { name: 'cluster', command: vitest, args: ['run', '--project', 'cluster', '--project', 'own-stack'] },
  ]);
  console.log(
    renderTable(
      ['lane', 'exit', 'seconds'],
      results.map((r) => [r.name, r.exitCode, r.seconds]),
    ),
  );
  return results.some((r) => r.exitCode !== 0) ? 1 : 0;
});
