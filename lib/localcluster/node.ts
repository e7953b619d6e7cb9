import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { WaitAbortError, waitFor } from '../util/poll.js';
import { writeIfChanged } from './files.js';
import type { ClusterLayout } from './layout.js';
import { logFile, logTail, runningPid, startDetached } from './processes.js';

export interface NodeFiles {
  ca: string;
  kubeletServing: { cert: string; key: string };
  kubeconfigs: { kubelet: string; kubeProxy: string };
}

/**
 * The kubelet's configuration for this host: cgroupfs driver on cgroup v1 (kubelet 1.35 refuses v1 unless
 * failCgroupV1 is false), the cluster's containerd, API on the node address with webhook authn/z, health on
 * 127.0.0.1, no read-only port, images never garbage-collected (they are imported, not pulled), pods' DNS from the
 * cluster's CoreDNS only (resolvConf "" keeps the host's resolvers out of pods).
 */
export function kubeletConfig(layout: ClusterLayout, files: NodeFiles): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: layout.nodeIp,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: files.ca },
    },
    authorization: { mode: 'Webhook' },
    tlsCertFile: files.kubeletServing.cert,
    tlsPrivateKeyFile: files.kubeletServing.key,
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
    clusterDNS: [layout.dnsServiceIp],
    clusterDomain: layout.clusterDomain,
    resolvConf: '',
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '200Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    podCIDR: layout.podCidr,
    maxPods: 110,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    registerNode: true,
    makeIPTablesUtilChains: false,
    localStorageCapacityIsolation: true,
    containerLogMaxSize: '10Mi',
    containerLogMaxFiles: 3,
    shutdownGracePeriod: '0s',
    volumePluginDir: path.join(layout.stateDir, 'kubelet', 'volume-plugins'),
    podLogsDir: path.join(layout.stateDir, 'pod-logs'),
  };
}

/**
 * kube-proxy in iptables mode (no IPVS here): Services on the pod range, NodePorts only on the node address, no
 * localhost NodePorts (so route_localnet stays off), conntrack limits left as the host has them, health and metrics
 * on 127.0.0.1.
 */
export function kubeProxyConfig(layout: ClusterLayout, files: NodeFiles): object {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: files.kubeconfigs.kubeProxy },
    hostnameOverride: layout.nodeName,
    bindAddress: layout.nodeIp,
    clusterCIDR: layout.podCidr,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    nodePortAddresses: [`${layout.nodeIp}/32`],
    iptables: { localhostNodePorts: false, masqueradeAll: false },
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
    },
    detectLocalMode: 'ClusterCIDR',
  };
}

export async function startNode(
  layout: ClusterLayout,
  binaries: { kubelet: string; kubeProxy: string },
  files: NodeFiles,
  timeoutMs: number,
): Promise<string[]> {
  const started: string[] = [];
  const kubeletDir = path.join(layout.stateDir, 'kubelet');
  mkdirSync(kubeletDir, { recursive: true });
  const kubeletYaml = path.join(layout.stateDir, 'kubelet.yaml');
  writeIfChanged(kubeletYaml, `${JSON.stringify(kubeletConfig(layout, files), null, 2)}\n`);
  const kubelet = startDetached(layout, {
    name: 'kubelet',
    binary: binaries.kubelet,
    args: [
      `--config=${kubeletYaml}`,
      `--kubeconfig=${files.kubeconfigs.kubelet}`,
      `--hostname-override=${layout.nodeName}`,
      `--node-ip=${layout.nodeIp}`,
      `--root-dir=${kubeletDir}`,
      `--cert-dir=${path.join(kubeletDir, 'pki')}`,
      '--v=1',
    ],
  });
  if (kubelet.started) started.push('kubelet');
  await waitFor(
    'kubelet healthz at http://127.0.0.1:10248/healthz',
    async () => {
      if (!runningPid(layout, 'kubelet'))
        throw new WaitAbortError(
          `kubelet exited; log ${logFile(layout, 'kubelet')}:\n${logTail(layout, 'kubelet', 25)}`,
        );
      const ok = await fetch('http://127.0.0.1:10248/healthz', { signal: AbortSignal.timeout(3000) })
        .then((r) => r.ok)
        .catch(() => false);
      return ok || { waiting: 'not healthy yet' };
    },
    { timeoutMs, intervalMs: 500 },
  );

  const proxyYaml = path.join(layout.stateDir, 'kube-proxy.yaml');
  writeIfChanged(proxyYaml, `${JSON.stringify(kubeProxyConfig(layout, files), null, 2)}\n`);
  const proxy = startDetached(layout, {
    name: 'kube-proxy',
    binary: binaries.kubeProxy,
    args: [`--config=${proxyYaml}`, '--v=1'],
  });
  if (proxy.started) started.push('kube-proxy');
  return started;
}
