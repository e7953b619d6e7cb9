import { describe, expect, it } from 'vitest';
import { corednsObjects, corefile, localPathObjects } from '../../lib/localcluster/addons.js';
import { objectPath } from '../../lib/localcluster/api.js';
import { cniConfig, containerdConfig, containerdImageName } from '../../lib/localcluster/containerd.js';
import { clusterLayout } from '../../lib/localcluster/layout.js';
import { splitRule } from '../../lib/localcluster/network.js';
import { kubeletConfig, kubeProxyConfig } from '../../lib/localcluster/node.js';
import { WaitAbortError, WaitTimeoutError, waitFor } from '../../lib/util/poll.js';

const layout = clusterLayout({ VECTORSTACK_CLUSTER_DIR: '/tmp/vs-cluster-unit' });

describe('waitFor', () => {
  it('returns the first result and treats undefined, false and { waiting } as "not yet"', async () => {
    const seen: string[] = [];
    let n = 0;
    const value = await waitFor(
      'three probes',
      async () => {
        n++;
        if (n === 1) return undefined;
        if (n === 2) return false;
        if (n === 3) return { waiting: 'almost' };
        return { answer: 42 };
      },
      { timeoutMs: 5000, intervalMs: 1, onWait: (state) => seen.push(state) },
    );
    expect(value).toEqual({ answer: 42 });
    expect(seen).toEqual(['not yet', 'false', 'almost']);
  });

  it('times out naming what it waited for, the elapsed time and the last state (a thrown message counts)', async () => {
    const error = await waitFor(
      'the moon',
      async () => {
        throw new Error('connection refused 127.0.0.1:1');
      },
      { timeoutMs: 30, intervalMs: 5 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toMatch(
      /^the moon: not done after \d+\.\ds; last observed: connection refused 127\.0\.0\.1:1$/,
    );
  });

  it('stops at once on WaitAbortError', async () => {
    let probes = 0;
    const error = await waitFor(
      'a process',
      async () => {
        probes++;
        throw new WaitAbortError('kubelet exited');
      },
      { timeoutMs: 10_000, intervalMs: 1 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitAbortError);
    expect(probes).toBe(1);
  });
});

describe('local cluster configuration', () => {
  it('names imported Docker tags the way containerd stores them', () => {
    expect(containerdImageName('vectorstack-offline/postgres:17.12-pgvector0.8.0')).toBe(
      'docker.io/vectorstack-offline/postgres:17.12-pgvector0.8.0',
    );
    expect(containerdImageName('busybox')).toBe('docker.io/library/busybox:latest');
    expect(containerdImageName('registry.internal:5000/team/app:1')).toBe(
      'registry.internal:5000/team/app:1',
    );
  });

  it('listens only on 127.0.0.1 and the bridge address', () => {
    const kubelet = kubeletConfig(layout, {
      ca: 'ca.crt',
      kubeletServing: { cert: 's.crt', key: 's.key' },
      kubeconfigs: { kubelet: 'k', kubeProxy: 'p' },
    }) as Record<string, unknown>;
    expect(kubelet).toMatchObject({
      address: layout.nodeIp,
      healthzBindAddress: '127.0.0.1',
      readOnlyPort: 0,
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      imageGCHighThresholdPercent: 100,
      resolvConf: '',
    });
    const proxy = kubeProxyConfig(layout, {
      ca: 'ca.crt',
      kubeletServing: { cert: 's.crt', key: 's.key' },
      kubeconfigs: { kubelet: 'k', kubeProxy: 'p' },
    }) as Record<string, unknown>;
    expect(proxy).toMatchObject({
      mode: 'iptables',
      healthzBindAddress: '127.0.0.1:10256',
      metricsBindAddress: '127.0.0.1:10249',
      nodePortAddresses: [`${layout.nodeIp}/32`],
      iptables: { localhostNodePorts: false },
    });
    const containerd = containerdConfig(layout, 'docker.io/vectorstack-offline/pause:3.10.1');
    expect(containerd).toContain('stream_server_address = "127.0.0.1"');
    expect(containerd).toContain('[metrics]\n  address = ""');
    expect(containerd).toContain('netns_mounts_under_state_dir = true');
    expect(containerd).toContain('restrict_oom_score_adj = true');
  });

  it('gives pods the cluster bridge and range, without masquerading them anywhere', () => {
    const cni = JSON.parse(cniConfig(layout)) as {
      plugins: { type: string; bridge: string; ipMasq: boolean; ipam: { ranges: { subnet: string }[][] } }[];
    };
    expect(cni.plugins[0]).toMatchObject({ type: 'bridge', bridge: layout.bridge, ipMasq: false });
    expect(cni.plugins[0]!.ipam.ranges[0]![0]!.subnet).toBe(layout.podCidr);
  });

  it('CoreDNS answers for the cluster domain only and sits behind kube-dns, labelled k8s-app=kube-dns', () => {
    expect(corefile(layout)).toContain(`kubernetes ${layout.clusterDomain} in-addr.arpa ip6.arpa`);
    expect(corefile(layout)).not.toContain('forward');
    const objects = corednsObjects(layout, 'vectorstack-offline/coredns:1.15.0');
    const service = objects.find((o) => o.kind === 'Service')!;
    expect(service.metadata).toMatchObject({ name: 'kube-dns', namespace: 'kube-system' });
    expect((service.spec as { clusterIP: string }).clusterIP).toBe(layout.dnsServiceIp);
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    expect(
      (deployment.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata
        .labels,
    ).toEqual({ 'k8s-app': 'kube-dns' });
  });

  it('marks local-path the default StorageClass, binding on first consumer', () => {
    const sc = localPathObjects().find((o) => o.kind === 'StorageClass')!;
    expect(sc.metadata.annotations).toEqual({ 'storageclass.kubernetes.io/is-default-class': 'true' });
    expect(sc.volumeBindingMode).toBe('WaitForFirstConsumer');
    expect(objectPath(sc)).toBe('/apis/storage.k8s.io/v1/storageclasses/local-path');
  });

  it('splits iptables -S rules with quoted comments into arguments', () => {
    expect(
      splitRule('INPUT -m comment --comment "kube-router netpol - 4IA2OSFRMVNDXBVV" -j KUBE-ROUTER-INPUT'),
    ).toEqual([
      'INPUT',
      '-m',
      'comment',
      '--comment',
      'kube-router netpol - 4IA2OSFRMVNDXBVV',
      '-j',
      'KUBE-ROUTER-INPUT',
    ]);
  });
});
