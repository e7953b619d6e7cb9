import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { LocalClusterError } from './errors.js';
import { type ClusterLayout, GUARD_CHAIN_PREFIX } from './layout.js';

const TABLES = ['filter', 'nat', 'mangle', 'raw'] as const;
type Table = (typeof TABLES)[number];

/** Chains (per table) and ipsets that existed before the cluster first came up: down never removes these. */
export interface NetfilterSnapshot {
  chains: Record<Table, string[]>;
  ipsets: string[];
}

/** Names the cluster's components give their chains and sets (kube-proxy, kubelet, kube-router, CNI, the guard). */
const OURS = /^(KUBE-|CNI-|VECTORSTACK-|kube-router-|inet4:|inet6:)/;

async function chains(table: Table): Promise<string[]> {
  const out = await $({ quiet: true })`iptables -w 10 -t ${table} -S`;
  return out.stdout
    .split('\n')
    .filter((l) => l.startsWith('-N '))
    .map((l) => l.slice(3).trim());
}

async function ipsets(): Promise<string[]> {
  const out = await $({ quiet: true, nothrow: true })`ipset list -n`;
  return out.ok ? out.stdout.split('\n').filter(Boolean) : [];
}

export async function netfilterSnapshot(): Promise<NetfilterSnapshot> {
  const snapshot = { chains: {} as Record<Table, string[]>, ipsets: await ipsets() };
  for (const table of TABLES) snapshot.chains[table] = await chains(table);
  return snapshot;
}

function baselineFile(layout: ClusterLayout): string {
  return path.join(layout.stateDir, 'netfilter-baseline.json');
}

/** Records what existed before the first `up` (kept until `down`), so `down` removes only what the cluster made. */
export async function recordBaseline(layout: ClusterLayout): Promise<void> {
  if (existsSync(baselineFile(layout))) return;
  writeFileSync(baselineFile(layout), `${JSON.stringify(await netfilterSnapshot(), null, 2)}\n`);
}

export function readBaseline(layout: ClusterLayout): NetfilterSnapshot {
  const file = baselineFile(layout);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as NetfilterSnapshot;
  return { chains: { filter: [], nat: [], mangle: [], raw: [] }, ipsets: [] };
}

/** Chains and ipsets present now that the cluster created (absent from the baseline, named like ours). */
export async function createdNetfilter(layout: ClusterLayout): Promise<NetfilterSnapshot> {
  const baseline = readBaseline(layout);
  const now = await netfilterSnapshot();
  const created = { chains: {} as Record<Table, string[]>, ipsets: [] as string[] };
  for (const table of TABLES)
    created.chains[table] = now.chains[table].filter(
      (c) => OURS.test(c) && !baseline.chains[table].includes(c),
    );
  created.ipsets = now.ipsets.filter((s) => OURS.test(s) && !baseline.ipsets.includes(s));
  return created;
}

async function linkExists(name: string): Promise<boolean> {
  return (await $({ quiet: true, nothrow: true })`ip link show dev ${name}`).ok;
}

const FORWARD_CHAIN = `${GUARD_CHAIN_PREFIX}-FORWARD`;
const ISOLATE_CHAIN = `${GUARD_CHAIN_PREFIX}-ISOLATE`;

async function ensureRule(table: Table, chain: string, rule: string[], position: 'append' | 'insert') {
  const exists = (await $({ quiet: true, nothrow: true })`iptables -w 10 -t ${table} -C ${chain} ${rule}`).ok;
  if (exists) return;
  if (position === 'insert') await $({ quiet: true })`iptables -w 10 -t ${table} -I ${chain} 1 ${rule}`;
  else await $({ quiet: true })`iptables -w 10 -t ${table} -A ${chain} ${rule}`;
}

async function ensureChain(table: Table, chain: string) {
  if (!(await $({ quiet: true, nothrow: true })`iptables -w 10 -t ${table} -S ${chain}`).ok)
    await $({ quiet: true })`iptables -w 10 -t ${table} -N ${chain}`;
}

/**
 * The cluster's bridge with the node address, a route that keeps the service range on the bridge (a Service
 * address kube-proxy has not programmed yet goes nowhere instead of the default route), and two guard chains:
 * - filter FORWARD (appended, after kube-router's and Docker's rules): pod-to-pod traffic on the bridge is accepted
 *   (Docker sets the FORWARD policy to DROP);
 * - mangle FORWARD: nothing is forwarded between the bridge and any other interface, in either direction: pods
 *   reach each other, Services and the node itself, never another network.
 */
export async function ensureBridge(layout: ClusterLayout): Promise<void> {
  const { bridge, nodeIp, podCidr, serviceCidr } = layout;
  const prefix = podCidr.split('/')[1];
  try {
    if (!(await linkExists(bridge))) await $({ quiet: true })`ip link add ${bridge} type bridge`;
    const addrs = (await $({ quiet: true })`ip -4 -o addr show dev ${bridge}`).stdout;
    if (!addrs.includes(`${nodeIp}/${prefix}`))
      await $({ quiet: true })`ip addr add ${`${nodeIp}/${prefix}`} dev ${bridge}`;
    await $({ quiet: true })`ip link set ${bridge} up`;
    await $({ quiet: true })`ip route replace ${serviceCidr} dev ${bridge}`;
    await ensureChain('filter', FORWARD_CHAIN);
    await ensureRule('filter', FORWARD_CHAIN, ['-i', bridge, '-o', bridge, '-j', 'ACCEPT'], 'append');
    await ensureRule('filter', 'FORWARD', ['-j', FORWARD_CHAIN], 'append');
    await ensureChain('mangle', ISOLATE_CHAIN);
    await ensureRule('mangle', ISOLATE_CHAIN, ['-i', bridge, '!', '-o', bridge, '-j', 'DROP'], 'append');
    await ensureRule('mangle', ISOLATE_CHAIN, ['!', '-i', bridge, '-o', bridge, '-j', 'DROP'], 'append');
    await ensureRule('mangle', 'FORWARD', ['-j', ISOLATE_CHAIN], 'insert');
  } catch (error) {
    throw new LocalClusterError(
      'network',
      `could not set up bridge ${bridge} (${nodeIp}/${prefix}) and its guard rules: ${(error as Error).message}`,
      'run as root on a host with iproute2 and iptables (Debian: apt-get install iproute2 iptables)',
    );
  }
}

/** Host ends of pod veth pairs still attached to the bridge. */
export async function bridgePorts(layout: ClusterLayout): Promise<string[]> {
  if (!(await linkExists(layout.bridge))) return [];
  const out = await $({ quiet: true, nothrow: true })`ip -o link show master ${layout.bridge}`;
  return out.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^@:\s]+)/.exec(l)?.[1])
    .filter((n): n is string => Boolean(n));
}

export async function bridgeExists(layout: ClusterLayout): Promise<boolean> {
  return linkExists(layout.bridge);
}

/**
 * Removes what the cluster added to the host network: veths on the bridge, the bridge (its route goes with it), and
 * every chain and ipset it created (rules in other chains that jump to them first). Chains and sets from the
 * baseline (Docker's, anything that was there before) are left alone. Returns what it removed.
 */
export async function removeNetwork(layout: ClusterLayout): Promise<string[]> {
  const removed: string[] = [];
  for (const port of await bridgePorts(layout)) {
    await $({ quiet: true, nothrow: true })`ip link delete ${port}`;
    removed.push(`veth ${port}`);
  }
  if (await linkExists(layout.bridge)) {
    await $({ quiet: true })`ip link delete ${layout.bridge}`;
    removed.push(`bridge ${layout.bridge}`);
  }
  await $({ quiet: true, nothrow: true })`ip route delete ${layout.serviceCidr}`;
  const created = await createdNetfilter(layout);
  for (const table of TABLES) {
    const mine = new Set(created.chains[table]);
    if (mine.size === 0) continue;
    // Rules in chains that stay (built-in or foreign) jumping to ours.
    const rules = (await $({ quiet: true })`iptables -w 10 -t ${table} -S`).stdout.split('\n');
    for (const rule of rules) {
      const m = /^-A (\S+) (.*)$/.exec(rule);
      if (!m || mine.has(m[1]!)) continue;
      const target = /(?:^| )-[jg] (\S+)/.exec(m[2]!)?.[1];
      if (!target || !mine.has(target)) continue;
      const args = splitRule(m[2]!);
      await $({ quiet: true, nothrow: true })`iptables -w 10 -t ${table} -D ${m[1]!} ${args}`;
    }
    for (const chain of mine) await $({ quiet: true, nothrow: true })`iptables -w 10 -t ${table} -F ${chain}`;
    for (const chain of mine) {
      const r = await $({ quiet: true, nothrow: true })`iptables -w 10 -t ${table} -X ${chain}`;
      if (r.ok) removed.push(`iptables ${table}/${chain}`);
    }
  }
  for (const set of created.ipsets) {
    const r = await $({ quiet: true, nothrow: true })`ipset destroy ${set}`;
    if (r.ok) removed.push(`ipset ${set}`);
  }
  return removed;
}

/** Splits an `iptables -S` rule into arguments, keeping double-quoted words (comments) whole. */
export function splitRule(rule: string): string[] {
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m; m = re.exec(rule))
    args.push(m[1] !== undefined ? m[1].replace(/\\"/g, '"') : m[2]!);
  return args;
}
