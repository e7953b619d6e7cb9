import { z } from 'zod';
import { kubernetesSchema } from '../../k8s/schema.js';

/** Environments the kit knows. `local` runs on Docker; `staging` and `production` on Kubernetes. */
export const ENVIRONMENTS = ['local', 'staging', 'production'] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

export const TARGETS = ['docker', 'kubernetes'] as const;
export const VECTOR_METRICS = ['cosine', 'l2', 'ip'] as const;
export type VectorMetric = (typeof VECTOR_METRICS)[number];

/** Lower-case SQL/Docker-safe identifier: starts with a letter, then letters, digits, `_` or `-`. */
const identifier = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must start with a lower-case letter and contain only a-z, 0-9, _ or -');
const sqlIdentifier = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]{0,62}$/,
    'must be a lower-case SQL identifier (a-z, 0-9, _; not starting with a digit)',
  );

/** A host port, or `null` to leave the service unpublished (reachable only on the stack's private network). */
const hostPort = z.number().int().min(1).max(65535).nullable();

const resources = z.strictObject({
  /** Memory limit in MiB. */
  memoryMb: z.number().int().min(64),
  /** CPU limit in millicores (1000 = one core), in steps of 100. */
  cpuMillis: z.number().int().min(100).multipleOf(100),
});

const configShape = z.strictObject({
  environment: z.enum(ENVIRONMENTS),
  /** Prefix of every container, network, volume and Kubernetes object name. */
  project: identifier,
  target: z.enum(TARGETS),
  /** Where state, credentials and outputs live, relative to the working directory. */
  stateDir: z.string().min(1),
  docker: z.strictObject({
    /** Address published ports bind to. Loopback by default: nothing is reachable from other hosts. */
    bindAddress: z.union([z.literal('127.0.0.1'), z.literal('::1'), z.ipv4(), z.ipv6()]),
    /** Allow a bindAddress other than loopback (the stores become reachable from the network). @default false */
    publishBeyondLoopback: z.boolean(),
    /** Seconds `up` waits for one container to become healthy. */
    healthTimeoutSeconds: z.number().int().min(10).max(3600),
  }),
  embedding: z.strictObject({
    /** Dimension of the embedding model's vectors. */
    dimension: z.number().int().min(1).max(32768), // MILVUS_MAX_DIMENSION
    metric: z.enum(VECTOR_METRICS),
  }),
  postgres: z.strictObject({
    enabled: z.boolean(),
    hostPort,
    database: sqlIdentifier,
    user: sqlIdentifier,
    sharedBuffersMb: z.number().int().min(16),
    /**
     * Memory for one index build or VACUUM (maintenance_work_mem). pgvector builds an HNSW graph in it, and a parallel
     * build keeps it in shared memory: the container's /dev/shm is sized from it.
     */
    maintenanceWorkMemMb: z.number().int().min(16),
    maxConnections: z.number().int().min(10).max(10000),
    hnsw: z.strictObject({
      m: z.number().int().min(2).max(100),
      efConstruction: z.number().int().min(4).max(1000),
      efSearch: z.number().int().min(1).max(1000),
    }),
    ivfflat: z.strictObject({
      lists: z.number().int().min(1).max(32768),
      probes: z.number().int().min(1).max(32768),
    }),
    storageGi: z.number().int().min(1),
    resources,
  }),
  etcd: z.strictObject({
    /** Unpublished by default: only Milvus talks to etcd, over the private network. */
    hostPort,
    quotaBackendBytes: z
      .number()
      .int()
      .min(64 * 1024 * 1024),
    autoCompactionRetention: z.number().int().min(1),
    snapshotCount: z.number().int().min(100),
    storageGi: z.number().int().min(1),
    resources,
  }),
  minio: z.strictObject({
    hostPort,
    consoleHostPort: hostPort,
    /** Bucket Milvus keeps segments and index files in; created before Milvus starts. */
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{2,62}$/, 'must be a valid S3 bucket name (3-63 of a-z, 0-9, . and -)'),
    rootUser: z.string().min(3),
    storageGi: z.number().int().min(1),
    resources,
  }),
  milvus: z.strictObject({
    enabled: z.boolean(),
    hostPort,
    metricsHostPort: hostPort,
    /** Key prefix in etcd and object prefix in MinIO: two stacks may share the stores. */
    rootPath: identifier,
    hnsw: z.strictObject({
      m: z.number().int().min(2).max(2048),
      efConstruction: z.number().int().min(1).max(2048),
      ef: z.number().int().min(1).max(32768),
    }),
    ivfFlat: z.strictObject({
      nlist: z.number().int().min(1).max(65536),
      nprobe: z.number().int().min(1).max(65536),
    }),
    storageGi: z.number().int().min(1),
    resources,
  }),
  redis: z.strictObject({
    enabled: z.boolean(),
    hostPort,
    maxmemoryMb: z.number().int().min(8),
    evictionPolicy: z.enum([
      'noeviction',
      'allkeys-lru',
      'allkeys-lfu',
      'allkeys-random',
      'volatile-lru',
      'volatile-lfu',
      'volatile-random',
      'volatile-ttl',
    ]),
    appendonly: z.boolean(),
    storageGi: z.number().int().min(1),
    resources,
  }),
  /**
   * TLS on every client connection to PostgreSQL, Redis and Milvus, with server certificates signed by a private CA
   * (docs/security.md). MinIO and etcd stay on the stack's private network without TLS.
   */
  tls: z.strictObject({
    /** Serve TLS only: plain TCP connections are refused. @default false (local), true (staging, production) */
    enabled: z.boolean(),
    /**
     * PEM certificate of your own CA to sign the server certificates with (relative to the working directory); its key
     * is read only to sign and is never copied or sent anywhere. Give both caCertFile and caKeyFile, or neither (the
     * kit then generates a private CA in the environment's state directory). @default null
     */
    caCertFile: z.string().min(1).nullable().optional(),
    /** PEM (PKCS#8, PKCS#1 or SEC1) private key of caCertFile. @default null */
    caKeyFile: z.string().min(1).nullable().optional(),
    /** Validity of each server certificate; the kit re-issues one when it expires within a third of this. @default 365 */
    validityDays: z.number().int().min(1).max(3650),
  }),
  /** Cluster details of the Kubernetes environments (k8s/schema.ts); ignored by the Docker target. */
  kubernetes: kubernetesSchema,
  recall: z.strictObject({
    /** `npm run recall` fails when recall@10 at the configured search parameters is below this. */
    threshold: z.number().min(0).max(1),
  }),
  /** Per-service image overrides; empty means the pinned defaults (or the offline images from `npm run setup`). */
  images: z.record(z.string(), z.string().min(1)),
});

/**
 * The configuration with every rule that spans fields. These run even when single fields are wrong (`when`), so one
 * load reports every problem at once; each names the field, its value and what is allowed.
 */
export const configSchema = configShape.check(
  z.superRefine(
    (config, ctx) => {
      for (const rule of crossFieldRules(config as VectorstackConfig))
        ctx.addIssue({ code: 'custom', path: rule.path, message: rule.message });
    },
    { when: () => true },
  ),
);

export type VectorstackConfig = z.infer<typeof configShape>;

/** pgvector's index limits by column type: HNSW and IVFFlat index at most this many dimensions. */
export const PGVECTOR_INDEX_LIMITS = { vector: 2000, halfvec: 4000 } as const;
/** Milvus's limit for one FloatVector field. */
export const MILVUS_MAX_DIMENSION = 32768;

const LOOPBACK_ADDRESSES = ['127.0.0.1', '::1'];

interface RuleViolation {
  path: (string | number)[];
  message: string;
}

/** Rules the shape alone cannot express. Each reads only fields that may be missing or wrong defensively. */
export function crossFieldRules(config: VectorstackConfig): RuleViolation[] {
  const out: RuleViolation[] = [];
  const dimension = config.embedding?.dimension;
  if (config.postgres?.enabled && typeof dimension === 'number' && dimension > PGVECTOR_INDEX_LIMITS.vector)
    out.push({
      path: ['embedding', 'dimension'],
      message: `pgvector's HNSW and IVFFlat indexes support at most ${PGVECTOR_INDEX_LIMITS.vector} dimensions for vector (postgres.enabled = true); allowed: 1-${PGVECTOR_INDEX_LIMITS.vector}, or postgres.enabled = false (Milvus indexes up to ${MILVUS_MAX_DIMENSION})`,
    });
  const pg = config.postgres;
  if (
    pg?.enabled &&
    typeof pg.sharedBuffersMb === 'number' &&
    typeof pg.maintenanceWorkMemMb === 'number' &&
    typeof pg.resources?.memoryMb === 'number' &&
    pg.sharedBuffersMb + pg.maintenanceWorkMemMb >= pg.resources.memoryMb
  )
    out.push({
      path: ['postgres', 'maintenanceWorkMemMb'],
      message: `${pg.maintenanceWorkMemMb} MB next to postgres.sharedBuffersMb (${pg.sharedBuffersMb} MB) does not fit postgres.resources.memoryMb (${pg.resources.memoryMb} MB): an index build would be killed for memory; allowed: sharedBuffersMb + maintenanceWorkMemMb below memoryMb`,
    });
  const docker = config.docker;
  if (
    config.target === 'docker' &&
    docker &&
    !docker.publishBeyondLoopback &&
    typeof docker.bindAddress === 'string' &&
    !LOOPBACK_ADDRESSES.includes(docker.bindAddress)
  )
    out.push({
      path: ['docker', 'bindAddress'],
      message: `publishes the stores beyond this host; allowed: ${LOOPBACK_ADDRESSES.join(', ')} (or set docker.publishBeyondLoopback: true)`,
    });
  if (config.target === 'docker') out.push(...duplicateHostPorts(config));
  const tls = config.tls;
  if (tls && typeof tls === 'object') {
    const cert = tls.caCertFile ?? null;
    const key = tls.caKeyFile ?? null;
    if (cert !== null && key === null)
      out.push({
        path: ['tls', 'caKeyFile'],
        message:
          'required when tls.caCertFile is set; allowed: both tls.caCertFile and tls.caKeyFile, or neither',
      });
    if (key !== null && cert === null)
      out.push({
        path: ['tls', 'caCertFile'],
        message:
          'required when tls.caKeyFile is set; allowed: both tls.caCertFile and tls.caKeyFile, or neither',
      });
  }
  const k = config.kubernetes;
  if (config.target === 'kubernetes' && k) {
    if (config.environment === 'production' && k.context === null)
      out.push({
        path: ['kubernetes', 'context'],
        message: 'production names its kube context explicitly; allowed: a context of the kubeconfig',
      });
    if (k.operators?.milvus?.mode === 'helm-cluster' && k.objectStorage?.kind === 'external')
      out.push({
        path: ['kubernetes', 'operators', 'milvus', 'mode'],
        message:
          'not supported with kubernetes.objectStorage.kind = "external"; allowed: objectStorage.kind "minio", or milvus.mode "standalone"',
      });
    if (k.operators?.postgres?.mode === 'cloudnative-pg' && k.operators.apiServerCidrs?.length === 0)
      out.push({
        path: ['kubernetes', 'operators', 'apiServerCidrs'],
        message:
          'CloudNativePG instances call the Kubernetes API (operators.postgres.mode = "cloudnative-pg"); list its addresses, e.g. ["10.0.0.1/32"]',
      });
  }
  return out;
}

/** Host port fields of each store: two enabled services on one host port would fail at apply time. */
export const HOST_PORT_FIELDS = [
  ['postgres', 'hostPort'],
  ['etcd', 'hostPort'],
  ['minio', 'hostPort'],
  ['minio', 'consoleHostPort'],
  ['milvus', 'hostPort'],
  ['milvus', 'metricsHostPort'],
  ['redis', 'hostPort'],
] as const;

function duplicateHostPorts(config: VectorstackConfig): RuleViolation[] {
  const enabled = (service: string) =>
    service === 'etcd' || service === 'minio'
      ? config.milvus?.enabled
      : (config[service as 'postgres' | 'milvus' | 'redis']?.enabled ?? false);
  const seen = new Map<number, string>();
  const out: RuleViolation[] = [];
  for (const [service, field] of HOST_PORT_FIELDS) {
    if (!enabled(service)) continue;
    const port = (config[service] as Record<string, unknown> | undefined)?.[field];
    if (typeof port !== 'number') continue;
    const other = seen.get(port);
    if (other)
      out.push({
        path: [service, field],
        message: `also configured for ${other}; allowed: a host port no other service publishes`,
      });
    else seen.set(port, `${service}.${field}`);
  }
  return out;
}

/** Deep partial of the config, as written in a config file or built from environment variables. */
export type ConfigOverrides = { [K in keyof VectorstackConfig]?: DeepPartial<VectorstackConfig[K]> };
type DeepPartial<T> = T extends object
  ? T extends unknown[]
    ? T
    : { [K in keyof T]?: DeepPartial<T[K]> }
  : T;
