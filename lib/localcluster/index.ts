/**
 * A disposable single-node Kubernetes cluster on this host, built offline (`npm run setup -- --tests`, step
 * cluster): etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a containerd of its own, kubelet,
 * kube-proxy, CoreDNS, kube-router's network policy controller and local-path-provisioner. See docs/local-cluster.md.
 */
import { importImages } from './containerd.js';
import { LocalClusterError } from './errors.js';
import { clusterLayout } from './layout.js';
import { runningPid } from './processes.js';

export { DEFAULT_STORAGE_CLASS } from './addons.js';
export { ApiClient, type ApiResponse, type KubeObject } from './api.js';
export { containerdImageName } from './containerd.js';
export { LocalClusterError } from './errors.js';
export { CLUSTER_CONTEXT, type ClusterLayout, clusterLayout } from './layout.js';
export {
  adminClient,
  type ClusterDownResult,
  type ClusterOptions,
  type ClusterStatus,
  type ClusterUpResult,
  type ComponentState,
  clusterDown,
  clusterLeftovers,
  clusterStatus,
  clusterToolchain,
  clusterUp,
  HOST_PROCESSES,
} from './lifecycle.js';

/** Imports Docker images into the running cluster's containerd (skips those already imported unchanged). */
export async function importClusterImages(
  tags: string[],
  options: { environ?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<{ imported: string[]; skipped: string[] }> {
  const layout = clusterLayout(options.environ);
  if (!runningPid(layout, 'containerd'))
    throw new LocalClusterError(
      'containerd',
      `the cluster's containerd is not running (socket ${layout.containerdSocket})`,
      'run: npm run cluster -- up',
    );
  return importImages(layout, tags, options.log);
}
