import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ApiClient, KubeObject } from './api.js';
import { containerdImageName } from './containerd.js';
import { writeIfChanged } from './files.js';
import type { ClusterLayout } from './layout.js';
import { KUBE_ROUTER_USER, LOCAL_PATH_PROVISIONER_USER } from './pki.js';
import { startDetached } from './processes.js';

export const DEFAULT_STORAGE_CLASS = 'local-path';
export const LOCAL_PATH_NAMESPACE = 'local-path-storage';

/**
 * CoreDNS's Corefile: the cluster domain and reverse zones from the API, nothing forwarded (the cluster has no
 * upstream: a name outside cluster.local gets SERVFAIL instead of a query leaving the host).
 */
export function corefile(layout: ClusterLayout): string {
  return `.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes ${layout.clusterDomain} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
    loop
    reload
    loadbalance
}
`;
}

/** CoreDNS as a Deployment in kube-system labelled k8s-app=kube-dns behind Service kube-dns (as kubeadm names it). */
export function corednsObjects(layout: ClusterLayout, image: string): KubeObject[] {
  const ns = 'kube-system';
  const labels = { 'k8s-app': 'kube-dns' };
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'coredns', namespace: ns },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: ns },
      data: { Corefile: corefile(layout) },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            priorityClassName: 'system-cluster-critical',
            dnsPolicy: 'Default',
            tolerations: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
              // Port 53 without a capability: a namespaced, "safe" sysctl (allowed even under restricted).
              sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '53' }],
            },
            containers: [
              {
                name: 'coredns',
                image: containerdImageName(image),
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                resources: { requests: { cpu: '50m', memory: '40Mi' }, limits: { memory: '170Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                livenessProbe: {
                  httpGet: { path: '/health', port: 8080 },
                  initialDelaySeconds: 60,
                  timeoutSeconds: 5,
                  failureThreshold: 5,
                },
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: ns, labels: { ...labels, 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        selector: labels,
        clusterIP: layout.dnsServiceIp,
        ports: [
          { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' },
        ],
      },
    },
  ];
}

const SETUP_SCRIPT = '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n';
const TEARDOWN_SCRIPT = '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n';

/** The objects local-path-provisioner needs in the cluster: its namespace, the helper pods' account and scripts, and the default StorageClass. */
export function localPathObjects(): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LOCAL_PATH_NAMESPACE } },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'local-path-provisioner', namespace: LOCAL_PATH_NAMESPACE },
      automountServiceAccountToken: false,
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'local-path-config', namespace: LOCAL_PATH_NAMESPACE },
      data: { setup: SETUP_SCRIPT, teardown: TEARDOWN_SCRIPT },
    },
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: {
        name: DEFAULT_STORAGE_CLASS,
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      },
      provisioner: 'rancher.io/local-path',
      volumeBindingMode: 'WaitForFirstConsumer',
      reclaimPolicy: 'Delete',
    },
  ];
}

/**
 * Roles of the two host agents, bound to the users of their client certificates: kube-router reads what network
 * policies select (as its DaemonSet's ClusterRole upstream); local-path-provisioner's rules are those of its
 * v0.0.30 manifest (leader election is off).
 */
export function agentRbacObjects(): KubeObject[] {
  const rbac = 'rbac.authorization.k8s.io';
  const user = (name: string) => [{ apiGroup: rbac, kind: 'User', name }];
  return [
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'vectorstack:kube-router' },
      rules: [
        {
          apiGroups: [''],
          resources: ['namespaces', 'pods', 'services', 'nodes', 'endpoints'],
          verbs: ['get', 'list', 'watch'],
        },
        { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'vectorstack:kube-router' },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'vectorstack:kube-router' },
      subjects: user(KUBE_ROUTER_USER),
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'vectorstack:local-path-provisioner' },
      rules: [
        {
          apiGroups: [''],
          resources: ['nodes', 'persistentvolumeclaims', 'configmaps', 'pods', 'pods/log'],
          verbs: ['get', 'list', 'watch'],
        },
        {
          apiGroups: [''],
          resources: ['persistentvolumes'],
          verbs: ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'],
        },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
        { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'vectorstack:local-path-provisioner' },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'vectorstack:local-path-provisioner' },
      subjects: user(LOCAL_PATH_PROVISIONER_USER),
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'Role',
      metadata: { name: 'vectorstack:local-path-provisioner', namespace: LOCAL_PATH_NAMESPACE },
      rules: [
        {
          apiGroups: [''],
          resources: ['pods'],
          verbs: ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'],
        },
      ],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'RoleBinding',
      metadata: { name: 'vectorstack:local-path-provisioner', namespace: LOCAL_PATH_NAMESPACE },
      roleRef: { apiGroup: rbac, kind: 'Role', name: 'vectorstack:local-path-provisioner' },
      subjects: user(LOCAL_PATH_PROVISIONER_USER),
    },
  ];
}

export async function applyAddonObjects(api: ApiClient, layout: ClusterLayout, corednsImage: string) {
  for (const obj of [...localPathObjects(), ...agentRbacObjects(), ...corednsObjects(layout, corednsImage)])
    await api.apply(obj);
}

/**
 * kube-router's network policy controller only (no routing, no service proxy: kube-proxy does Services), as a host
 * process with a kubeconfig of its own (user system:vectorstack:kube-router). It programs iptables and ipsets from NetworkPolicies; no health or metrics
 * listener.
 */
export function startKubeRouter(layout: ClusterLayout, binary: string, kubeconfig: string): boolean {
  return startDetached(layout, {
    name: 'kube-router',
    binary,
    args: [
      `--kubeconfig=${kubeconfig}`,
      '--run-firewall=true',
      '--run-router=false',
      '--run-service-proxy=false',
      '--enable-cni=false',
      '--enable-ipv4=true',
      '--enable-ipv6=false',
      `--hostname-override=${layout.nodeName}`,
      `--service-cluster-ip-range=${layout.serviceCidr}`,
      '--health-port=0',
      '--metrics-port=0',
      '--iptables-sync-period=1m',
      '--v=1',
    ],
  }).started;
}

/**
 * local-path-provisioner as a host process: volumes are directories under the cluster's state directory, created
 * and removed by short-lived helper pods running the kit's Debian base image (never pulled).
 */
export function startLocalPathProvisioner(
  layout: ClusterLayout,
  binary: string,
  kubeconfig: string,
  helperImage: string,
): boolean {
  mkdirSync(layout.volumesDir, { recursive: true });
  const config = path.join(layout.stateDir, 'local-path-config.json');
  writeIfChanged(
    config,
    `${JSON.stringify({ nodePathMap: [{ node: 'DEFAULT_PATH_FOR_NON_LISTED_NODES', paths: [layout.volumesDir] }] }, null, 2)}\n`,
  );
  const helperPod = path.join(layout.stateDir, 'local-path-helper-pod.json');
  writeIfChanged(
    helperPod,
    `${JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'helper-pod' },
        spec: {
          priorityClassName: 'system-node-critical',
          tolerations: [
            { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
          ],
          automountServiceAccountToken: false,
          containers: [
            { name: 'helper-pod', image: containerdImageName(helperImage), imagePullPolicy: 'Never' },
          ],
        },
      },
      null,
      2,
    )}\n`,
  );
  return startDetached(layout, {
    name: 'local-path-provisioner',
    binary,
    args: [
      'start',
      `--kubeconfig=${kubeconfig}`,
      `--namespace=${LOCAL_PATH_NAMESPACE}`,
      `--config=${config}`,
      `--helper-pod-file=${helperPod}`,
      `--helper-image=${containerdImageName(helperImage)}`,
      '--configmap-name=local-path-config',
      '--service-account-name=local-path-provisioner',
      '--provisioner-name=rancher.io/local-path',
    ],
  }).started;
}
