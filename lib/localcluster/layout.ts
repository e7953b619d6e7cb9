import path from 'node:path';
import { cacheDir } from '../paths.js';

/**
 * Where the local cluster keeps its files and which addresses it uses. One cluster per host: the bridge, the
 * addresses and the runtime directory are fixed, the state directory follows the kit's cache directory.
 */
export interface ClusterLayout {
  /** State: certificates, kubeconfigs, configs, logs, pidfiles, containerd's root, kubelet's root, volumes. */
  stateDir: string;
  /** Sockets and containerd's runtime state (short paths: unix sockets are limited to 107 bytes). */
  runDir: string;
  /** The admin kubeconfig (0600) printed by `npm run cluster -- up`. */
  kubeconfig: string;
  context: string;
  nodeName: string;
  /** The cluster's own bridge; its address is the node's address and the API server's. */
  bridge: string;
  nodeIp: string;
  podCidr: string;
  serviceCidr: string;
  /** First address of the service range: the `kubernetes` Service. */
  apiServiceIp: string;
  dnsServiceIp: string;
  clusterDomain: string;
  apiserverPort: number;
  /** etcd listens on 127.0.0.1 only. */
  etcdClientPort: number;
  etcdPeerPort: number;
  /** https://<nodeIp>:<apiserverPort> */
  server: string;
  etcdContainer: string;
  /** Host-local IPAM state and the CNI configuration. */
  cniDir: string;
  /** Where local-path-provisioner creates volumes. */
  volumesDir: string;
  logsDir: string;
  pidsDir: string;
  pkiDir: string;
  containerdSocket: string;
}

export const CLUSTER_CONTEXT = 'vectorstack-cluster';
/** iptables chains and ipsets created by the cluster's own guard rules start with this. */
export const GUARD_CHAIN_PREFIX = 'VECTORSTACK-CLUSTER';

export function clusterLayout(environ: NodeJS.ProcessEnv = process.env): ClusterLayout {
  const stateDir = environ.VECTORSTACK_CLUSTER_DIR
    ? path.resolve(environ.VECTORSTACK_CLUSTER_DIR)
    : path.join(cacheDir(environ), 'cluster');
  const runDir = '/run/vectorstack-cluster';
  const nodeIp = '10.244.0.1';
  const apiserverPort = 6443;
  return {
    stateDir,
    runDir,
    kubeconfig: path.join(stateDir, 'kubeconfig'),
    context: CLUSTER_CONTEXT,
    nodeName: 'vectorstack-node',
    bridge: 'vskube0',
    nodeIp,
    podCidr: '10.244.0.0/24',
    serviceCidr: '10.96.0.0/24',
    apiServiceIp: '10.96.0.1',
    dnsServiceIp: '10.96.0.10',
    clusterDomain: 'cluster.local',
    apiserverPort,
    etcdClientPort: 23790,
    etcdPeerPort: 23800,
    server: `https://${nodeIp}:${apiserverPort}`,
    etcdContainer: 'vectorstack-cluster-etcd',
    cniDir: path.join(stateDir, 'cni'),
    volumesDir: path.join(stateDir, 'volumes'),
    logsDir: path.join(stateDir, 'logs'),
    pidsDir: path.join(stateDir, 'pids'),
    pkiDir: path.join(stateDir, 'pki'),
    containerdSocket: path.join(runDir, 'containerd.sock'),
  };
}
