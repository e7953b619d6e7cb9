import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ClusterToolchain } from '../setup/kube-node-build.js';
import { readToolchain } from '../setup/toolchain-file.js';
import { waitFor } from '../util/poll.js';
import {
  applyAddonObjects,
  DEFAULT_STORAGE_CLASS,
  startKubeRouter,
  startLocalPathProvisioner,
} from './addons.js';
import { ApiClient } from './api.js';
import { CNI_NETWORK, containerdImageName, ctr, importImages, startContainerd } from './containerd.js';
import { startControlPlane } from './control-plane.js';
import { LocalClusterError } from './errors.js';
import { etcdImage, etcdRunning, removeEtcd, startEtcd } from './etcd.js';
import {
  cleanSharedHostDirs,
  mountsUnder,
  podProcesses,
  recordHostDirs,
  recordSysctls,
  removePodCgroups,
  restoreSysctls,
  sharedHostEntries,
  unmountAll,
} from './host.js';
import { writeKubeconfig } from './kubeconfig.js';
import { type ClusterLayout, clusterLayout } from './layout.js';
import {
  bridgeExists,
  bridgePorts,
  createdNetfilter,
  ensureBridge,
  recordBaseline,
  removeNetwork,
} from './network.js';
import { startNode } from './node.js';
import { ensureClusterPki, KUBE_ROUTER_USER, LOCAL_PATH_PROVISIONER_USER } from './pki.js';
import { killPid, pidsWithArgument, runningPid, stopProcess, withClusterLock } from './processes.js';

/** The cluster's host processes, in start order (etcd runs in Docker and is listed separately). */
export const HOST_PROCESSES = [
  'containerd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
  'kube-router',
  'local-path-provisioner',
] as const;

export interface ClusterOptions {
  environ?: NodeJS.ProcessEnv;
  /** Bound on each wait (a component's start, node Ready, CoreDNS ready). @default 180_000 */
  timeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** More Docker images to import into the cluster's containerd (e.g. the kit's offline postgres image). */
  images?: string[];
}

export interface ComponentState {
  name: string;
  /** running/ready = good; stopped/not ready/missing = not. */
  state: 'running' | 'ready' | 'stopped' | 'not ready' | 'missing';
  detail: string;
}

export interface ClusterStatus {
  /** Every component running and the node, CoreDNS and the default StorageClass ready. */
  ok: boolean;
  components: ComponentState[];
  kubeconfig: string;
  context: string;
  server: string;
}

export interface ClusterUpResult extends ClusterStatus {
  /** Components this call started (empty when the cluster was already up). */
  started: string[];
  nodeName: string;
  kubernetesVersion: string;
  seconds: number;
}

export interface ClusterDownResult {
  /** What was stopped or removed, one entry per item. */
  removed: string[];
  /** What is still there afterwards (should be empty). */
  leftovers: string[];
  seconds: number;
}

function requireRoot(action: string): void {
  if (process.getuid?.() !== 0)
    throw new LocalClusterError(
      'cluster',
      `${action} needs root (network namespaces, iptables, cgroups, mounts)`,
      'run it as root, or with sudo',
    );
}

export function clusterToolchain(environ: NodeJS.ProcessEnv = process.env): ClusterToolchain {
  const record = readToolchain(environ).cluster;
  const missing = record
    ? Object.entries(record.binaries)
        .filter(([, file]) => !existsSync(file))
        .map(([name]) => name)
    : ['everything'];
  if (!record || missing.length > 0)
    throw new LocalClusterError(
      'setup',
      `the cluster's binaries are not built (${missing.join(', ')}; toolchain.json has no complete "cluster" entry)`,
      'run: npm run setup -- --only cluster (npm run cluster -- up does this itself)',
    );
  return record;
}

function kubeconfigsDir(layout: ClusterLayout): string {
  return path.join(layout.stateDir, 'kubeconfigs');
}

/** Certificates and the kubeconfig of each component; the admin's at layout.kubeconfig (0600). */
function ensureCredentials(layout: ClusterLayout) {
  const pki = ensureClusterPki(layout.pkiDir, layout);
  const dir = kubeconfigsDir(layout);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const kubeconfigs = {
    controllerManager: path.join(dir, 'kube-controller-manager.kubeconfig'),
    scheduler: path.join(dir, 'kube-scheduler.kubeconfig'),
    kubelet: path.join(dir, 'kubelet.kubeconfig'),
    kubeProxy: path.join(dir, 'kube-proxy.kubeconfig'),
    kubeRouter: path.join(dir, 'kube-router.kubeconfig'),
    localPathProvisioner: path.join(dir, 'local-path-provisioner.kubeconfig'),
  };
  const write = (file: string, user: string, client: { cert: string; key: string }) =>
    writeKubeconfig(file, {
      server: layout.server,
      context: layout.context,
      user,
      caFile: pki.ca.cert,
      client,
    });
  write(layout.kubeconfig, 'vectorstack-admin', pki.admin);
  write(kubeconfigs.controllerManager, 'system:kube-controller-manager', pki.controllerManager);
  write(kubeconfigs.scheduler, 'system:kube-scheduler', pki.scheduler);
  write(kubeconfigs.kubelet, `system:node:${layout.nodeName}`, pki.kubelet);
  write(kubeconfigs.kubeProxy, 'system:kube-proxy', pki.kubeProxy);
  write(kubeconfigs.kubeRouter, KUBE_ROUTER_USER, pki.kubeRouter);
  write(kubeconfigs.localPathProvisioner, LOCAL_PATH_PROVISIONER_USER, pki.localPathProvisioner);
  return { pki, kubeconfigs };
}

export function adminClient(layout: ClusterLayout): ApiClient {
  return new ApiClient(layout.server, path.join(layout.pkiDir, 'ca.crt'), {
    cert: path.join(layout.pkiDir, 'admin.crt'),
    key: path.join(layout.pkiDir, 'admin.key'),
  });
}

interface NodeObject {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}
interface DeploymentObject {
  status?: { readyReplicas?: number; replicas?: number };
}

async function nodeReady(api: ApiClient, layout: ClusterLayout): Promise<string | true> {
  const res = await api.request<NodeObject>('GET', `/api/v1/nodes/${layout.nodeName}`);
  if (res.status !== 200) return `node ${layout.nodeName} not registered (HTTP ${res.status})`;
  const ready = res.body.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return true;
  return `node Ready=${ready?.status ?? 'unknown'}${ready?.message ? ` (${ready.message})` : ''}`;
}

async function corednsReady(api: ApiClient): Promise<string | true> {
  const res = await api.request<DeploymentObject>(
    'GET',
    '/apis/apps/v1/namespaces/kube-system/deployments/coredns',
  );
  if (res.status !== 200) return `deployment kube-system/coredns: HTTP ${res.status}`;
  const ready = res.body.status?.readyReplicas ?? 0;
  return ready >= 1 || `coredns ready replicas ${ready}/${res.body.status?.replicas ?? 1}`;
}

async function defaultStorageClass(api: ApiClient): Promise<string | true> {
  const res = await api.request<{ metadata: { annotations?: Record<string, string> } }>(
    'GET',
    `/apis/storage.k8s.io/v1/storageclasses/${DEFAULT_STORAGE_CLASS}`,
  );
  if (res.status !== 200) return `storageclass ${DEFAULT_STORAGE_CLASS}: HTTP ${res.status}`;
  return (
    res.body.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true' ||
    `storageclass ${DEFAULT_STORAGE_CLASS} is not the default`
  );
}

/** Components and their state, from pidfiles, Docker and the API (never starts or changes anything). */
export async function clusterStatus(options: { environ?: NodeJS.ProcessEnv } = {}): Promise<ClusterStatus> {
  const layout = clusterLayout(options.environ);
  const components: ComponentState[] = [];
  const etcd = await etcdRunning(layout);
  components.push({
    name: 'etcd',
    state: etcd ? 'running' : 'stopped',
    detail: `docker container ${layout.etcdContainer}, 127.0.0.1:${layout.etcdClientPort}`,
  });
  for (const name of HOST_PROCESSES) {
    const pid = runningPid(layout, name);
    components.push({
      name,
      state: pid ? 'running' : 'stopped',
      detail: pid ? `pid ${pid}` : `no live process (pidfile ${path.join(layout.pidsDir, `${name}.pid`)})`,
    });
  }
  const apiUp =
    runningPid(layout, 'kube-apiserver') !== null && existsSync(path.join(layout.pkiDir, 'admin.crt'));
  const checks: [string, (api: ApiClient) => Promise<string | true>][] = [
    [`node ${layout.nodeName}`, (api) => nodeReady(api, layout)],
    ['coredns', corednsReady],
    [`storageclass ${DEFAULT_STORAGE_CLASS} (default)`, defaultStorageClass],
  ];
  const api = apiUp ? adminClient(layout) : null;
  try {
    for (const [name, check] of checks) {
      if (!api) {
        components.push({ name, state: 'missing', detail: 'kube-apiserver not running' });
        continue;
      }
      const result = await check(api).catch((e: Error) => e.message);
      components.push(
        result === true
          ? { name, state: 'ready', detail: 'ready' }
          : { name, state: 'not ready', detail: result },
      );
    }
  } finally {
    api?.close();
  }
  return {
    ok: components.every((c) => c.state === 'running' || c.state === 'ready'),
    components,
    kubeconfig: layout.kubeconfig,
    context: layout.context,
    server: layout.server,
  };
}

/**
 * Brings the single-node cluster up, or completes it: every step checks first and starts only what is not running,
 * so a second `up` on a running cluster changes nothing. Waits (bounded) for the node to be Ready, CoreDNS to be
 * ready and the default StorageClass to exist. Processes are detached: they outlive this call and the CLI.
 */
export async function clusterUp(options: ClusterOptions = {}): Promise<ClusterUpResult> {
  requireRoot('cluster up');
  return withClusterLock(clusterLayout(options.environ), () => up(options));
}

async function up(options: ClusterOptions): Promise<ClusterUpResult> {
  const began = Date.now();
  const environ = options.environ ?? process.env;
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 180_000;
  const layout = clusterLayout(environ);
  const toolchain = clusterToolchain(environ);
  mkdirSync(layout.stateDir, { recursive: true, mode: 0o700 });
  const started: string[] = [];

  // What the host had before this cluster: down removes only what is not in these records.
  await recordBaseline(layout);
  recordSysctls(layout);
  recordHostDirs(layout);

  const { pki, kubeconfigs } = ensureCredentials(layout);
  await ensureBridge(layout);

  log(`etcd: ${layout.etcdContainer} on 127.0.0.1:${layout.etcdClientPort}`);
  if ((await startEtcd(layout, etcdImage(environ), timeoutMs)).started) started.push('etcd');

  const sandboxImage = toolchain.images.pause;
  if ((await startContainerd(layout, containerdImageName(sandboxImage), timeoutMs)).started) {
    started.push('containerd');
    log(`containerd: started (socket ${layout.containerdSocket})`);
  }
  const images = [
    toolchain.images.pause,
    toolchain.images.coredns,
    toolchain.images.helper,
    ...(options.images ?? []),
  ];
  await importImages(layout, images, log);

  const api = adminClient(layout);
  try {
    started.push(
      ...(await startControlPlane(
        layout,
        toolchain.binaries,
        {
          ca: pki.ca.cert,
          caKey: pki.ca.key,
          apiserver: pki.apiserver,
          apiserverKubeletClient: pki.apiserverKubeletClient,
          serviceAccount: pki.serviceAccount,
          kubeconfigs,
        },
        api,
        timeoutMs,
        log,
      )),
    );
    const nodeStarted = await startNode(
      layout,
      toolchain.binaries,
      { ca: pki.ca.cert, kubeletServing: pki.kubeletServing, kubeconfigs },
      timeoutMs,
    );
    started.push(...nodeStarted);
    if (nodeStarted.length > 0) log(`node: ${nodeStarted.join(', ')} started`);
    // The agents' roles (and CoreDNS, the StorageClass) before the agents: they fail without their permissions.
    await applyAddonObjects(api, layout, toolchain.images.coredns);
    if (startKubeRouter(layout, toolchain.binaries.kubeRouter, kubeconfigs.kubeRouter))
      started.push('kube-router');
    if (
      startLocalPathProvisioner(
        layout,
        toolchain.binaries.localPathProvisioner,
        kubeconfigs.localPathProvisioner,
        toolchain.images.helper,
      )
    )
      started.push('local-path-provisioner');

    const progress = (what: string) => {
      let last = '';
      return (state: string) => {
        if (state !== last) log(`waiting for ${what}: ${state}`);
        last = state;
      };
    };
    await waitFor(
      `node ${layout.nodeName} Ready`,
      async () => {
        const r = await nodeReady(api, layout);
        return r === true || { waiting: r };
      },
      { timeoutMs, intervalMs: 1000, onWait: progress('the node') },
    );
    await waitFor(
      'CoreDNS (kube-system/coredns) ready',
      async () => {
        const r = await corednsReady(api);
        return r === true || { waiting: r };
      },
      { timeoutMs, intervalMs: 1000, onWait: progress('CoreDNS') },
    );
    await waitFor(
      `default StorageClass ${DEFAULT_STORAGE_CLASS}`,
      async () => {
        const r = await defaultStorageClass(api);
        return r === true || { waiting: r };
      },
      { timeoutMs, intervalMs: 1000 },
    );
    const version = (await api.get<{ gitVersion: string }>('/version')).gitVersion;
    const status = await clusterStatus({ environ });
    return {
      ...status,
      started,
      nodeName: layout.nodeName,
      kubernetesVersion: version,
      seconds: (Date.now() - began) / 1000,
    };
  } finally {
    api.close();
  }
}

/** containerd-shim processes serving the cluster's containerd (found by the socket address in their arguments). */
function shimPids(layout: ClusterLayout): number[] {
  return pidsWithArgument(layout.containerdSocket);
}

/** Everything of the cluster still on the host: processes, container, mounts, links, chains, sets, files. */
export async function clusterLeftovers(options: { environ?: NodeJS.ProcessEnv } = {}): Promise<string[]> {
  const layout = clusterLayout(options.environ);
  const left: string[] = [];
  for (const name of HOST_PROCESSES) {
    const pid = runningPid(layout, name);
    if (pid) left.push(`process ${name} (pid ${pid})`);
  }
  for (const pid of shimPids(layout)) left.push(`process containerd-shim (pid ${pid})`);
  for (const pid of podProcesses()) left.push(`pod process (pid ${pid})`);
  if (await etcdRunning(layout)) left.push(`docker container ${layout.etcdContainer}`);
  for (const point of mountsUnder([layout.stateDir, layout.runDir])) left.push(`mount ${point}`);
  for (const port of await bridgePorts(layout)) left.push(`veth ${port}`);
  if (await bridgeExists(layout)) left.push(`bridge ${layout.bridge}`);
  if (existsSync(path.join(layout.stateDir, 'netfilter-baseline.json'))) {
    const created = await createdNetfilter(layout);
    for (const [table, chains] of Object.entries(created.chains))
      for (const chain of chains) left.push(`iptables ${table}/${chain}`);
    for (const set of created.ipsets) left.push(`ipset ${set}`);
  }
  for (const entry of sharedHostEntries(layout, CNI_NETWORK)) left.push(`file ${entry}`);
  for (const dir of [layout.stateDir, layout.runDir]) if (existsSync(dir)) left.push(`directory ${dir}`);
  return left;
}

/**
 * Removes the cluster: stops every process it started (pods first, then node, then control plane), unmounts what it
 * mounted, removes the etcd container, pod cgroups, veths, the bridge, the chains and ipsets it created, restores the
 * kernel settings the kubelet changed, and deletes its state and runtime directories. Safe to run on a half-started
 * or already removed cluster.
 */
export async function clusterDown(options: ClusterOptions = {}): Promise<ClusterDownResult> {
  requireRoot('cluster down');
  return withClusterLock(clusterLayout(options.environ), () => down(options));
}

async function down(options: ClusterOptions): Promise<ClusterDownResult> {
  const began = Date.now();
  const layout = clusterLayout(options.environ);
  const log = options.log ?? (() => {});
  const removed: string[] = [];
  const sandboxIds: string[] = [];
  // Agents first (kube-router would re-add its rules), then the node, then the control plane.
  for (const name of [
    'kube-router',
    'local-path-provisioner',
    'kube-proxy',
    'kube-scheduler',
    'kube-controller-manager',
    'kubelet',
  ]) {
    if (await stopProcess(layout, name)) {
      removed.push(`process ${name}`);
      log(`stopped ${name}`);
    }
  }
  // Containers: through containerd while it runs (shims exit and clean up after themselves), then anything left.
  if (runningPid(layout, 'containerd')) {
    const run = ctr(layout);
    const tasks = (await run(['tasks', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
    for (const id of tasks) await run(['tasks', 'kill', '-s', 'SIGKILL', id]);
    for (const id of tasks) {
      await waitFor(
        `task ${id} to stop`,
        async () => {
          const list = (await run(['tasks', 'ls'])).stdout;
          return !list.split('\n').some((l) => l.startsWith(`${id} `) && l.includes('RUNNING')) || undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      ).catch(() => {});
      await run(['tasks', 'delete', '-f', id]);
    }
    const containers = (await run(['containers', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
    sandboxIds.push(...containers);
    for (const id of containers) await run(['containers', 'delete', id]);
    if (tasks.length + containers.length > 0)
      removed.push(`${tasks.length} tasks, ${containers.length} containers`);
  }
  for (const pid of podProcesses()) await killPid(pid, 2000);
  for (const pid of shimPids(layout)) {
    await killPid(pid, 5000);
    removed.push(`process containerd-shim (pid ${pid})`);
  }
  if (await stopProcess(layout, 'containerd')) removed.push('process containerd');
  if (await stopProcess(layout, 'kube-apiserver')) removed.push('process kube-apiserver');
  if (await removeEtcd(layout)) removed.push(`docker container ${layout.etcdContainer}`);
  for (const point of await unmountAll(layout)) removed.push(`mount ${point}`);
  for (const cg of await removePodCgroups()) removed.push(`cgroup ${cg}`);
  removed.push(...(await removeNetwork(layout)));
  for (const s of restoreSysctls(layout)) removed.push(`sysctl restored ${s}`);
  removed.push(...cleanSharedHostDirs(layout, CNI_NETWORK, sandboxIds));
  // Never delete through a mount that is still there (a bind mount would take its source's files with it).
  const stillMounted = mountsUnder([layout.stateDir, layout.runDir]);
  if (stillMounted.length > 0)
    throw new LocalClusterError(
      'cluster down',
      `these mounts could not be removed, so ${layout.stateDir} and ${layout.runDir} are kept: ${stillMounted.join(', ')}`,
      'find what holds them (fuser -vm <mount>), stop it, and run npm run cluster -- down again',
    );
  for (const dir of [layout.runDir, layout.stateDir]) {
    if (!existsSync(dir)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(`directory ${dir}`);
  }
  const leftovers = await clusterLeftovers(options);
  return { removed, leftovers, seconds: (Date.now() - began) / 1000 };
}
