import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import type { ClusterLayout } from './layout.js';
import { killPid } from './processes.js';

/** Mount points at or under any of `roots`, deepest first (the order to unmount them in). */
export function mountsUnder(roots: string[]): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => Boolean(p))
    // mountinfo escapes spaces and the like as octal.
    .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
    .filter((p) => roots.some((r) => p === r || p.startsWith(`${r}/`)));
  return [...new Set(points)].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
}

/** Unmounts everything under the cluster's state and runtime directories; returns what it unmounted. */
export async function unmountAll(layout: ClusterLayout): Promise<string[]> {
  const done: string[] = [];
  // Bounded: a mount stacked on a mount shows again after the first umount.
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder([layout.stateDir, layout.runDir]);
    if (points.length === 0) break;
    for (const point of points) {
      const r = await $({ quiet: true, nothrow: true })`umount ${point}`;
      if (!r.ok) await $({ quiet: true, nothrow: true })`umount -l ${point}`;
      done.push(point);
    }
  }
  return done;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The kubelet's cgroup trees (`kubepods` in each v1 hierarchy, and in the unified one if present). */
export function podCgroupRoots(): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  const roots: string[] = [];
  for (const hierarchy of readdirSync(CGROUP_ROOT)) {
    for (const name of ['kubepods', 'kubepods.slice']) {
      const dir = path.join(CGROUP_ROOT, hierarchy, name);
      if (existsSync(dir)) roots.push(dir);
    }
  }
  if (existsSync(path.join(CGROUP_ROOT, 'kubepods'))) roots.push(path.join(CGROUP_ROOT, 'kubepods'));
  return roots;
}

function walkDirs(dir: string): string[] {
  const out: string[] = [dir];
  for (const entry of readdirSync(dir, { withFileTypes: true }))
    if (entry.isDirectory()) out.push(...walkDirs(path.join(dir, entry.name)));
  return out;
}

/** Pids of every process in the pods' cgroups (the containers and pause processes). */
export function podProcesses(): number[] {
  const pids = new Set<number>();
  for (const root of podCgroupRoots()) {
    for (const dir of walkDirs(root)) {
      const procs = path.join(dir, 'cgroup.procs');
      if (!existsSync(procs)) continue;
      for (const line of readFileSync(procs, 'utf8').split('\n')) if (line) pids.add(Number(line));
    }
  }
  return [...pids];
}

/** Kills whatever still runs in the pods' cgroups, then removes the cgroup directories (deepest first). */
export async function removePodCgroups(): Promise<string[]> {
  await Promise.all(podProcesses().map((pid) => killPid(pid, 2000)));
  const removed: string[] = [];
  for (const root of podCgroupRoots()) {
    const dirs = walkDirs(root).sort((a, b) => b.length - a.length);
    for (const dir of dirs) {
      try {
        rmdirSync(dir);
      } catch {}
    }
    if (!existsSync(root)) removed.push(root);
  }
  return removed;
}

/** Kernel settings the kubelet and kube-proxy change: recorded before the first `up`, restored by `down`. */
export const TOUCHED_SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/ipv4/conf/all/route_localnet',
  'net/netfilter/nf_conntrack_max',
  'net/bridge/bridge-nf-call-iptables',
  'net/ipv4/ip_forward',
];

function sysctlFile(layout: ClusterLayout): string {
  return path.join(layout.stateDir, 'sysctl-baseline.json');
}

export function recordSysctls(layout: ClusterLayout): void {
  if (existsSync(sysctlFile(layout))) return;
  const values: Record<string, string> = {};
  for (const key of TOUCHED_SYSCTLS) {
    const file = `/proc/sys/${key}`;
    if (existsSync(file)) values[key] = readFileSync(file, 'utf8').trim();
  }
  writeFileSync(sysctlFile(layout), `${JSON.stringify(values, null, 2)}\n`);
}

/** Writes back every recorded value that differs now; returns the keys it restored. */
export function restoreSysctls(layout: ClusterLayout): string[] {
  const file = sysctlFile(layout);
  if (!existsSync(file)) return [];
  const values = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const restored: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const proc = `/proc/sys/${key}`;
    try {
      if (readFileSync(proc, 'utf8').trim() !== value) {
        writeFileSync(proc, value);
        restored.push(`${key}=${value}`);
      }
    } catch {}
  }
  return restored;
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Host directories outside the cluster's own that its components write to whatever their configuration: shim sockets
 * (/run/containerd/s, fixed in containerd 1.6), libcni's result cache (/var/lib/cni/results) and the kubelet's
 * /var/log/containers symlinks. Whether each existed is recorded before the first `up`; `down` removes the cluster's
 * entries in them and the directories it created, once empty.
 */
export const SHARED_HOST_DIRS = [
  '/run/containerd',
  '/run/containerd/s',
  '/run/containerd/fifo',
  '/var/lib/cni',
  '/var/lib/cni/results',
  '/var/log/containers',
];

function hostDirsFile(layout: ClusterLayout): string {
  return path.join(layout.stateDir, 'host-dirs-baseline.json');
}

export function recordHostDirs(layout: ClusterLayout): void {
  if (existsSync(hostDirsFile(layout))) return;
  const existing = SHARED_HOST_DIRS.filter((d) => existsSync(d));
  writeFileSync(hostDirsFile(layout), `${JSON.stringify(existing, null, 2)}\n`);
}

/**
 * The cluster's entries in the shared host directories: CNI results of its network and of the loopback network of
 * its sandboxes (`cni-loopback-<sandbox id>-lo`; ids from its own network's results and `sandboxIds`), and log links
 * into its state directory.
 */
export function sharedHostEntries(
  layout: ClusterLayout,
  network: string,
  sandboxIds: string[] = [],
): string[] {
  const entries: string[] = [];
  const results = '/var/lib/cni/results';
  if (existsSync(results)) {
    const files = readdirSync(results);
    const ids = new Set(sandboxIds);
    for (const f of files) {
      const m = new RegExp(`^${network}-([0-9a-f]{64})-`).exec(f);
      if (m) {
        ids.add(m[1]!);
        entries.push(path.join(results, f));
      }
    }
    for (const f of files) {
      const m = /^cni-loopback-([0-9a-f]{64})-lo$/.exec(f);
      if (m && ids.has(m[1]!)) entries.push(path.join(results, f));
    }
  }
  const links = '/var/log/containers';
  if (existsSync(links))
    for (const f of readdirSync(links)) {
      const file = path.join(links, f);
      try {
        if (readlinkSync(file).startsWith(`${layout.stateDir}/`)) entries.push(file);
      } catch {}
    }
  return entries;
}

/** Removes the cluster's entries, then the shared directories it created if they are empty now. */
export function cleanSharedHostDirs(
  layout: ClusterLayout,
  network: string,
  sandboxIds: string[] = [],
): string[] {
  const removed: string[] = [];
  for (const entry of sharedHostEntries(layout, network, sandboxIds)) {
    rmSync(entry, { force: true });
    removed.push(`file ${entry}`);
  }
  const file = hostDirsFile(layout);
  const existed: string[] = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : SHARED_HOST_DIRS;
  for (const dir of [...SHARED_HOST_DIRS].reverse()) {
    if (existed.includes(dir) || !existsSync(dir)) continue;
    try {
      rmdirSync(dir);
      removed.push(`directory ${dir}`);
    } catch {}
  }
  return removed;
}
