import path from 'node:path';
import { WaitAbortError, waitFor } from '../util/poll.js';
import type { ApiClient } from './api.js';
import { writeIfChanged } from './files.js';
import type { ClusterLayout } from './layout.js';
import { logFile, logTail, runningPid, startDetached } from './processes.js';

/** Flags of kube-apiserver shared by the cluster and the envtest control plane. */
export interface ApiserverFlags {
  bindAddress: string;
  advertiseAddress: string;
  port: number;
  etcdServers: string;
  certDir: string;
  tlsCert: string;
  tlsKey: string;
  clientCa: string;
  serviceAccountIssuer: string;
  serviceAccountKey: string;
  serviceAccountSigningKey: string;
  serviceCidr: string;
  authorizationModes: string[];
  /** Static tokens (envtest). */
  tokenAuthFile?: string;
  /** The API server's client identity towards kubelets (cluster). */
  kubeletClient?: { cert: string; key: string; ca: string };
  extra?: string[];
}

export function apiserverArgs(f: ApiserverFlags): string[] {
  return [
    `--bind-address=${f.bindAddress}`,
    `--advertise-address=${f.advertiseAddress}`,
    `--secure-port=${f.port}`,
    `--etcd-servers=${f.etcdServers}`,
    `--cert-dir=${f.certDir}`,
    `--tls-cert-file=${f.tlsCert}`,
    `--tls-private-key-file=${f.tlsKey}`,
    `--client-ca-file=${f.clientCa}`,
    ...(f.tokenAuthFile ? [`--token-auth-file=${f.tokenAuthFile}`] : []),
    `--authorization-mode=${f.authorizationModes.join(',')}`,
    `--service-account-issuer=${f.serviceAccountIssuer}`,
    `--service-account-key-file=${f.serviceAccountKey}`,
    `--service-account-signing-key-file=${f.serviceAccountSigningKey}`,
    `--service-cluster-ip-range=${f.serviceCidr}`,
    ...(f.kubeletClient
      ? [
          `--kubelet-client-certificate=${f.kubeletClient.cert}`,
          `--kubelet-client-key=${f.kubeletClient.key}`,
          `--kubelet-certificate-authority=${f.kubeletClient.ca}`,
          '--kubelet-preferred-address-types=InternalIP',
        ]
      : []),
    '--profiling=false',
    '--v=1',
    ...(f.extra ?? []),
  ];
}

export interface ControllerManagerFlags {
  kubeconfig: string;
  serviceAccountKey: string;
  rootCa: string;
  /** Per-controller service-account credentials (RBAC as in a kubeadm cluster). */
  serviceAccountCredentials: boolean;
  extra?: string[];
}

export function controllerManagerArgs(f: ControllerManagerFlags): string[] {
  return [
    `--kubeconfig=${f.kubeconfig}`,
    '--leader-elect=false',
    `--service-account-private-key-file=${f.serviceAccountKey}`,
    `--root-ca-file=${f.rootCa}`,
    `--use-service-account-credentials=${f.serviceAccountCredentials}`,
    '--profiling=false',
    '--v=1',
    ...(f.extra ?? []),
  ];
}

export interface ControlPlaneBinaries {
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
}

/** Paths of the PKI files the control plane reads. */
export interface ControlPlaneFiles {
  ca: string;
  caKey: string;
  apiserver: { cert: string; key: string };
  apiserverKubeletClient: { cert: string; key: string };
  serviceAccount: { key: string; pub: string };
  kubeconfigs: { controllerManager: string; scheduler: string };
}

/**
 * kube-apiserver on the bridge address only (pods reach it through the `kubernetes` Service; the host through the
 * same address), Node+RBAC authorization, the default admission plugins (Pod Security and NodeRestriction among
 * them); then the controller manager (node CIDR allocation from the pod range) and the scheduler, both listening on
 * 127.0.0.1 only. Each is started only if its pidfile does not name a live process.
 */
export async function startControlPlane(
  layout: ClusterLayout,
  binaries: ControlPlaneBinaries,
  files: ControlPlaneFiles,
  api: ApiClient,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<string[]> {
  const started: string[] = [];
  const apiserver = startDetached(layout, {
    name: 'kube-apiserver',
    binary: binaries.kubeApiserver,
    args: apiserverArgs({
      bindAddress: layout.nodeIp,
      advertiseAddress: layout.nodeIp,
      port: layout.apiserverPort,
      etcdServers: `http://127.0.0.1:${layout.etcdClientPort}`,
      certDir: layout.pkiDir,
      tlsCert: files.apiserver.cert,
      tlsKey: files.apiserver.key,
      clientCa: files.ca,
      serviceAccountIssuer: `https://kubernetes.default.svc.${layout.clusterDomain}`,
      serviceAccountKey: files.serviceAccount.pub,
      serviceAccountSigningKey: files.serviceAccount.key,
      serviceCidr: layout.serviceCidr,
      authorizationModes: ['Node', 'RBAC'],
      kubeletClient: { ...files.apiserverKubeletClient, ca: files.ca },
      extra: ['--allow-privileged=true', '--enable-admission-plugins=NodeRestriction', '--event-ttl=1h'],
    }),
  });
  if (apiserver.started) {
    started.push('kube-apiserver');
    log(`kube-apiserver: starting on ${layout.server}`);
  }
  await waitFor(
    `kube-apiserver /readyz at ${layout.server}`,
    async () => {
      if (!runningPid(layout, 'kube-apiserver'))
        throw new WaitAbortError(
          `kube-apiserver exited; log ${logFile(layout, 'kube-apiserver')}:\n${logTail(layout, 'kube-apiserver')}`,
        );
      const res = await api.request<string>('GET', '/readyz');
      return res.status === 200 || { waiting: `HTTP ${res.status}` };
    },
    { timeoutMs, intervalMs: 500 },
  );

  const kcm = startDetached(layout, {
    name: 'kube-controller-manager',
    binary: binaries.kubeControllerManager,
    args: controllerManagerArgs({
      kubeconfig: files.kubeconfigs.controllerManager,
      serviceAccountKey: files.serviceAccount.key,
      rootCa: files.ca,
      serviceAccountCredentials: true,
      extra: [
        '--bind-address=127.0.0.1',
        '--allocate-node-cidrs=true',
        `--cluster-cidr=${layout.podCidr}`,
        `--node-cidr-mask-size=${layout.podCidr.split('/')[1]}`,
        `--service-cluster-ip-range=${layout.serviceCidr}`,
        `--cluster-signing-cert-file=${files.ca}`,
        `--cluster-signing-key-file=${files.caKey}`,
        '--controllers=*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
      ],
    }),
  });
  if (kcm.started) started.push('kube-controller-manager');

  const schedulerConfig = path.join(layout.stateDir, 'kube-scheduler.yaml');
  writeIfChanged(
    schedulerConfig,
    `${JSON.stringify(
      {
        apiVersion: 'kubescheduler.config.k8s.io/v1',
        kind: 'KubeSchedulerConfiguration',
        clientConnection: { kubeconfig: files.kubeconfigs.scheduler },
        leaderElection: { leaderElect: false },
      },
      null,
      2,
    )}\n`,
  );
  const scheduler = startDetached(layout, {
    name: 'kube-scheduler',
    binary: binaries.kubeScheduler,
    args: [`--config=${schedulerConfig}`, '--bind-address=127.0.0.1', '--profiling=false', '--v=1'],
  });
  if (scheduler.started) started.push('kube-scheduler');
  return started;
}
