import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $ } from 'zx';
import { readImageOverrides, resolveImages } from '../../lib/images.js';
import {
  type ApiClient,
  adminClient,
  type ClusterUpResult,
  clusterDown,
  clusterLayout,
  clusterToolchain,
  clusterUp,
  containerdImageName,
  DEFAULT_STORAGE_CLASS,
  HOST_PROCESSES,
  type KubeObject,
} from '../../lib/localcluster/index.js';
import { imagesFile } from '../../lib/paths.js';
import { waitFor } from '../../lib/util/poll.js';
import { Progress } from '../../lib/util/progress.js';

/**
 * The single-node cluster of lib/localcluster, for real: brought up from the binaries and images `npm run setup --
 * --tests` built (step cluster), exercised with the kit's offline PostgreSQL image under Pod Security "restricted",
 * DNS, NetworkPolicy enforcement and port-forwarding, then removed, checking that nothing is left. Needs root and the
 * prepared host; fails, never skips, without them.
 */
const layout = clusterLayout();
const NS = 'vectorstack-cluster-test';
const PASSWORD = 'cluster-test-password';
const OURS = /^(KUBE-|CNI-|VECTORSTACK-|kube-router-)/;

interface HostSnapshot {
  /** iptables chains as table/name. */
  chains: string[];
  ipsets: string[];
  links: string[];
  mounts: string[];
}

async function hostSnapshot(): Promise<HostSnapshot> {
  const chains: string[] = [];
  for (const table of ['filter', 'nat', 'mangle', 'raw']) {
    const out = await $({ quiet: true })`iptables -w 10 -t ${table} -S`;
    for (const l of out.stdout.split('\n')) if (l.startsWith('-N ')) chains.push(`${table}/${l.slice(3)}`);
  }
  const ipsets = (await $({ quiet: true, nothrow: true })`ipset list -n`).stdout.split('\n').filter(Boolean);
  const links = (await $({ quiet: true })`ip -o link show`).stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^@:\s]+)/.exec(l)?.[1])
    .filter((n): n is string => Boolean(n));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(layout.stateDir) || p.startsWith(layout.runDir));
  return { chains, ipsets, links, mounts };
}

/** Processes whose executable is one of the cluster's binaries, or a shim of its containerd. */
function clusterProcesses(binaries: string[]): string[] {
  const found: string[] = [];
  for (const pid of readdirNumbers('/proc')) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (binaries.includes(argv[0] ?? '') || argv.some((a) => a.includes(layout.containerdSocket)))
      found.push(`${pid} ${argv.slice(0, 2).join(' ')}`);
  }
  return found;
}

function readdirNumbers(dir: string): number[] {
  return readdirSync(dir)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n !== process.pid);
}

describe('single-node cluster (lib/localcluster)', () => {
  const progress = new Progress();
  let api: ApiClient;
  let kubectl: string;
  let postgresImage: string;
  let helperImage: string;
  let before: HostSnapshot;
  let up: ClusterUpResult;
  let binaries: string[];
  let downDone = false;

  const k = (args: string[]) =>
    $({
      quiet: true,
      nothrow: true,
      env: { ...process.env, KUBECONFIG: layout.kubeconfig },
    })`${kubectl} ${args}`;
  const apply = async (objects: KubeObject[]) => {
    for (const obj of objects) await api.apply(obj);
  };
  const podReady = (name: string) =>
    waitFor(
      `pod ${NS}/${name} Ready`,
      async () => {
        const pod = await api.get<{
          status: {
            phase: string;
            conditions?: { type: string; status: string }[];
            containerStatuses?: unknown;
          };
        }>(`/api/v1/namespaces/${NS}/pods/${name}`);
        const ready = pod.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
        return (
          ready || { waiting: `${pod.status.phase} ${JSON.stringify(pod.status.containerStatuses ?? [])}` }
        );
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );

  beforeAll(async () => {
    if (process.getuid?.() !== 0)
      throw new Error(
        'the local-cluster test needs root (it creates a bridge, iptables rules, cgroups, mounts)',
      );
    const toolchain = clusterToolchain();
    kubectl = toolchain.binaries.kubectl;
    binaries = [...Object.values(toolchain.binaries), '/usr/bin/containerd'];
    helperImage = toolchain.images.helper;
    postgresImage = resolveImages({}, readImageOverrides(imagesFile())).postgres;
    if (!postgresImage.startsWith('vectorstack-offline/'))
      throw new Error(`expected the kit's offline postgres image in ${imagesFile()}, found ${postgresImage}`);
    // A clean start: whatever an earlier run left is removed, then the host is recorded as it is without a cluster.
    await clusterDown();
    before = await hostSnapshot();
    up = await clusterUp({ log: (l) => progress.log(l), images: [postgresImage] });
    api = adminClient(layout);
  });

  afterAll(async () => {
    api?.close();
    if (!downDone) await clusterDown().catch(() => {});
  });

  it('comes up with a Ready node, CoreDNS and a default StorageClass', async () => {
    expect(up.ok, JSON.stringify(up.components, null, 2)).toBe(true);
    expect(up.kubernetesVersion).toBe(`v${clusterToolchain().kubernetesVersion}`);
    const nodes = await k(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}']);
    expect(nodes.stdout.trim()).toBe(layout.nodeName);
    const sc = await api.get<{ metadata: { annotations: Record<string, string> } }>(
      `/apis/storage.k8s.io/v1/storageclasses/${DEFAULT_STORAGE_CLASS}`,
    );
    expect(sc.metadata.annotations['storageclass.kubernetes.io/is-default-class']).toBe('true');
  });

  it('writes an owner-only kubeconfig and a second up changes nothing', async () => {
    expect(readFileSync(layout.kubeconfig, 'utf8')).toContain(layout.server);
    const mode = (await $({ quiet: true })`stat -c %a ${layout.kubeconfig}`).stdout.trim();
    expect(mode).toBe('600');
    const again = await clusterUp({ images: [postgresImage] });
    expect(again.started).toEqual([]);
    expect(again.ok).toBe(true);
  });

  it('runs the offline postgres image under Pod Security "restricted" on a volume from the default StorageClass', async () => {
    const labels = { app: 'pg' };
    const restricted = {
      runAsNonRoot: true,
      runAsUser: 999,
      runAsGroup: 999,
      fsGroup: 999,
      seccompProfile: { type: 'RuntimeDefault' },
    };
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: NS,
          labels: {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/enforce-version': 'latest',
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'pg-data', namespace: NS },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'pg', namespace: NS, labels },
        spec: {
          securityContext: restricted,
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'postgres',
              image: containerdImageName(postgresImage),
              imagePullPolicy: 'Never',
              env: [
                { name: 'POSTGRES_PASSWORD', value: PASSWORD },
                { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
              ],
              ports: [{ containerPort: 5432, name: 'pg' }],
              readinessProbe: {
                exec: { command: ['pg_isready', '-h', '127.0.0.1', '-q'] },
                periodSeconds: 2,
              },
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'data', mountPath: '/var/lib/postgresql/data' },
                { name: 'run', mountPath: '/var/run/postgresql' },
              ],
            },
          ],
          volumes: [
            { name: 'data', persistentVolumeClaim: { claimName: 'pg-data' } },
            { name: 'run', emptyDir: {} },
          ],
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'pg', namespace: NS },
        spec: { selector: labels, ports: [{ port: 5432, targetPort: 5432 }] },
      },
    ]);
    // The namespace really enforces "restricted": a pod without a security context is refused.
    const refused = await api.request<{ message: string }>(
      'POST',
      `/api/v1/namespaces/${NS}/pods?dryRun=All`,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'unrestricted' },
        spec: { containers: [{ name: 'c', image: containerdImageName(postgresImage) }] },
      },
    );
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('violates PodSecurity "restricted:latest"');

    await podReady('pg');
    const pvc = await api.get<{
      status: { phase: string };
      spec: { storageClassName: string; volumeName: string };
    }>(`/api/v1/namespaces/${NS}/persistentvolumeclaims/pg-data`);
    expect(pvc.status.phase).toBe('Bound');
    expect(pvc.spec.storageClassName).toBe(DEFAULT_STORAGE_CLASS);
    // The data directory is on the provisioned volume, owned by uid 999, and PostgreSQL writes to it.
    const sql = 'CREATE TABLE probe (v text); INSERT INTO probe VALUES ($$written in the cluster$$);';
    const write = await k([
      'exec',
      '-n',
      NS,
      'pg',
      '--',
      'psql',
      '-U',
      'postgres',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      sql,
    ]);
    expect(write.exitCode, write.stderr).toBe(0);
    const owner = await k([
      'exec',
      '-n',
      NS,
      'pg',
      '--',
      'stat',
      '-c',
      '%u %a',
      '/var/lib/postgresql/data/pgdata',
    ]);
    expect(owner.stdout.trim()).toBe('999 700');
    const volumeDir = `${layout.volumesDir}/${pvc.spec.volumeName}_${NS}_pg-data/pgdata/PG_VERSION`;
    expect(existsSync(volumeDir), volumeDir).toBe(true);
  });

  it('resolves kubernetes.default.svc.cluster.local from a pod through CoreDNS', async () => {
    const out = await k([
      'exec',
      '-n',
      NS,
      'pg',
      '--',
      'getent',
      'hosts',
      'kubernetes.default.svc.cluster.local',
    ]);
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.stdout.trim().split(/\s+/)[0]).toBe(layout.apiServiceIp);
    const svc = await k(['exec', '-n', NS, 'pg', '--', 'getent', 'hosts', `pg.${NS}.svc.cluster.local`]);
    expect(svc.stdout).toMatch(/^10\.96\.0\.\d+\s/);
  });

  it('enforces a NetworkPolicy: default deny, then allow from a label', async () => {
    const client = (name: string, labels: Record<string, string>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NS, labels },
      spec: {
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
        terminationGracePeriodSeconds: 0,
        containers: [
          {
            name: 'client',
            image: containerdImageName(helperImage),
            imagePullPolicy: 'Never',
            command: ['sleep', '3600'],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    });
    await apply([client('allowed', { access: 'pg' }), client('other', { access: 'none' })]);
    await podReady('allowed');
    await podReady('other');
    // bash's /dev/tcp: exit 0 when the TCP handshake with the Service's endpoint completes.
    const connect = (pod: string) =>
      k([
        'exec',
        '-n',
        NS,
        pod,
        '--',
        'timeout',
        '5',
        'bash',
        '-c',
        `exec 3<>/dev/tcp/pg.${NS}.svc.cluster.local/5432`,
      ]);
    expect((await connect('allowed')).exitCode).toBe(0);
    expect((await connect('other')).exitCode).toBe(0);

    await apply([
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'default-deny', namespace: NS },
        spec: { podSelector: {}, policyTypes: ['Ingress'] },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'pg-from-label', namespace: NS },
        spec: {
          podSelector: { matchLabels: { app: 'pg' } },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: { access: 'pg' } } }], ports: [{ port: 5432 }] }],
        },
      },
    ]);
    // kube-router programs the policy within a few seconds of the API change.
    await waitFor(
      'kube-router to block the pod without the label',
      async () => ((await connect('other')).exitCode !== 0 ? true : { waiting: 'other still connects' }),
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    expect((await connect('allowed')).exitCode).toBe(0);
    expect((await connect('other')).exitCode).not.toBe(0);
  });

  it('kubectl port-forward to the Service reaches PostgreSQL from 127.0.0.1', async () => {
    let forward: ChildProcess | undefined;
    try {
      forward = spawn(kubectl, ['port-forward', '-n', NS, '--address', '127.0.0.1', 'service/pg', ':5432'], {
        env: { ...process.env, KUBECONFIG: layout.kubeconfig },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      forward.stdout?.on('data', (d: Buffer) => {
        output += d.toString();
      });
      forward.stderr?.on('data', (d: Buffer) => {
        output += d.toString();
      });
      const port = await waitFor(
        'kubectl port-forward to print its local port',
        async () =>
          Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(output)?.[1]) || {
            waiting: output || 'no output',
          },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      const db = new pg.Client({
        host: '127.0.0.1',
        port,
        user: 'postgres',
        password: PASSWORD,
        database: 'postgres',
      });
      await db.connect();
      try {
        const { rows } = await db.query<{ v: string }>('SELECT v FROM probe');
        expect(rows).toEqual([{ v: 'written in the cluster' }]);
      } finally {
        await db.end();
      }
    } finally {
      forward?.kill('SIGTERM');
    }
  });

  it('down removes every process, mount, link, chain and file it created', async () => {
    const during = await hostSnapshot();
    expect(during.links).toContain(layout.bridge);
    expect(during.chains.filter((c) => OURS.test(c.split('/')[1]!)).length).toBeGreaterThan(0);
    // kube-router keeps the pods and peers a policy selects in ipsets.
    expect(during.ipsets.filter((x) => OURS.test(x)).length).toBeGreaterThan(0);
    expect(during.mounts.length).toBeGreaterThan(0);
    expect(clusterProcesses(binaries).length).toBeGreaterThanOrEqual(HOST_PROCESSES.length);
    // The host ends of the pods' veth pairs (other veths on the host belong to Docker and come and go).
    const podVeths = (await $({ quiet: true })`ip -o link show master ${layout.bridge}`).stdout
      .split('\n')
      .map((l) => /^\d+:\s+([^@:\s]+)/.exec(l)?.[1])
      .filter((n): n is string => Boolean(n));
    expect(podVeths.length).toBeGreaterThan(0);

    const down = await clusterDown();
    downDone = true;
    expect(down.leftovers).toEqual([]);
    const after = await hostSnapshot();
    const ours = (s: HostSnapshot) => ({
      chains: s.chains.filter((c) => OURS.test(c.split('/')[1]!)).sort(),
      ipsets: s.ipsets.filter((x) => OURS.test(x)).sort(),
      bridge: s.links.includes(layout.bridge),
      mounts: s.mounts,
    });
    expect(ours(after)).toEqual(ours(before));
    expect(after.links.filter((l) => podVeths.includes(l))).toEqual([]);
    expect(clusterProcesses(binaries)).toEqual([]);
    expect(existsSync(layout.stateDir)).toBe(false);
    expect(existsSync(layout.runDir)).toBe(false);
    const etcd = await $({ quiet: true, nothrow: true })`docker inspect ${layout.etcdContainer}`;
    expect(etcd.exitCode).not.toBe(0);
  });
});
