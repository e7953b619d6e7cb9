#!/usr/bin/env tsx
// npm run cluster -- up|down|status|load [--json]
// A disposable single-node Kubernetes cluster on this host, built offline (lib/localcluster).
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import {
  type ClusterStatus,
  clusterDown,
  clusterLayout,
  clusterStatus,
  clusterToolchain,
  clusterUp,
  importClusterImages,
} from '../lib/localcluster/index.js';
import { cacheDir } from '../lib/paths.js';
import { runSetup } from '../lib/setup/run.js';
import { Progress } from '../lib/util/progress.js';
import { renderTable } from '../lib/util/table.js';

const USAGE = [
  'usage: npm run cluster -- <command> [--json]',
  '  up       build what is missing (setup step cluster), start the cluster or complete it, wait until the node,',
  '           CoreDNS and the default StorageClass are ready; a second up changes nothing',
  '  status   components and their state; exit 0 when everything runs, 1 otherwise',
  '  down     stop and remove everything the cluster created (processes, mounts, bridge, iptables chains, files)',
  '  load TAG...  import Docker images into the cluster (nothing is pulled: pods use imagePullPolicy Never/IfNotPresent)',
  '  --image TAG   (up) also import this Docker image; repeatable',
  '  --timeout S   (up) bound on each wait, seconds (default 180)',
  '  --json        machine-readable output',
  '  needs root; state under <cache>/cluster (VECTORSTACK_CLUSTER_DIR overrides)',
].join('\n');

function table(status: ClusterStatus): string {
  return renderTable(
    ['component', 'state', 'detail'],
    status.components.map((c) => [c.name, c.state, c.detail]),
  );
}

function usageHint(status: ClusterStatus, kubectl: string): string {
  return [
    `kubeconfig: ${status.kubeconfig} (context ${status.context}, server ${status.server})`,
    `  export KUBECONFIG=${status.kubeconfig}`,
    `  ${kubectl} get nodes`,
  ].join('\n');
}

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['image', 'timeout'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const [command, ...rest] = flags._.map(String);
  const progress = new Progress();
  const log = (line: string) => progress.log(line);
  switch (command) {
    case 'up': {
      if (rest.length > 0) throw new UsageError(`up takes no arguments: ${rest.join(' ')}\n${USAGE}`);
      const timeout = flags.timeout === undefined ? 180 : Number(flags.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0)
        throw new UsageError(`--timeout ${flags.timeout}: a number of seconds > 0\n${USAGE}`);
      // The binaries and images first (cached: a few seconds when nothing is missing).
      const setup = await runSetup({ cacheDir: cacheDir(), only: ['docker', 'cluster'], progress });
      if (!setup.ok) {
        for (const r of setup.results.filter((x) => x.status === 'failed' || x.status === 'missing'))
          console.error(`${r.component}: ${r.status}${r.detail ? `: ${r.detail}` : ''}`);
        for (const remedy of setup.remedies) console.error(remedy);
        return 1;
      }
      const result = await clusterUp({
        log,
        timeoutMs: timeout * 1000,
        images: ([] as string[]).concat(flags.image ?? []),
      });
      if (flags.json) {
        console.log(JSON.stringify(result, null, 2));
      } else {
        console.log(table(result));
        console.log(
          result.started.length === 0
            ? `cluster already running: nothing to do (${result.seconds.toFixed(1)}s)`
            : `cluster up in ${result.seconds.toFixed(1)}s (started: ${result.started.join(', ')}); Kubernetes ${result.kubernetesVersion}, node ${result.nodeName}`,
        );
        console.log(usageHint(result, clusterToolchain().binaries.kubectl));
      }
      return result.ok ? 0 : 1;
    }
    case 'status': {
      const status = await clusterStatus();
      if (flags.json) console.log(JSON.stringify(status, null, 2));
      else console.log(table(status));
      return status.ok ? 0 : 1;
    }
    case 'down': {
      const result = await clusterDown({ log });
      if (flags.json) console.log(JSON.stringify(result, null, 2));
      else {
        for (const item of result.removed) console.log(`removed: ${item}`);
        console.log(
          result.leftovers.length === 0
            ? `cluster removed in ${result.seconds.toFixed(1)}s; nothing left behind`
            : `cluster down in ${result.seconds.toFixed(1)}s, but these remain:\n  ${result.leftovers.join('\n  ')}`,
        );
      }
      return result.leftovers.length === 0 ? 0 : 1;
    }
    case 'load': {
      if (rest.length === 0) throw new UsageError(`load needs at least one image tag\n${USAGE}`);
      const { imported, skipped } = await importClusterImages(rest, { log });
      if (flags.json) console.log(JSON.stringify({ imported, skipped }, null, 2));
      else
        console.log(`imported: ${imported.join(', ') || '-'}; already there: ${skipped.join(', ') || '-'}`);
      return 0;
    }
    default:
      throw new UsageError(
        `${command === undefined ? 'no command' : `unknown command ${command}`}; state: ${clusterLayout().stateDir}\n${USAGE}`,
      );
  }
});
