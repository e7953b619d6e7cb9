import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/load.js';
import type { VectorstackConfig } from '../../lib/config/schema.js';
import { deployCluster, destroyCluster } from '../../lib/deploy/cluster.js';
import { type ControlPlane, startControlPlane } from '../../lib/deploy/envtest.js';
import { SECRET_NAMES } from '../../lib/services/types.js';
import { readToolchain } from '../../lib/setup/toolchain-file.js';
import { Progress } from '../../lib/util/progress.js';

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

describe('staging stack on a real Kubernetes API server', () => {
  let plane: ControlPlane;
  let cwd: string;
  let config: VectorstackConfig;
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
    ns = config.kubernetes.namespace;
  });

  afterAll(async () => {
    await plane?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

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
    const result = await withLogs('deploy', () => deployCluster({ config, cwd, progress, wait: false }));
    expect(result.changed).toBe(true);
    expect(result.stack).toBe('vectorstack-staging-cluster');
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
    const names = policies.items.map((p) => p.metadata.name);
    expect(names).toContain(`${project}-allow-dns`);
    expect(names.length).toBeGreaterThan(5);
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

  it('a second deploy plans no changes', async () => {
    const result = await withLogs('redeploy', () => deployCluster({ config, cwd, progress, wait: false }));
    expect(result.changed).toBe(false);
  });

  it('destroy removes the stack and the namespace finalizes', async () => {
    const result = await withLogs('destroy', () => destroyCluster({ config, cwd, progress, wait: false }));
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
    const again = await destroyCluster({ config, cwd, progress, wait: false });
    expect(again.changed).toBe(false);
  });
});
