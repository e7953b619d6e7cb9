import type { ClientTls } from '../clients.js';
import type { VectorstackConfig } from '../config/schema.js';
import type { Credentials } from '../credentials.js';
import type { ServiceName, ServiceSpec } from '../services/types.js';

/** Where each store answers for this process, whatever the target. No secrets: those are in Credentials. */
export interface Endpoints {
  environment: string;
  postgres?: { host: string; port: number; database: string; user: string; tls?: ClientTls };
  redis?: { host: string; port: number; tls?: ClientTls };
  milvus?: { host: string; port: number; user: string; metricsPort: number | null; tls?: ClientTls };
  minio?: { endpoint: string; host: string; port: number; user: string; bucket: string; tls?: ClientTls };
  etcd?: { host: string; port: number };
}

export type StoreName = Exclude<keyof Endpoints, 'environment'>;

/**
 * The endpoints of stores reached at `host` on the given local ports: the published host ports on Docker, the
 * port-forwards' ports on Kubernetes. One shape for both targets.
 */
export function endpointsAt(
  config: VectorstackConfig,
  host: string,
  ports: Partial<Record<ServiceName, { client: number; metrics?: number | null }>>,
): Endpoints {
  const out: Endpoints = { environment: config.environment };
  if (ports.postgres)
    out.postgres = {
      host,
      port: ports.postgres.client,
      database: config.postgres.database,
      user: config.postgres.user,
    };
  if (ports.redis) out.redis = { host, port: ports.redis.client };
  if (ports.milvus)
    out.milvus = { host, port: ports.milvus.client, user: 'root', metricsPort: ports.milvus.metrics ?? null };
  if (ports.minio)
    out.minio = {
      endpoint: `http://${host}:${ports.minio.client}`,
      host,
      port: ports.minio.client,
      user: config.minio.rootUser,
      bucket: config.minio.bucket,
    };
  if (ports.etcd) out.etcd = { host, port: ports.etcd.client };
  return out;
}

/**
 * The endpoints with TLS where the stack serves it (tls.enabled): PostgreSQL, Redis, Milvus and MinIO (https) verified
 * against the stack's CA (`caFile`). A published etcd port needs a client certificate, which the kit's clients do not
 * hold: etcd is checked from inside its container. Endpoints that already say how to connect are kept.
 */
export function withClientTls(endpoints: Endpoints, caFile: string | null): Endpoints {
  if (!caFile) return endpoints;
  const tls = { caFile };
  return {
    ...endpoints,
    postgres: endpoints.postgres && { tls, ...endpoints.postgres },
    redis: endpoints.redis && { tls, ...endpoints.redis },
    milvus: endpoints.milvus && { tls, ...endpoints.milvus },
    minio: endpoints.minio && {
      tls,
      ...endpoints.minio,
      endpoint: endpoints.minio.endpoint.replace(/^http:/, 'https:'),
    },
  };
}

/** Docker: each service's published ports on the bind address (the first port is the client port). */
export function publishedPorts(
  specs: ServiceSpec[],
): Partial<Record<ServiceName, { client: number; metrics?: number | null }>> {
  const out: Partial<Record<ServiceName, { client: number; metrics?: number | null }>> = {};
  for (const spec of specs) {
    const client = spec.ports[0]?.hostPort;
    if (client == null) continue;
    out[spec.name] = { client, metrics: spec.ports.find((p) => p.name === 'metrics')?.hostPort ?? null };
  }
  return out;
}

/** Endpoints with credentials filled in: only for `--show-secrets`. */
export function withSecrets(endpoints: Endpoints, credentials: Credentials) {
  return {
    ...endpoints,
    postgres: endpoints.postgres && { ...endpoints.postgres, password: credentials.postgres_app_password },
    redis: endpoints.redis && { ...endpoints.redis, password: credentials.redis_password },
    milvus: endpoints.milvus && { ...endpoints.milvus, password: credentials.milvus_root_password },
    minio: endpoints.minio && { ...endpoints.minio, password: credentials.minio_root_password },
  };
}
