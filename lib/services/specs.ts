import { POSTGRES_ADMIN_USER } from '../../schemas/postgres/roles.js';
import type { VectorstackConfig } from '../config/schema.js';
import type { ImageKey } from '../images.js';
import type { ServiceName, ServiceSpec } from './types.js';

/** The official image's data directory, and the mount point of PostgreSQL's volume on every target. */
export const PG_DATA = '/var/lib/postgresql/data';

/** Container-side ports, fixed by the images; host ports come from the config. */
export const CONTAINER_PORTS = {
  postgres: 5432,
  etcdClient: 2379,
  etcdPeer: 2380,
  minio: 9000,
  minioConsole: 9001,
  milvus: 19530,
  milvusMetrics: 9091,
  redis: 6379,
} as const;

/** Health checks: exec form, so they also run in images without a shell. Shared by Docker and Kubernetes probes. */
const health = (command: string[], startPeriodSeconds: number, intervalSeconds = 5) => ({
  command,
  intervalSeconds,
  timeoutSeconds: 5,
  retries: 5,
  startPeriodSeconds,
});

export function postgresSpec(config: VectorstackConfig, image: string, dataDir = PG_DATA): ServiceSpec {
  const pg = config.postgres;
  return {
    name: 'postgres',
    image,
    command: [
      ['postgres'],
      ['-c'],
      [`shared_buffers=${pg.sharedBuffersMb}MB`],
      ['-c'],
      [`max_connections=${pg.maxConnections}`],
      ['-c'],
      ['password_encryption=scram-sha-256'],
    ],
    env: {
      // The superuser, for administration only; bootstrap creates the owner, application and read-only logins.
      POSTGRES_USER: [POSTGRES_ADMIN_USER],
      POSTGRES_DB: [pg.database],
      POSTGRES_PASSWORD: [{ secret: 'postgres_password' }],
      // Every connection over TCP must authenticate with SCRAM; the official image would otherwise pick md5.
      POSTGRES_INITDB_ARGS: ['--auth-host=scram-sha-256 --auth-local=trust'],
      PGDATA: [dataDir],
    },
    ports: [
      {
        name: 'postgres',
        containerPort: CONTAINER_PORTS.postgres,
        hostPort: pg.hostPort,
        hostPortField: 'postgres.hostPort',
      },
    ],
    healthCheck: health(['pg_isready', '-h', '127.0.0.1', '-U', POSTGRES_ADMIN_USER, '-d', pg.database], 30),
    volumes: [{ name: 'data', containerPath: PG_DATA, sizeGi: pg.storageGi }],
    files: [],
    dependsOn: [],
    resources: pg.resources,
  };
}

/**
 * Members of a multi-node etcd (Kubernetes StatefulSet). Values may hold `$(POD_NAME)`-style references the
 * orchestrator expands per pod, so one spec serves every member.
 */
export interface EtcdClusterOptions {
  /** This member's name, e.g. `$(POD_NAME)`. */
  memberName: string;
  /** Host this member advertises to peers, e.g. `$(POD_NAME).etcd-headless.ns.svc.cluster.local`. */
  peerHost: string;
  /** Every member of the initial cluster, in order. */
  members: { name: string; host: string }[];
  /** Keeps two clusters that share a network from joining each other. */
  token: string;
}

export function etcdSpec(
  config: VectorstackConfig,
  image: string,
  advertiseHost = 'etcd',
  cluster?: EtcdClusterOptions,
): ServiceSpec {
  const etcd = config.etcd;
  const peer = CONTAINER_PORTS.etcdPeer;
  const clusterArgs = cluster
    ? [
        [`--listen-peer-urls=http://0.0.0.0:${peer}`],
        [`--initial-advertise-peer-urls=http://${cluster.peerHost}:${peer}`],
        [`--initial-cluster=${cluster.members.map((m) => `${m.name}=http://${m.host}:${peer}`).join(',')}`],
        ['--initial-cluster-state=new'],
        [`--initial-cluster-token=${cluster.token}`],
      ]
    : [];
  return {
    name: 'etcd',
    image,
    // Milvus's recommended etcd settings: revision auto-compaction, a backend quota and a snapshot count.
    command: [
      ['etcd'],
      [`--name=${cluster?.memberName ?? 'etcd'}`],
      ['--data-dir=/etcd'],
      [`--listen-client-urls=http://0.0.0.0:${CONTAINER_PORTS.etcdClient}`],
      [`--advertise-client-urls=http://${advertiseHost}:${CONTAINER_PORTS.etcdClient}`],
      ['--auto-compaction-mode=revision'],
      [`--auto-compaction-retention=${etcd.autoCompactionRetention}`],
      [`--quota-backend-bytes=${etcd.quotaBackendBytes}`],
      [`--snapshot-count=${etcd.snapshotCount}`],
      ...clusterArgs,
    ],
    env: { ETCDCTL_API: ['3'] },
    ports: [
      {
        name: 'client',
        containerPort: CONTAINER_PORTS.etcdClient,
        hostPort: etcd.hostPort,
        hostPortField: 'etcd.hostPort',
      },
      ...(cluster ? [{ name: 'peer', containerPort: peer, hostPort: null }] : []),
    ],
    healthCheck: health(['etcdctl', '--endpoints=http://127.0.0.1:2379', 'endpoint', 'health'], 20),
    volumes: [{ name: 'data', containerPath: '/etcd', sizeGi: etcd.storageGi }],
    files: [],
    dependsOn: [],
    resources: etcd.resources,
  };
}

export function minioSpec(config: VectorstackConfig, image: string): ServiceSpec {
  const minio = config.minio;
  return {
    name: 'minio',
    image,
    command: [['minio'], ['server'], ['/data'], ['--console-address'], [`:${CONTAINER_PORTS.minioConsole}`]],
    env: {
      MINIO_ROOT_USER: [minio.rootUser],
      MINIO_ROOT_PASSWORD: [{ secret: 'minio_root_password' }],
    },
    ports: [
      {
        name: 's3',
        containerPort: CONTAINER_PORTS.minio,
        hostPort: minio.hostPort,
        hostPortField: 'minio.hostPort',
      },
      {
        name: 'console',
        containerPort: CONTAINER_PORTS.minioConsole,
        hostPort: minio.consoleHostPort,
        hostPortField: 'minio.consoleHostPort',
      },
    ],
    healthCheck: health(['curl', '-fsS', `http://127.0.0.1:${CONTAINER_PORTS.minio}/minio/health/live`], 20),
    volumes: [{ name: 'data', containerPath: '/data', sizeGi: minio.storageGi }],
    files: [],
    dependsOn: [],
    resources: minio.resources,
  };
}

/** One-shot job: creates Milvus's bucket so Milvus never starts against a store without it. */
export function minioInitSpec(config: VectorstackConfig, image: string, minioHost = 'minio'): ServiceSpec {
  return {
    name: 'minio-init',
    image,
    entrypoint: ['mc'],
    command: [['mb'], ['--ignore-existing'], [`vectorstack/${config.minio.bucket}`]],
    env: {
      // mc reads the alias from MC_HOST_<alias>: no credential on the command line.
      MC_HOST_vectorstack: [
        'http://',
        config.minio.rootUser,
        ':',
        { secret: 'minio_root_password' },
        `@${minioHost}:${CONTAINER_PORTS.minio}`,
      ],
    },
    ports: [],
    volumes: [],
    files: [],
    dependsOn: ['minio'],
    resources: { memoryMb: 128, cpuMillis: 200 },
    job: true,
  };
}

/** Where the Milvus container finds its root password (a file, or a Secret volume on Kubernetes). */
export const MILVUS_ROOT_PASSWORD_FILE = '/run/vectorstack/milvus-root-password';

/**
 * Milvus is ready when /healthz answers and the proxy serves an authenticated request (listing collections through
 * its REST API: v2 on 2.4 and later, v1 on 2.3). The well-known initial password is tried after the generated one:
 * a 2.3 server keeps it until `up` replaces it, which happens only once the container is ready.
 */
const MILVUS_READY_SCRIPT = [
  `curl -fsS -m 4 -o /dev/null http://127.0.0.1:${CONTAINER_PORTS.milvusMetrics}/healthz || exit 1`,
  `for token in "root:$(cat ${MILVUS_ROOT_PASSWORD_FILE})" root:Milvus; do`,
  `  out=$(curl -sS -m 4 -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{}' http://127.0.0.1:${CONTAINER_PORTS.milvus}/v2/vectordb/collections/list 2>/dev/null)`,
  `  case "$out" in *'"code":0'*) exit 0 ;; esac`,
  `  out=$(curl -sS -m 4 -H "Authorization: Bearer $token" http://127.0.0.1:${CONTAINER_PORTS.milvus}/v1/vector/collections 2>/dev/null)`,
  `  case "$out" in *'"code":200'*) exit 0 ;; esac`,
  'done',
  'echo "milvus answers /healthz but does not serve authenticated requests yet" >&2',
  'exit 1',
].join('\n');

export function milvusSpec(
  config: VectorstackConfig,
  image: string,
  hosts = { etcd: 'etcd', minio: 'minio' },
): ServiceSpec {
  const milvus = config.milvus;
  return {
    name: 'milvus',
    image,
    command: [['milvus'], ['run'], ['standalone']],
    // Milvus maps environment variables onto milvus.yaml keys (minio.accessKeyID <- MINIO_ACCESS_KEY_ID), in the
    // official image and in the offline one alike.
    env: {
      ETCD_ENDPOINTS: [`${hosts.etcd}:${CONTAINER_PORTS.etcdClient}`],
      ETCD_ROOT_PATH: [milvus.rootPath],
      MINIO_ADDRESS: [`${hosts.minio}:${CONTAINER_PORTS.minio}`],
      MINIO_ACCESS_KEY_ID: [config.minio.rootUser],
      MINIO_SECRET_ACCESS_KEY: [{ secret: 'minio_root_password' }],
      MINIO_BUCKET_NAME: [config.minio.bucket],
      MINIO_ROOT_PATH: [milvus.rootPath],
      COMMON_SECURITY_AUTHORIZATION_ENABLED: ['true'],
      COMMON_SECURITY_DEFAULT_ROOT_PASSWORD: [{ secret: 'milvus_root_password' }],
    },
    ports: [
      {
        name: 'grpc',
        containerPort: CONTAINER_PORTS.milvus,
        hostPort: milvus.hostPort,
        hostPortField: 'milvus.hostPort',
      },
      {
        name: 'metrics',
        containerPort: CONTAINER_PORTS.milvusMetrics,
        hostPort: milvus.metricsHostPort,
        hostPortField: 'milvus.metricsHostPort',
      },
    ],
    // Ready means serving: /healthz alone turns green while a restarted server still refuses requests.
    healthCheck: health(['sh', '-c', MILVUS_READY_SCRIPT], 90, 10),
    volumes: [{ name: 'data', containerPath: '/var/lib/milvus', sizeGi: milvus.storageGi }],
    // The root password, as a file the readiness check reads (never on a command line).
    files: [{ containerPath: MILVUS_ROOT_PASSWORD_FILE, content: [{ secret: 'milvus_root_password' }] }],
    dependsOn: ['etcd', 'minio', 'minio-init'],
    resources: milvus.resources,
  };
}

/** ACL file on the data volume: users created by `npm run bootstrap` (ACL SAVE) survive restarts. */
export const REDIS_ACL_FILE = '/data/users.acl';

/**
 * Runs before redis-server: creates the ACL file if missing and (re)writes its `default` user from REDISCLI_AUTH.
 * With an aclfile Redis ignores --requirepass and would start `default` without a password if the file lacked it; this
 * way credentials.json stays the source of truth and the password never appears in the process arguments. Other
 * users in the file (saved by bootstrap) are kept. umask 077: the file holds the password.
 */
const REDIS_ACL_INIT = [
  'umask 077',
  `f=${REDIS_ACL_FILE}`,
  'touch "$f"',
  '{ grep -v "^user default " "$f" || true; printf "user default on >%s ~* &* +@all\\n" "$REDISCLI_AUTH"; } > "$f.tmp"',
  'mv "$f.tmp" "$f"',
  'exec "$@"',
].join('\n');

export function redisSpec(config: VectorstackConfig, image: string): ServiceSpec {
  const redis = config.redis;
  return {
    name: 'redis',
    image,
    // The script execs the image's own entrypoint, which still drops root (and fixes the file's owner).
    entrypoint: ['sh', '-c', REDIS_ACL_INIT, 'redis-acl-init'],
    command: [
      ['docker-entrypoint.sh'],
      ['redis-server'],
      ['--aclfile'],
      [REDIS_ACL_FILE],
      ['--dir'],
      ['/data'],
      ['--appendonly'],
      [redis.appendonly ? 'yes' : 'no'],
      ['--maxmemory'],
      [`${redis.maxmemoryMb}mb`],
      ['--maxmemory-policy'],
      [redis.evictionPolicy],
    ],
    env: {
      // The default user's password (see REDIS_ACL_INIT); redis-cli (health check, operators) also reads it.
      REDISCLI_AUTH: [{ secret: 'redis_password' }],
    },
    ports: [
      {
        name: 'redis',
        containerPort: CONTAINER_PORTS.redis,
        hostPort: redis.hostPort,
        hostPortField: 'redis.hostPort',
      },
    ],
    healthCheck: health(['redis-cli', 'ping'], 10),
    volumes: [{ name: 'data', containerPath: '/data', sizeGi: redis.storageGi }],
    files: [],
    dependsOn: [],
    resources: redis.resources,
  };
}

/** Every enabled service, in start order, rendered from one config: the single source for Docker and Kubernetes. */
/** How services find each other; the defaults are the Docker network aliases (the service names). */
export interface ServiceTopology {
  /** Host etcd advertises to clients. @default 'etcd' */
  etcdAdvertiseHost?: string;
  /** Multi-member etcd wiring. @default undefined (a single member) */
  etcdCluster?: EtcdClusterOptions;
  /** Hosts Milvus and the bucket job connect to. @default { etcd: 'etcd', minio: 'minio' } */
  hosts?: { etcd: string; minio: string };
  /**
   * PostgreSQL's data directory, inside its volume. Kubernetes mounts a claim whose directories the kubelet creates as
   * root; initdb must create (and chmod) its own directory, so it goes one level down there.
   * @default '/var/lib/postgresql/data' (the volume's mount point, as the official image expects on Docker)
   */
  postgresDataDir?: string;
}

export function buildServiceSpecs(
  config: VectorstackConfig,
  images: Record<ImageKey, string>,
  topology: ServiceTopology = {},
): ServiceSpec[] {
  const hosts = topology.hosts ?? { etcd: 'etcd', minio: 'minio' };
  const specs: ServiceSpec[] = [];
  if (config.postgres.enabled) specs.push(postgresSpec(config, images.postgres, topology.postgresDataDir));
  if (config.milvus.enabled) {
    specs.push(
      etcdSpec(config, images.etcd, topology.etcdAdvertiseHost, topology.etcdCluster),
      minioSpec(config, images.minio),
      minioInitSpec(config, images.mc, hosts.minio),
    );
    specs.push(milvusSpec(config, images.milvus, hosts));
  }
  if (config.redis.enabled) specs.push(redisSpec(config, images.redis));
  return specs;
}

export function specByName(specs: ServiceSpec[], name: ServiceName): ServiceSpec | undefined {
  return specs.find((s) => s.name === name);
}
