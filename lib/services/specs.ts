import { POSTGRES_ADMIN_USER } from '../../schemas/postgres/roles.js';
import type { VectorstackConfig } from '../config/schema.js';
import type { ImageKey } from '../images.js';
import type { TlsService } from '../tls/pki.js';
import type { FileSpec, ServiceName, ServiceSpec } from './types.js';

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

/**
 * Health checks: exec form, so they also run in images without a shell. Shared by Docker and Kubernetes probes.
 * @param timing.intervalSeconds between checks. @default 5
 * @param timing.timeoutSeconds a check still running after this counts as failed; at least the check's own bounds.
 *   @default 5
 */
const health = (
  command: string[],
  startPeriodSeconds: number,
  { intervalSeconds = 5, timeoutSeconds = 5 }: { intervalSeconds?: number; timeoutSeconds?: number } = {},
) => ({
  command,
  intervalSeconds,
  timeoutSeconds,
  retries: 5,
  startPeriodSeconds,
});

/** Where a TLS store finds its certificate, key and the CA certificate (uploaded files, or a Secret on Kubernetes). */
export const TLS_MOUNT = '/run/vectorstack/tls';
/**
 * Private copies the server reads: owned by the server's user, 0600, outside the data volume. PostgreSQL refuses a key
 * others could read, and the mounted files are root's, read-only and readable by every user of the container (Docker
 * uploads; on Kubernetes the Secret volume).
 */
export const TLS_PRIVATE_DIR = '/tmp/vectorstack-tls';
export const TLS_FILE_NAMES = { cert: 'server.crt', key: 'server.key', ca: 'ca.crt' } as const;

type TlsPart = keyof typeof TLS_FILE_NAMES;

/** Where a TLS file is inside a container that mounts the stack's files at TLS_MOUNT. */
export function tlsPath(part: TlsPart): string {
  return `${TLS_MOUNT}/${TLS_FILE_NAMES[part]}`;
}

/** One file of a service's TLS material at `containerPath` (by default its place under TLS_MOUNT). */
function tlsFile(service: TlsService, part: TlsPart, containerPath = tlsPath(part)): FileSpec {
  return { containerPath, content: [{ tls: { service, part } }] };
}

/** The three TLS files of a service, mounted at TLS_MOUNT: its certificate, its key and the CA certificate. */
function tlsFiles(service: TlsService): FileSpec[] {
  return (['cert', 'key', 'ca'] as const).map((part) => tlsFile(service, part));
}

/**
 * MinIO's certificate directory (`--certs-dir`): it looks for `public.crt` and `private.key` there, and trusts the
 * certificates in `CAs/` for its own connections (the console to the API).
 */
export const MINIO_CERTS_DIR = '/run/vectorstack/minio-certs';

/**
 * The system trust store of Debian and Ubuntu images (the official Milvus image among them). With TLS on the kit's
 * MinIO, Milvus's trust store holds the stack's CA only: its Go side and the C++ storage layer (whose curl looks here,
 * or at the Red Hat path the offline image links to it) verify MinIO against it, on 2.3 which has no
 * `minio.ssl.tlsCACert` as on later versions. Milvus talks to no other TLS server in this topology.
 */
export const SYSTEM_TRUST_STORE = '/etc/ssl/certs/ca-certificates.crt';

/** Milvus's object store is the kit's own MinIO (always on Docker; on Kubernetes unless objectStorage is external). */
export function usesKitMinio(config: VectorstackConfig): boolean {
  return config.target === 'docker' || config.kubernetes.objectStorage.kind === 'minio';
}

/**
 * Copies the TLS files to TLS_PRIVATE_DIR (umask 077), owned by `user` when run as root (Docker, before the image's
 * entrypoint drops to that user; on Kubernetes the pod already runs as its user), then runs the rest of the command.
 */
function tlsCopy(user: string): string[] {
  return [
    'umask 077',
    `mkdir -p ${TLS_PRIVATE_DIR}`,
    `for f in ${Object.values(TLS_FILE_NAMES).join(' ')}; do cat ${TLS_MOUNT}/$f > ${TLS_PRIVATE_DIR}/$f || exit 1; done`,
    `if [ "$(id -u)" = 0 ]; then chown -R ${user}:${user} ${TLS_PRIVATE_DIR}; fi`,
  ];
}

/** With tls.enabled, PostgreSQL's host-based authentication: TCP only over TLS, the local socket as before. */
export const PG_HBA_TLS = [
  '# vectorstack (tls.enabled): every TCP connection must use TLS; plain ones are rejected.',
  'local all all trust',
  'hostssl all all all scram-sha-256',
  'hostnossl all all all reject',
  '',
].join('\n');
export const PG_HBA_FILE = '/run/vectorstack/pg_hba.conf';

export function postgresSpec(config: VectorstackConfig, image: string, dataDir = PG_DATA): ServiceSpec {
  const pg = config.postgres;
  const tls = config.tls.enabled;
  const server = [
    ['postgres'],
    ['-c'],
    [`shared_buffers=${pg.sharedBuffersMb}MB`],
    ['-c'],
    [`maintenance_work_mem=${pg.maintenanceWorkMemMb}MB`],
    ['-c'],
    [`max_connections=${pg.maxConnections}`],
    ['-c'],
    ['password_encryption=scram-sha-256'],
  ];
  const tlsArgs = [
    ['-c'],
    ['ssl=on'],
    ['-c'],
    [`ssl_cert_file=${TLS_PRIVATE_DIR}/${TLS_FILE_NAMES.cert}`],
    ['-c'],
    [`ssl_key_file=${TLS_PRIVATE_DIR}/${TLS_FILE_NAMES.key}`],
    ['-c'],
    ['ssl_min_protocol_version=TLSv1.2'],
    ['-c'],
    [`hba_file=${PG_HBA_FILE}`],
  ];
  return {
    name: 'postgres',
    image,
    // With TLS, a start script makes the server's private copies of its files, then runs the image's entrypoint.
    ...(tls
      ? { entrypoint: ['sh', '-c', [...tlsCopy('postgres'), 'exec "$@"'].join('\n'), 'tls-init'] }
      : {}),
    command: tls ? [['docker-entrypoint.sh'], ...server, ...tlsArgs] : server,
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
    files: tls ? [...tlsFiles('postgres'), { containerPath: PG_HBA_FILE, content: [PG_HBA_TLS] }] : [],
    dependsOn: [],
    resources: pg.resources,
    sharedMemoryMb: postgresSharedMemoryMb(pg),
  };
}

/** Room in /dev/shm beyond one maintenance_work_mem: parallel queries' segments and a second session's build. */
const SHARED_MEMORY_HEADROOM_MB = 128;

/**
 * /dev/shm for PostgreSQL: a parallel HNSW build allocates maintenance_work_mem there at its start, and Docker's
 * default 64 MB made every parallel build with more fail with `could not resize shared memory segment ... No space
 * left on device`.
 */
export function postgresSharedMemoryMb(pg: VectorstackConfig['postgres']): number {
  return pg.maintenanceWorkMemMb + SHARED_MEMORY_HEADROOM_MB;
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

/**
 * etcdctl's connection flags inside the etcd container (the health check, smoke): the local client URL and, with TLS,
 * the CA and a client certificate (etcd's own, also valid for clientAuth). Flags, not ETCDCTL_* variables: etcdctl
 * refuses a flag that shadows a variable, and the checks that must be refused drop or replace some of them.
 */
export function etcdctlFlags(tls: boolean, options: { clientCertificate?: boolean } = {}): string[] {
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${CONTAINER_PORTS.etcdClient}`;
  if (!tls) return [`--endpoints=${url}`];
  return [
    `--endpoints=${url}`,
    `--cacert=${tlsPath('ca')}`,
    ...(options.clientCertificate === false ? [] : [`--cert=${tlsPath('cert')}`, `--key=${tlsPath('key')}`]),
  ];
}

export function etcdSpec(
  config: VectorstackConfig,
  image: string,
  advertiseHost = 'etcd',
  cluster?: EtcdClusterOptions,
): ServiceSpec {
  const etcd = config.etcd;
  const peer = CONTAINER_PORTS.etcdPeer;
  const tls = config.tls.enabled;
  const scheme = tls ? 'https' : 'http';
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
      [`--listen-client-urls=${scheme}://0.0.0.0:${CONTAINER_PORTS.etcdClient}`],
      [`--advertise-client-urls=${scheme}://${advertiseHost}:${CONTAINER_PORTS.etcdClient}`],
      // Mutual TLS on the client port: a client must present a certificate the CA signed (Milvus's own).
      ...(tls
        ? [
            [`--cert-file=${tlsPath('cert')}`],
            [`--key-file=${tlsPath('key')}`],
            [`--trusted-ca-file=${tlsPath('ca')}`],
            ['--client-cert-auth'],
            ['--tls-min-version=TLS1.2'],
          ]
        : []),
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
    healthCheck: health(['etcdctl', ...etcdctlFlags(tls), 'endpoint', 'health'], 20),
    volumes: [{ name: 'data', containerPath: '/etcd', sizeGi: etcd.storageGi }],
    files: tls ? tlsFiles('etcd') : [],
    dependsOn: [],
    resources: etcd.resources,
  };
}

export function minioSpec(config: VectorstackConfig, image: string): ServiceSpec {
  const minio = config.minio;
  const tls = config.tls.enabled;
  return {
    name: 'minio',
    image,
    command: [
      ['minio'],
      ['server'],
      ['/data'],
      ['--console-address'],
      [`:${CONTAINER_PORTS.minioConsole}`],
      ...(tls ? [['--certs-dir'], [MINIO_CERTS_DIR]] : []),
    ],
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
    healthCheck: health(
      [
        'curl',
        '-fsS',
        ...(tls ? ['--cacert', `${MINIO_CERTS_DIR}/CAs/ca.crt`] : []),
        `${tls ? 'https' : 'http'}://127.0.0.1:${CONTAINER_PORTS.minio}/minio/health/live`,
      ],
      20,
    ),
    volumes: [{ name: 'data', containerPath: '/data', sizeGi: minio.storageGi }],
    // With TLS, the API and the console serve HTTPS only.
    files: tls
      ? [
          tlsFile('minio', 'cert', `${MINIO_CERTS_DIR}/public.crt`),
          tlsFile('minio', 'key', `${MINIO_CERTS_DIR}/private.key`),
          tlsFile('minio', 'ca', `${MINIO_CERTS_DIR}/CAs/ca.crt`),
        ]
      : [],
    dependsOn: [],
    resources: minio.resources,
  };
}

/** One-shot job: creates Milvus's bucket so Milvus never starts against a store without it. */
export function minioInitSpec(config: VectorstackConfig, image: string, minioHost = 'minio'): ServiceSpec {
  const tls = config.tls.enabled;
  return {
    name: 'minio-init',
    image,
    entrypoint: ['mc'],
    command: [['mb'], ['--ignore-existing'], [`vectorstack/${config.minio.bucket}`]],
    env: {
      // mc reads the alias from MC_HOST_<alias>: no credential on the command line.
      MC_HOST_vectorstack: [
        tls ? 'https://' : 'http://',
        config.minio.rootUser,
        ':',
        { secret: 'minio_root_password' },
        `@${minioHost}:${CONTAINER_PORTS.minio}`,
      ],
      // mc is Go: its system roots come from SSL_CERT_FILE, here the stack's CA alone.
      ...(tls ? { SSL_CERT_FILE: [tlsPath('ca')] } : {}),
    },
    ports: [],
    volumes: [],
    files: tls ? [tlsFile('minio', 'ca')] : [],
    dependsOn: ['minio'],
    resources: { memoryMb: 128, cpuMillis: 200 },
    job: true,
  };
}

/** Where the Milvus container finds its root password (a file, or a Secret volume on Kubernetes). */
export const MILVUS_ROOT_PASSWORD_FILE = '/run/vectorstack/milvus-root-password';

/** Each request of Milvus's readiness check gives up after this. */
const READY_REQUEST_SECONDS = 4;

/**
 * The longest Milvus's readiness check can take: /healthz, then per password one request with TLS (gRPC) or two
 * without (REST v2, then v1), each bounded, plus a second for the shell. Its health check timeout: a shorter one kills
 * a slow but passing check on a busy host (before the rotation every check tries the generated password first).
 */
function milvusReadyScriptBoundSeconds(tls: boolean): number {
  const requests = 1 + 2 * (tls ? 1 : 2);
  return requests * READY_REQUEST_SECONDS + 1;
}

/**
 * Milvus is ready when /healthz answers and the proxy serves an authenticated request (listing collections through
 * its REST API: v2 on 2.4 and later, v1 on 2.3). The well-known initial password is tried after the generated one:
 * a 2.3 server keeps it until `up` replaces it, which happens only once the container is ready.
 */
function milvusReadyScript(tls: boolean): string {
  const tokens = `for token in "root:$(cat ${MILVUS_ROOT_PASSWORD_FILE})" root:Milvus; do`;
  const healthz = `curl -fsS -m ${READY_REQUEST_SECONDS} -o /dev/null http://127.0.0.1:${CONTAINER_PORTS.milvusMetrics}/healthz || exit 1`;
  const notYet = [
    'done',
    'echo "milvus answers /healthz but does not serve authenticated requests yet" >&2',
    'exit 1',
  ];
  if (!tls)
    return [
      healthz,
      tokens,
      `  out=$(curl -sS -m ${READY_REQUEST_SECONDS} -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{}' http://127.0.0.1:${CONTAINER_PORTS.milvus}/v2/vectordb/collections/list 2>/dev/null)`,
      `  case "$out" in *'"code":0'*) exit 0 ;; esac`,
      `  out=$(curl -sS -m ${READY_REQUEST_SECONDS} -H "Authorization: Bearer $token" http://127.0.0.1:${CONTAINER_PORTS.milvus}/v1/vector/collections 2>/dev/null)`,
      `  case "$out" in *'"code":200'*) exit 0 ;; esac`,
      ...notYet,
    ].join('\n');
  // With TLS the proxy's port is gRPC only (2.3 serves no REST API there): an authenticated ShowCollections over
  // HTTP/2, verified against the stack's CA. Serving means grpc-status 0 and a response whose status (field 1) is
  // empty; a server that is not ready answers with an error code in it, a wrong password with grpc-status 16.
  return [
    healthz,
    'h=/tmp/vectorstack-ready.$$.h; b=/tmp/vectorstack-ready.$$.b',
    tokens,
    `  printf '\\0\\0\\0\\0\\0' | curl -sS -m ${READY_REQUEST_SECONDS} --http2 --cacert ${tlsPath('ca')} -H 'content-type: application/grpc' -H 'te: trailers' -H "authorization: $(printf %s "$token" | base64 | tr -d '\\n')" --data-binary @- -D "$h" -o "$b" https://127.0.0.1:${CONTAINER_PORTS.milvus}/milvus.proto.milvus.MilvusService/ShowCollections 2>/dev/null || continue`,
    `  if grep -qi '^grpc-status: 0' "$h" && [ "$(od -An -tx1 -j5 -N2 "$b" | tr -d ' \\n')" = 0a00 ]; then rm -f "$h" "$b"; exit 0; fi`,
    'done',
    'rm -f "$h" "$b"',
    ...notYet.slice(1),
  ].join('\n');
}

export function milvusSpec(
  config: VectorstackConfig,
  image: string,
  hosts = { etcd: 'etcd', minio: 'minio' },
): ServiceSpec {
  const milvus = config.milvus;
  const tls = config.tls.enabled;
  const minioTls = tls && usesKitMinio(config);
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
      // One-way TLS on the proxy (gRPC and REST): common.security.tlsMode and the tls.* paths of milvus.yaml.
      ...(tls
        ? {
            COMMON_SECURITY_TLSMODE: ['1'],
            TLS_SERVERPEMPATH: [tlsPath('cert')],
            TLS_SERVERKEYPATH: [tlsPath('key')],
            TLS_CAPEMPATH: [tlsPath('ca')],
            // etcd over mutual TLS: Milvus's certificate is also its etcd client certificate.
            ETCD_SSL_ENABLED: ['true'],
            ETCD_SSL_TLSCERT: [tlsPath('cert')],
            ETCD_SSL_TLSKEY: [tlsPath('key')],
            ETCD_SSL_TLSCACERT: [tlsPath('ca')],
            ETCD_SSL_TLSMINVERSION: ['1.2'],
          }
        : {}),
      // MinIO over TLS, verified against the stack's CA: minio.ssl.tlsCACert (2.4 and later) and the trust store.
      ...(minioTls ? { MINIO_USE_SSL: ['true'], MINIO_SSL_TLSCACERT: [tlsPath('ca')] } : {}),
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
    healthCheck: health(['sh', '-c', milvusReadyScript(tls)], 90, {
      intervalSeconds: 10,
      timeoutSeconds: milvusReadyScriptBoundSeconds(tls),
    }),
    volumes: [{ name: 'data', containerPath: '/var/lib/milvus', sizeGi: milvus.storageGi }],
    // The root password, as a file the readiness check reads (never on a command line).
    files: [
      { containerPath: MILVUS_ROOT_PASSWORD_FILE, content: [{ secret: 'milvus_root_password' }] },
      ...(tls ? tlsFiles('milvus') : []),
      ...(minioTls ? [tlsFile('milvus', 'ca', SYSTEM_TRUST_STORE)] : []),
    ],
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
];

export function redisSpec(config: VectorstackConfig, image: string): ServiceSpec {
  const redis = config.redis;
  const tls = config.tls.enabled;
  const tlsArgs = [
    // The client port speaks TLS only: no plain port.
    ['--port'],
    ['0'],
    ['--tls-port'],
    [String(CONTAINER_PORTS.redis)],
    ['--tls-cert-file'],
    [`${TLS_PRIVATE_DIR}/${TLS_FILE_NAMES.cert}`],
    ['--tls-key-file'],
    [`${TLS_PRIVATE_DIR}/${TLS_FILE_NAMES.key}`],
    ['--tls-ca-cert-file'],
    [`${TLS_PRIVATE_DIR}/${TLS_FILE_NAMES.ca}`],
    // Clients authenticate with ACL passwords, not certificates.
    ['--tls-auth-clients'],
    ['no'],
  ];
  const init = [...REDIS_ACL_INIT, ...(tls ? tlsCopy('redis') : []), 'exec "$@"'].join('\n');
  return {
    name: 'redis',
    image,
    // The script execs the image's own entrypoint, which still drops root (and fixes the file's owner).
    entrypoint: ['sh', '-c', init, 'redis-acl-init'],
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
      ...(tls ? tlsArgs : []),
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
    healthCheck: health(
      tls ? ['redis-cli', '--tls', '--cacert', tlsPath('ca'), 'ping'] : ['redis-cli', 'ping'],
      10,
    ),
    volumes: [{ name: 'data', containerPath: '/data', sizeGi: redis.storageGi }],
    files: tls ? tlsFiles('redis') : [],
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
