import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { $ } from 'zx';
import { WaitAbortError, waitFor } from '../util/poll.js';
import { LocalClusterError } from './errors.js';
import { writeIfChanged } from './files.js';
import type { ClusterLayout } from './layout.js';
import { logTail, runningPid, startDetached } from './processes.js';

/**
 * The cluster's own containerd (Debian's, CRI built in), next to the one dockerd runs: its own root, state directory
 * and socket, CNI from /usr/lib/cni with the cluster's bridge, network namespaces under its state directory,
 * streaming server (exec, port-forward) on 127.0.0.1 only, no metrics or debug listeners.
 */
export function containerdConfig(layout: ClusterLayout, sandboxImage: string): string {
  const root = path.join(layout.stateDir, 'containerd');
  const state = path.join(layout.runDir, 'containerd');
  return `# Written by lib/localcluster/containerd.ts: the local cluster's containerd (not Docker's).
version = 2
root = ${JSON.stringify(root)}
state = ${JSON.stringify(state)}
oom_score = 0

[grpc]
  address = ${JSON.stringify(layout.containerdSocket)}
[ttrpc]
  address = ${JSON.stringify(`${layout.containerdSocket}.ttrpc`)}
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${JSON.stringify(path.join(root, 'opt'))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${JSON.stringify(sandboxImage)}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # This host grants root no CAP_SYS_RESOURCE: an oom_score_adj below containerd's own (the pod sandbox's -998)
  # fails with EACCES in runc, so adjustments are clamped to containerd's value.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = ${JSON.stringify(path.join(layout.runDir, 'runc'))}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${JSON.stringify(path.join(layout.cniDir, 'net.d'))}
    max_conf_num = 1
`;
}

/** Name of the pods' CNI network (libcni caches results as /var/lib/cni/results/<name>-<id>-<if>). */
export const CNI_NETWORK = 'vectorstack-cluster';

/** The pods' network: the cluster bridge, host-local addresses from the pod range, state under the cluster dir. */
export function cniConfig(layout: ClusterLayout): string {
  const gateway = layout.nodeIp;
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: layout.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: layout.podCidr, gateway }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: path.join(layout.cniDir, 'ipam'),
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

function socketAnswers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    conn.once('connect', () => {
      conn.destroy();
      resolve(true);
    });
    conn.once('error', () => resolve(false));
  });
}

export async function startContainerd(
  layout: ClusterLayout,
  sandboxImage: string,
  timeoutMs: number,
): Promise<{ started: boolean }> {
  mkdirSync(path.join(layout.cniDir, 'net.d'), { recursive: true });
  mkdirSync(layout.runDir, { recursive: true, mode: 0o700 });
  writeIfChanged(path.join(layout.cniDir, 'net.d', '10-vectorstack.conflist'), cniConfig(layout));
  const config = path.join(layout.stateDir, 'containerd.toml');
  writeIfChanged(config, containerdConfig(layout, sandboxImage));
  const { started } = startDetached(layout, {
    name: 'containerd',
    binary: '/usr/bin/containerd',
    args: ['--config', config],
  });
  await waitFor(
    `containerd socket ${layout.containerdSocket}`,
    async () => {
      if (!runningPid(layout, 'containerd'))
        throw new WaitAbortError(
          `containerd exited; log ${path.join(layout.logsDir, 'containerd.log')}:\n${logTail(layout, 'containerd')}`,
        );
      return (await socketAnswers(layout.containerdSocket)) || { waiting: 'socket not answering' };
    },
    { timeoutMs, intervalMs: 200 },
  );
  return { started };
}

/** Runs ctr against the cluster's containerd, in the namespace the CRI plugin uses. */
export function ctr(layout: ClusterLayout) {
  return (args: string[]) =>
    $({ quiet: true, nothrow: true })`ctr --address ${layout.containerdSocket} -n k8s.io ${args}`.timeout(
      '60s',
    );
}

function importsFile(layout: ClusterLayout): string {
  return path.join(layout.stateDir, 'imported-images.json');
}

/** containerd's name for a Docker tag: `vectorstack-offline/x:y` is `docker.io/vectorstack-offline/x:y`. */
export function containerdImageName(tag: string): string {
  const first = tag.split('/')[0]!;
  const hasRegistry =
    tag.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const named = hasRegistry ? tag : `docker.io/${tag.includes('/') ? tag : `library/${tag}`}`;
  return named.includes(':', named.lastIndexOf('/')) ? named : `${named}:latest`;
}

/**
 * Copies images from Docker into the cluster's containerd (`docker save | ctr images import`), skipping those already
 * imported with the same Docker image id. Nothing is pulled: a tag Docker lacks is an error naming it.
 */
export async function importImages(
  layout: ClusterLayout,
  tags: string[],
  log: (line: string) => void = () => {},
): Promise<{ imported: string[]; skipped: string[] }> {
  const file = importsFile(layout);
  const done: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const present = new Set(
    (await ctr(layout)(['images', 'ls', '-q'])).stdout
      .split('\n')
      .filter((l) => l && !l.startsWith('sha256:')),
  );
  const imported: string[] = [];
  const skipped: string[] = [];
  for (const tag of tags) {
    const id = await $({ quiet: true, nothrow: true })`docker image inspect --format ${'{{.Id}}'} ${tag}`;
    if (!id.ok)
      throw new LocalClusterError(
        'containerd',
        `image ${tag} is not in the Docker engine, so it cannot be imported into ${layout.containerdSocket}`,
        'build it first: npm run setup -- --tests',
      );
    const dockerId = id.stdout.trim();
    if (done[tag] === dockerId && present.has(containerdImageName(tag))) {
      skipped.push(tag);
      continue;
    }
    log(`containerd: importing ${tag}`);
    const result = await $({
      quiet: true,
      nothrow: true,
    })`sh -c ${'docker save "$1" | ctr --address "$2" -n k8s.io images import -'} sh ${tag} ${layout.containerdSocket}`.timeout(
      '900s',
    );
    if (!result.ok)
      throw new LocalClusterError(
        'containerd',
        `docker save ${tag} | ctr images import into ${layout.containerdSocket} failed: ${result.stderr.trim()}`,
        `see ${path.join(layout.logsDir, 'containerd.log')}`,
      );
    done[tag] = dockerId;
    writeFileSync(file, `${JSON.stringify(done, null, 2)}\n`);
    imported.push(tag);
  }
  return { imported, skipped };
}
