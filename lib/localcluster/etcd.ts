import { chownSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { readImageOverrides, resolveImages } from '../images.js';
import { imagesFile } from '../paths.js';
import { WaitAbortError, waitFor } from '../util/poll.js';
import { LocalClusterError } from './errors.js';
import type { ClusterLayout } from './layout.js';

/** The etcd image the kit's stack uses (setup's offline build here); present locally, never pulled. */
export function etcdImage(environ: NodeJS.ProcessEnv = process.env): string {
  return resolveImages({}, readImageOverrides(imagesFile(environ))).etcd;
}

export async function etcdRunning(layout: ClusterLayout): Promise<boolean> {
  const r = await $({
    quiet: true,
    nothrow: true,
  })`docker inspect -f ${'{{.State.Running}}'} ${layout.etcdContainer}`;
  return r.ok && r.stdout.trim() === 'true';
}

async function etcdHealthy(layout: ClusterLayout): Promise<boolean> {
  return fetch(`http://127.0.0.1:${layout.etcdClientPort}/health`, { signal: AbortSignal.timeout(3000) })
    .then(async (r) => r.ok && ((await r.json()) as { health?: string }).health === 'true')
    .catch(() => false);
}

/**
 * etcd in a Docker container on the host network, listening on 127.0.0.1 only (client and peer ports of its own),
 * data in the cluster's state directory. Docker restarts nothing: `down` removes it, `up` starts it again.
 */
export async function startEtcd(
  layout: ClusterLayout,
  image: string,
  timeoutMs: number,
): Promise<{ started: boolean }> {
  let started = false;
  if (!(await etcdRunning(layout))) {
    await $({ quiet: true, nothrow: true })`docker rm -f -v ${layout.etcdContainer}`;
    const data = path.join(layout.stateDir, 'etcd');
    mkdirSync(data, { recursive: true, mode: 0o700 });
    // The image runs etcd as uid 999 (like the kit's other data stores).
    chownSync(data, 999, 999);
    const client = `http://127.0.0.1:${layout.etcdClientPort}`;
    const peer = `http://127.0.0.1:${layout.etcdPeerPort}`;
    const run = await $({
      quiet: true,
      nothrow: true,
    })`docker run -d --pull never --name ${layout.etcdContainer} --network host --label vectorstack.cluster=etcd -v ${`${data}:/var/lib/etcd-cluster`} ${image} etcd --name=vectorstack-cluster --data-dir=/var/lib/etcd-cluster/data --listen-client-urls=${client} --advertise-client-urls=${client} --listen-peer-urls=${peer} --initial-advertise-peer-urls=${peer} ${`--initial-cluster=vectorstack-cluster=${peer}`} --quota-backend-bytes=2147483648`;
    if (!run.ok)
      throw new LocalClusterError(
        'etcd',
        `docker run ${image} as ${layout.etcdContainer} (127.0.0.1:${layout.etcdClientPort}) failed: ${run.stderr.trim()}`,
        'build the kit images with npm run setup, and check that nothing else listens on that port (ss -ltnp)',
      );
    started = true;
  }
  await waitFor(
    `etcd health at http://127.0.0.1:${layout.etcdClientPort}/health`,
    async () => {
      if (await etcdHealthy(layout)) return true;
      if (!(await etcdRunning(layout))) {
        const logs = await $({ quiet: true, nothrow: true })`docker logs --tail 15 ${layout.etcdContainer}`;
        throw new WaitAbortError(
          `etcd: container ${layout.etcdContainer} stopped:\n${logs.stdout}${logs.stderr}`.trimEnd(),
        );
      }
      return { waiting: 'not healthy yet' };
    },
    { timeoutMs, intervalMs: 300 },
  );
  return { started };
}

export async function removeEtcd(layout: ClusterLayout): Promise<boolean> {
  const r = await $({ quiet: true, nothrow: true })`docker rm -f -v ${layout.etcdContainer}`;
  return r.ok;
}
