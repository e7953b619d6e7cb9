import type { KubernetesSettings } from './schema.js';

/**
 * Cluster settings every environment starts from. `local` carries them too (one config shape) but never reads them.
 * Service sizes and limits stay in lib/config/defaults.ts ENVIRONMENT_DEFAULTS: one place for both targets.
 */
export const KUBERNETES_BASE: KubernetesSettings = {
  namespace: 'vectorstack',
  createNamespace: true,
  kubeconfig: null,
  context: null,
  clusterDomain: 'cluster.local',
  storageClass: null,
  etcdReplicas: 1,
  cpuRequestFraction: 0.5,
  nodeSelector: {},
  tolerations: [],
  antiAffinity: 'none',
  podDisruptionBudgets: false,
  // An opt-in label: the application's pods carry it to reach the stores.
  appSelector: 'vectorstack.io/client=true',
  appNamespace: null,
  dns: { namespace: 'kube-system', podSelector: 'k8s-app=kube-dns' },
  images: {},
  localCluster: false,
  objectStorage: { kind: 'minio' },
  backup: {
    enabled: false,
    schedule: '0 3 * * *',
    suspend: false,
    bucket: null,
    prefix: 'backups',
    retentionDays: 14,
    scratchGi: 20,
  },
  operators: {
    postgres: {
      mode: 'statefulset',
      instances: 3,
      // CloudNativePG's standard operand images ship pgvector.
      image: 'ghcr.io/cloudnative-pg/postgresql:17.5-standard-bookworm',
      operatorNamespace: 'cnpg-system',
    },
    milvus: {
      mode: 'standalone',
      chartRepository: 'https://zilliztech.github.io/milvus-helm/',
      chartVersion: '4.2.45',
    },
    apiServerCidrs: [],
  },
};

type Overrides = { [K in keyof KubernetesSettings]?: Partial<KubernetesSettings[K]> };

/** What staging and production change; merged over KUBERNETES_BASE by the config loader. */
export const KUBERNETES_ENVIRONMENTS = {
  staging: {
    namespace: 'vectorstack-staging',
    backup: { enabled: true },
  },
  production: {
    namespace: 'vectorstack-production',
    etcdReplicas: 3,
    // Guaranteed QoS: requests equal limits.
    cpuRequestFraction: 1,
    antiAffinity: 'required',
    podDisruptionBudgets: true,
    backup: { enabled: true },
  },
} satisfies Record<'staging' | 'production', Overrides>;
