import type { VectorstackConfig } from '../config/schema.js';
import type { Credentials } from '../credentials.js';
import type { ServiceName, ServiceSpec } from '../services/types.js';

/** Where each service answers on this host. No secrets: those stay in credentials.json. */
export interface ConnectionInfo {
  environment: string;
  postgres?: { host: string; port: number; database: string; user: string };
  redis?: { host: string; port: number };
  milvus?: { host: string; port: number; user: string; metricsPort: number | null };
  minio?: { endpoint: string; host: string; port: number; user: string; bucket: string };
  etcd?: { host: string; port: number };
}

function hostPort(specs: ServiceSpec[], service: ServiceName, port: string): number | null {
  return specs.find((s) => s.name === service)?.ports.find((p) => p.name === port)?.hostPort ?? null;
}

export function buildConnectionInfo(config: VectorstackConfig, specs: ServiceSpec[]): ConnectionInfo {
  const host = config.docker.bindAddress;
  const info: ConnectionInfo = { environment: config.environment };
  const pg = hostPort(specs, 'postgres', 'postgres');
  if (pg) info.postgres = { host, port: pg, database: config.postgres.database, user: config.postgres.user };
  const redis = hostPort(specs, 'redis', 'redis');
  if (redis) info.redis = { host, port: redis };
  const milvus = hostPort(specs, 'milvus', 'grpc');
  if (milvus)
    info.milvus = { host, port: milvus, user: 'root', metricsPort: hostPort(specs, 'milvus', 'metrics') };
  const minio = hostPort(specs, 'minio', 's3');
  if (minio) {
    info.minio = {
      endpoint: `http://${host}:${minio}`,
      host,
      port: minio,
      user: config.minio.rootUser,
      bucket: config.minio.bucket,
    };
  }
  const etcd = hostPort(specs, 'etcd', 'client');
  if (etcd) info.etcd = { host, port: etcd };
  return info;
}

/** Connection info with credentials filled in, for `--show-secrets` and for the tools' own clients. */
export function withSecrets(info: ConnectionInfo, credentials: Credentials) {
  return {
    ...info,
    postgres: info.postgres && { ...info.postgres, password: credentials.postgres_password },
    redis: info.redis && { ...info.redis, password: credentials.redis_password },
    milvus: info.milvus && { ...info.milvus, password: credentials.milvus_root_password },
    minio: info.minio && { ...info.minio, password: credentials.minio_root_password },
  };
}
