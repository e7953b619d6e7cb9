import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/load.js';
import type { VectorstackConfig } from '../../lib/config/schema.js';
import { resolveDeployment } from '../../lib/deployment/resolve.js';
import { REPO_ROOT } from '../../lib/paths.js';
import { SECRET_NAMES } from '../../lib/services/types.js';
import { readToolchain } from '../../lib/setup/toolchain-file.js';
import { KubernetesDriver } from '../../lib/targets/kubernetes/driver.js';
import { Progress } from '../../lib/util/progress.js';
import { type ControlPlane, startControlPlane } from './envtest.js';

/**
 * The staging stack applied to a real kube-apiserver + kube-controller-manager (built by `npm run setup`, step
 * envtest) with `wait: false`, as `npm run deploy -- --env staging --no-wait` does; checked through the API, planned
 * again (no changes), destroyed. No scheduler and no kubelet: Pods are created by the StatefulSet/Job controllers and
 * admitted (Pod Security "restricted" is enforced), but none runs. Fails, never skips, without the binaries.
 */
const SERVERS = ['postgres', 'etcd', 'minio', 'milvus', 'redis'] as const;
const JOBS = ['minio-init'] as const;

interface ObjectMeta {
  name: string;
  labels?: Record<string, string>;
}
interface List<T> {
  items: T[];
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
interface PodSpec {
  serviceAccountName: string;
  automountServiceAccountToken?: boolean;
  securityContext: SecurityContext;
  containers: { name: string; securityContext: SecurityContext }[];
}
interface Workload {
  metadata: ObjectMeta;
  spec: { template: { spec: PodSpec } };
}

const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

describe('staging stack on a real Kubernetes API server', () => {
  let plane: ControlPlane;
  let cwd: string;
  let config: VectorstackConfig;
  let driver: KubernetesDriver;
  const progress = new Progress();
  let ns: string;
  const project = 'vectorstack';

  beforeAll(async () => {
    const envtest = readToolchain().envtest;
    if (!envtest)
      throw new Error('no kube-apiserver recorded in toolchain.json: run npm run setup (step envtest)');
    plane = await startControlPlane({ log: (line) => progress.log(line) });
    cwd = mkdtempSync(path.join(os.tmpdir(), 'vs-k8s-apply-'));
    config = loadConfig({
      env: 'staging',
      cwd,
      environ: {},
      overrides: { kubernetes: { context: plane.context, kubeconfig: plane.kubeconfig } },
    });
    // The CLI tests below read the same settings from a config file, as a user would write it.
    writeFileSync(
      path.join(cwd, 'vectorstack.config.json'),
      JSON.stringify({
        environments: { staging: { kubernetes: { context: plane.context, kubeconfig: plane.kubeconfig } } },
      }),
    );
    driver = new KubernetesDriver(resolveDeployment(config, { cwd }), { progress });
    ns = config.kubernetes.namespace;
  });

  afterAll(async () => {
    await plane?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  /** A command as a user runs it, in the directory holding the config file. */
  const runCli = (script: string, args: string[]) => {
    const { NODE_ENV: _test, ...environ } = process.env;
    const result = spawnSync(tsx, [path.join(REPO_ROOT, 'scripts', script), ...args], {
      cwd,
      env: environ,
      encoding: 'utf8',
      timeout: 180_000,
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  /** Adds the API server's log to a failure: the provider's error alone rarely names the admission cause. */
  const withLogs = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      (error as Error).message +=
        `\n--- kube-apiserver log (${what}) ---\n${plane.logTail('kube-apiserver', 20)}`;
      throw error;
    }
  };

  it('runs a control plane built from the pinned toolchain', () => {
    expect(plane.version).toBe(`v${readToolchain().envtest!.version}`);
    expect(plane.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('deploys staging with wait: false', async () => {
    const result = await withLogs('deploy', () => driver.apply({ wait: false }));
    expect(result.changed).toBe(true);
    expect(result.summaries).toEqual([
      expect.stringMatching(/^vectorstack-staging-cluster: Plan: \d+ to add, 0 to change, 0 to destroy/),
    ]);
    expect(result.credentialsLocation).toBe(
      'Secret vectorstack-credentials in namespace vectorstack-staging',
    );
  });

  it('created the namespace with Pod Security "restricted" enforced', async () => {
    const namespace = await plane.get<{ metadata: ObjectMeta; status: { phase: string } }>(
      `/api/v1/namespaces/${ns}`,
    );
    expect(namespace.status.phase).toBe('Active');
    expect(namespace.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'latest',
      'kubernetes.io/metadata.name': ns,
    });
  });

  it('created the StatefulSets and the bucket Job with restricted security contexts', async () => {
    const sets = await plane.get<List<Workload>>(`/apis/apps/v1/namespaces/${ns}/statefulsets`);
    const jobs = await plane.get<List<Workload>>(`/apis/batch/v1/namespaces/${ns}/jobs`);
    expect(sets.items.map((s) => s.metadata.name).sort()).toEqual(
      SERVERS.map((s) => `${project}-${s}`).sort(),
    );
    expect(jobs.items.map((j) => j.metadata.name)).toEqual(JOBS.map((j) => `${project}-${j}`));
    for (const workload of [...sets.items, ...jobs.items]) {
      const pod = workload.spec.template.spec;
      const name = workload.metadata.name;
      expect(pod.serviceAccountName, name).toBe(name);
      expect(pod.automountServiceAccountToken, name).toBe(false);
      expect(pod.securityContext, name).toMatchObject({
        runAsNonRoot: true,
        runAsUser: expect.any(Number),
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.securityContext.runAsUser, name).toBeGreaterThan(0);
      for (const container of pod.containers) {
        expect(container.securityContext, `${name}/${container.name}`).toMatchObject({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(container.securityContext.capabilities?.add ?? [], `${name}/${container.name}`).toEqual([]);
      }
    }
  });

  it('the controllers created every Pod and Pod Security "restricted" admitted them (none runs: no kubelet)', async () => {
    const expected = [...SERVERS.map((s) => `${project}-${s}-0`), ...JOBS.map((j) => `${project}-${j}-`)];
    const found = (names: string[], e: string) =>
      names.some((n) => (e.endsWith('-') ? n.startsWith(e) : n === e));
    type Pod = { metadata: ObjectMeta; spec: { nodeName?: string }; status: { phase: string } };
    const deadline = Date.now() + 90_000;
    let pods: Pod[] = [];
    for (;;) {
      pods = (await plane.get<List<Pod>>(`/api/v1/namespaces/${ns}/pods`)).items;
      const names = pods.map((p) => p.metadata.name);
      if (expected.every((e) => found(names, e)) || Date.now() > deadline) break;
      await sleep(1000);
    }
    // A Pod the namespace's policy refuses leaves a FailedCreate event naming the violated rule.
    const events = await plane.get<List<{ reason: string; message: string }>>(
      `/api/v1/namespaces/${ns}/events`,
    );
    expect(events.items.filter((e) => e.reason === 'FailedCreate').map((e) => e.message)).toEqual([]);
    const names = pods.map((p) => p.metadata.name);
    for (const e of expected) expect(found(names, e), `${e} among ${names.join(', ')}`).toBe(true);
    for (const pod of pods) {
      expect(pod.status.phase, pod.metadata.name).toBe('Pending');
      expect(pod.spec.nodeName, pod.metadata.name).toBeUndefined();
    }
  });

  it('enforces Pod Security "restricted": a Pod without a security context is refused (dry run)', async () => {
    const res = await plane.request<{ reason: string; message: string }>(
      'POST',
      `/api/v1/namespaces/${ns}/pods?dryRun=All`,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'unrestricted' },
        spec: { containers: [{ name: 'c', image: 'example.invalid/c' }] },
      },
    );
    expect(res.status).toBe(403);
    expect(res.body.message).toContain('violates PodSecurity "restricted:latest"');
  });

  it('stores the generated credentials in the Secret (keys only are checked)', async () => {
    const secret = await plane.get<{ type: string; data: Record<string, string> }>(
      `/api/v1/namespaces/${ns}/secrets/${project}-credentials`,
    );
    expect(secret.type).toBe('Opaque');
    expect(Object.keys(secret.data).sort()).toEqual([...SECRET_NAMES].sort());
    for (const name of SECRET_NAMES) expect(Buffer.from(secret.data[name]!, 'base64').length, name).toBe(32);
  });

  it('created the NetworkPolicies, default deny first among them', async () => {
    const policies = await plane.get<
      List<{ metadata: ObjectMeta; spec: { podSelector: object; policyTypes: string[] } }>
    >(`/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`);
    const deny = policies.items.find((p) => p.metadata.name === `${project}-default-deny`);
    expect(deny?.spec).toMatchObject({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    expect(deny?.spec).not.toHaveProperty('ingress');
    expect(deny?.spec).not.toHaveProperty('egress');
    const flows = [
      'app-to-postgres',
      'app-to-milvus',
      'app-to-redis',
      'milvus-to-etcd',
      'milvus-to-minio',
      'minio-init-to-minio',
      // The scheduled backup (kubernetes.backup, on in staging).
      'backup-to-postgres',
      'backup-to-redis',
      'backup-to-object-storage',
    ];
    expect(policies.items.map((p) => p.metadata.name).sort()).toEqual(
      ['default-deny', 'allow-dns', ...flows.flatMap((flow) => [`${flow}-egress`, `${flow}-ingress`])]
        .map((name) => `${project}-${name}`)
        .sort(),
    );
  });

  it('created a ServiceAccount per workload without token automount', async () => {
    const accounts = await plane.get<List<{ metadata: ObjectMeta; automountServiceAccountToken?: boolean }>>(
      `/api/v1/namespaces/${ns}/serviceaccounts`,
    );
    const ours = accounts.items.filter((a) => a.metadata.name !== 'default');
    expect(ours.map((a) => a.metadata.name).sort()).toEqual(
      [...SERVERS, ...JOBS].map((s) => `${project}-${s}`).sort(),
    );
    for (const account of ours)
      expect(account.automountServiceAccountToken, account.metadata.name).toBe(false);
  });

  it('created a client and a headless Service per server', async () => {
    const services = await plane.get<List<{ metadata: ObjectMeta; spec: { clusterIP: string } }>>(
      `/api/v1/namespaces/${ns}/services`,
    );
    const byName = new Map(services.items.map((s) => [s.metadata.name, s.spec]));
    for (const server of SERVERS) {
      expect(byName.get(`${project}-${server}`)?.clusterIP, server).toMatch(/^10\.96\.0\.\d+$/);
      expect(byName.get(`${project}-${server}-headless`)?.clusterIP, server).toBe('None');
    }
  });

  it('status lists each workload with its readiness as the API reports it (no node: nothing ready)', async () => {
    const workloads = await driver.status();
    expect(workloads.map((w) => `${w.kind}/${w.name} ${w.ready}`)).toEqual([
      'statefulset/vectorstack-postgres false',
      'statefulset/vectorstack-etcd false',
      'statefulset/vectorstack-minio false',
      'job/vectorstack-minio-init false',
      'statefulset/vectorstack-milvus false',
      'statefulset/vectorstack-redis false',
    ]);
    for (const w of workloads.filter((x) => x.kind === 'statefulset'))
      expect(w.state, w.name).toBe(`0/1 ready: ${w.name}-0 Pending`);
    // The command: a table naming each workload, exit 1 because none is ready.
    const cli = runCli('status.ts', ['--env', 'staging']);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(
      /postgres\s+│\s+statefulset\/vectorstack-postgres\s+│.*│\s+NO\s+│\s+0\/1 ready: vectorstack-postgres-0 Pending/,
    );
    expect(cli.stdout).toContain('not ready: postgres, etcd, minio, minio-init, milvus, redis');
  });

  it('bootstrap, smoke and recall fail within bounded time naming the Service and port when no pod runs', async () => {
    const started = Date.now();
    const error = await driver.open({ timeoutMs: 20_000 }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/environment staging: \d store\(s\) cannot be reached/);
    expect((error as Error).message).toMatch(
      /cannot reach service\/vectorstack-postgres:5432 in namespace vectorstack-staging: .*(pod is not running|Pending)/,
    );
    expect(Date.now() - started).toBeLessThan(60_000);
    for (const script of ['bootstrap.ts', 'smoke.ts', 'recall.ts']) {
      const cli = runCli(script, ['--env', 'staging']);
      expect(cli.code, `${script}: ${cli.stderr}`).toBe(1);
      expect(cli.stderr, script).toMatch(
        /cannot reach service\/vectorstack-(postgres:5432|milvus:19530|redis:6379|minio:9000) in namespace vectorstack-staging/,
      );
      expect(cli.stderr, script).toContain('check: npm run status -- --env staging');
    }
  });

  it('a second deploy plans no changes', async () => {
    const result = await withLogs('redeploy', () => driver.apply({ wait: false }));
    expect(result.changed).toBe(false);
  });

  it('destroy removes the stack and the namespace finalizes', async () => {
    const result = await withLogs('destroy', () => driver.destroy());
    expect(result.changed).toBe(true);
    // The provider returns once the namespace is gone; poll briefly in case it returned on "Terminating".
    const deadline = Date.now() + 120_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await plane.request('GET', `/api/v1/namespaces/${ns}`)).status;
      if (status === 404) break;
      await sleep(1000);
    }
    expect(status, plane.logTail('kube-controller-manager', 20)).toBe(404);
    for (const apiPath of [
      `/apis/apps/v1/namespaces/${ns}/statefulsets`,
      `/api/v1/namespaces/${ns}/pods`,
      `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
      `/api/v1/namespaces/${ns}/secrets`,
    ])
      expect((await plane.get<List<unknown>>(apiPath)).items, apiPath).toEqual([]);
    const again = await driver.destroy();
    expect(again.changed).toBe(false);
  });
});
