import { KUBERNETES_BASE, KUBERNETES_ENVIRONMENTS } from '../../k8s/environments.js';
import type { ConfigOverrides, EnvironmentName, VectorstackConfig } from './schema.js';

/** Defaults shared by every environment. Host ports sit off the standard ones so a developer's own servers keep theirs. */
export const BASE_DEFAULTS: VectorstackConfig = {
  environment: 'local',
  project: 'vectorstack',
  target: 'docker',
  stateDir: '.vectorstack',
  docker: { bindAddress: '127.0.0.1', publishBeyondLoopback: false, healthTimeoutSeconds: 300 },
  embedding: { dimension: 768, metric: 'cosine' },
  postgres: {
    enabled: true,
    hostPort: 15432,
    database: 'rag',
    user: 'vectorstack',
    sharedBuffersMb: 256,
    maintenanceWorkMemMb: 256,
    maxConnections: 100,
    hnsw: { m: 16, efConstruction: 64, efSearch: 40 },
    ivfflat: { lists: 100, probes: 10 },
    storageGi: 10,
    resources: { memoryMb: 1024, cpuMillis: 1000 },
  },
  etcd: {
    hostPort: null,
    quotaBackendBytes: 4 * 1024 * 1024 * 1024,
    autoCompactionRetention: 1000,
    snapshotCount: 50000,
    storageGi: 2,
    resources: { memoryMb: 512, cpuMillis: 500 },
  },
  minio: {
    hostPort: 19000,
    consoleHostPort: null,
    bucket: 'milvus-bucket',
    rootUser: 'vectorstack',
    storageGi: 20,
    resources: { memoryMb: 512, cpuMillis: 500 },
  },
  milvus: {
    enabled: true,
    hostPort: 19530,
    metricsHostPort: 19091,
    rootPath: 'vectorstack',
    hnsw: { m: 16, efConstruction: 200, ef: 64 },
    ivfFlat: { nlist: 128, nprobe: 16 },
    storageGi: 10,
    resources: { memoryMb: 4096, cpuMillis: 2000 },
  },
  redis: {
    enabled: true,
    hostPort: 16379,
    maxmemoryMb: 256,
    evictionPolicy: 'allkeys-lru',
    appendonly: true,
    storageGi: 2,
    resources: { memoryMb: 384, cpuMillis: 500 },
  },
  kubernetes: KUBERNETES_BASE,
  tls: { enabled: false, caCertFile: null, caKeyFile: null, validityDays: 365 },
  recall: { threshold: 0.95 },
  images: {},
};

/** What each environment changes from BASE_DEFAULTS. Cluster details (namespace, storage class, replicas) live in k8s/. */
export const ENVIRONMENT_DEFAULTS: Record<EnvironmentName, ConfigOverrides> = {
  local: {},
  staging: {
    target: 'kubernetes',
    kubernetes: KUBERNETES_ENVIRONMENTS.staging,
    tls: { enabled: true },
    postgres: { resources: { memoryMb: 2048, cpuMillis: 1000 } },
    milvus: { resources: { memoryMb: 8192, cpuMillis: 2000 } },
  },
  production: {
    target: 'kubernetes',
    kubernetes: KUBERNETES_ENVIRONMENTS.production,
    tls: { enabled: true },
    postgres: {
      sharedBuffersMb: 1024,
      maintenanceWorkMemMb: 1024,
      maxConnections: 300,
      storageGi: 100,
      resources: { memoryMb: 8192, cpuMillis: 4000 },
    },
    etcd: { storageGi: 10 },
    minio: { storageGi: 500, resources: { memoryMb: 2048, cpuMillis: 1000 } },
    milvus: { storageGi: 50, resources: { memoryMb: 16384, cpuMillis: 4000 } },
    redis: { maxmemoryMb: 2048, storageGi: 10, resources: { memoryMb: 3072, cpuMillis: 1000 } },
  },
};
