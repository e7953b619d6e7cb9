// A scheduled backup inside the cluster: a CronJob whose pod dumps PostgreSQL (pg_dump -Fc --create, as the superuser,
// from the store's own image) and takes a Redis snapshot (redis-cli --rdb: the server forks and streams an RDB, as
// for a replica), writes SHA256SUMS, and copies the set to a bucket (the stack's MinIO or an external S3 store) under
// `<prefix>/<UTC timestamp>/`, removing sets older than the retention. Milvus is not in it: milvus-backup is not
// obtainable here and the kit's exporter runs from an operator host (npm run backup; docs/backup.md).
import { ConfigMapV1 } from '@cdktf/provider-kubernetes/lib/config-map-v1/index.js';
import { CronJobV1 } from '@cdktf/provider-kubernetes/lib/cron-job-v1/index.js';
import { NetworkPolicyV1 } from '@cdktf/provider-kubernetes/lib/network-policy-v1/index.js';
import { Construct } from 'constructs';
import type { KubernetesSettings } from '../../k8s/schema.js';
import { selectorLabels, serviceHost } from '../../lib/deployment/names.js';
import type { Deployment } from '../../lib/deployment/resolve.js';
import { CONTAINER_PORTS, TLS_FILE_NAMES, TLS_MOUNT, tlsPath } from '../../lib/services/specs.js';
import type { SecretName, ServiceName } from '../../lib/services/types.js';
import { tlsServices } from '../../lib/tls/pki.js';
import { POSTGRES_ADMIN_USER } from '../../schemas/postgres/roles.js';

/** An environment variable's source: a literal, or a key of a Secret. */
export type BackupEnvSource = { value: string } | { secretKeyRef: { name: string; key: string } };

/** A store the job reads, and how NetworkPolicies find its pods. */
export interface BackupSource {
  /** Service DNS name, e.g. `vectorstack-postgres.ns.svc.cluster.local`. */
  host: string;
  port: number;
  image: string;
  /** Labels of the store's pods (an ingress rule admits the backup pod). */
  podLabels: Record<string, string>;
  /** Where the password comes from. */
  password: BackupEnvSource;
  /** The store serves TLS only: the job connects with TLS and verifies it against `caCertPem`. @default false */
  tls?: boolean;
}

export interface BackupCronJobProps {
  readonly namespace: string;
  /** Prefix of object names. */
  readonly project: string;
  /** Extra labels on every object. @default {} */
  readonly labels?: Record<string, string>;
  /** Cron schedule, in the cluster's time zone. @default '0 3 * * *' */
  readonly schedule?: string;
  /** Suspend the schedule (objects stay). @default false */
  readonly suspend?: boolean;
  /** PostgreSQL to dump (as the superuser); null leaves it out. */
  readonly postgres: (BackupSource & { database: string; user: string }) | null;
  /** Redis to snapshot; null leaves it out. */
  readonly redis: BackupSource | null;
  /** Where sets go: an S3 endpoint (`host:port`), its bucket and credentials. */
  readonly objectStore: {
    endpoint: string;
    useSsl: boolean;
    bucket: string;
    accessKey: BackupEnvSource;
    secretKey: BackupEnvSource;
    /** In-cluster store: the labels of its pods (an ingress rule admits the job); null for an external one. */
    podLabels: Record<string, string> | null;
    /** External store: the CIDRs egress may reach. @default [] */
    cidrs?: string[];
    /** The stack's MinIO over TLS: https, verified against `caCertPem` (not the system roots). @default false */
    tls?: boolean;
  };
  /**
   * PEM of the CA that signed the stores' certificates (tls.enabled): it goes into a ConfigMap mounted at TLS_MOUNT,
   * and every TLS source is verified against it by name. Required when a source has `tls`. @default null
   */
  readonly caCertPem?: string | null;
  /** Image with `mc`, `sh`, `date` and `sha256sum`. */
  readonly mcImage: string;
  /** Object prefix of the sets. @default 'backups' */
  readonly prefix?: string;
  /** Sets older than this many days are removed after each upload. @default 14 */
  readonly retentionDays?: number;
  /** Size limit of the pod's scratch volume, where the set is assembled. @default 20 */
  readonly scratchGi?: number;
}

const SET_DIR = '/backup/set';
/** The stack's CA certificate inside the backup pod (from the job's own ConfigMap). */
const CA_FILE = tlsPath('ca');

const restricted = (uid: number) => ({
  runAsNonRoot: true,
  runAsUser: String(uid),
  runAsGroup: String(uid),
  allowPrivilegeEscalation: false,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
});

const envVar = (name: string, source: BackupEnvSource) =>
  'value' in source
    ? { name, value: source.value }
    : { name, valueFrom: { secretKeyRef: source.secretKeyRef } };

/**
 * Shell that runs `probe` until it succeeds, every 2 s for at most `seconds`, then fails naming `what`. A new pod's
 * first connections can be refused for a moment while the node's NetworkPolicy enforcement learns its address
 * (measured on the kit's node: the first `pg_isready` of a fresh pod got no answer, the next one a second later was
 * served); each step waits for its store this way before it starts.
 */
export function shellWaitFor(what: string, probe: string, seconds = 60): string {
  const tries = Math.max(1, Math.ceil(seconds / 2));
  return [
    `i=0; until ${probe} >/dev/null 2>&1; do`,
    `  i=$((i + 1)); if [ "$i" -ge ${tries} ]; then echo "${what} not reachable after ${seconds}s" >&2; exit 1; fi`,
    '  sleep 2',
    'done',
  ].join('\n');
}

/** The upload step: checksums, copy under a timestamped prefix, retention. */
export function uploadScript(bucket: string, prefix: string, retentionDays: number): string {
  const target = `vectorstack/${bucket}/${prefix}`;
  return [
    'set -eu',
    shellWaitFor(`bucket ${bucket}`, `mc ls "vectorstack/${bucket}"`),
    'stamp=$(date -u +%Y%m%dT%H%M%SZ)',
    `cd ${SET_DIR}`,
    'find . -type f ! -name SHA256SUMS -exec sha256sum {} + > SHA256SUMS',
    `mc cp --recursive ${SET_DIR}/ "${target}/$stamp/"`,
    `mc rm --recursive --force --older-than ${retentionDays}d "${target}/"`,
    `echo "backup set ${target}/$stamp written"`,
  ].join('\n');
}

/**
 * The CronJob, plus the NetworkPolicies it needs next to the stack's default deny: egress from its pod to each store
 * and to the bucket, ingress on each store from its pod.
 */
export class BackupCronJob extends Construct {
  readonly cronJob: CronJobV1;
  readonly name: string;
  readonly podLabels: Record<string, string>;

  constructor(scope: Construct, id: string, props: BackupCronJobProps) {
    super(scope, id);
    const prefix = props.prefix ?? 'backups';
    const retentionDays = props.retentionDays ?? 14;
    if (!Number.isInteger(retentionDays) || retentionDays < 1)
      throw new Error(`BackupCronJob: retentionDays must be a positive integer, got ${retentionDays}`);
    if (!props.postgres && !props.redis)
      throw new Error('BackupCronJob: neither postgres nor redis to back up');
    this.name = `${props.project}-backup`;
    this.podLabels = { 'app.kubernetes.io/name': 'backup', 'app.kubernetes.io/instance': props.project };
    const labels = { ...props.labels, ...this.podLabels, 'app.kubernetes.io/component': 'backup' };
    const mount = [{ name: 'backup', mountPath: '/backup' }];
    const tlsSources = [props.postgres, props.redis, props.objectStore].filter((s) => s?.tls);
    const ca = props.caCertPem ?? null;
    if (tlsSources.length > 0 && !ca)
      throw new Error(
        'BackupCronJob: caCertPem is required when a source serves TLS (postgres.tls, redis.tls, objectStore.tls)',
      );
    const withCa = [...mount, { name: 'ca', mountPath: TLS_MOUNT, readOnly: true }];
    const resources = {
      limits: { cpu: '1000m', memory: '512Mi' },
      requests: { cpu: '100m', memory: '128Mi' },
    };

    const steps = [];
    if (props.postgres) {
      const pg = props.postgres;
      steps.push({
        name: 'postgres-dump',
        image: pg.image,
        command: [
          'sh',
          '-c',
          [
            'set -eu',
            shellWaitFor('postgres $PGHOST:$PGPORT', 'pg_isready -h "$PGHOST" -p "$PGPORT" -t 2'),
            `mkdir -p ${SET_DIR}/postgres`,
            `pg_dump -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$PGDATABASE" --format=custom --create -f ${SET_DIR}/postgres/database.dump`,
          ].join('\n'),
        ],
        env: [
          { name: 'PGHOST', value: pg.host },
          { name: 'PGPORT', value: String(pg.port) },
          { name: 'PGUSER', value: pg.user },
          { name: 'PGDATABASE', value: pg.database },
          envVar('PGPASSWORD', pg.password),
          // libpq verifies the server's certificate and name against the stack's CA.
          ...(pg.tls
            ? [
                { name: 'PGSSLMODE', value: 'verify-full' },
                { name: 'PGSSLROOTCERT', value: CA_FILE },
              ]
            : []),
        ],
        securityContext: restricted(999),
        volumeMount: pg.tls ? withCa : mount,
        resources,
      });
    }
    if (props.redis) {
      const redis = props.redis;
      steps.push({
        name: 'redis-snapshot',
        image: redis.image,
        command: [
          'sh',
          '-c',
          [
            'set -eu',
            `cli="redis-cli --no-auth-warning ${redis.tls ? `--tls --cacert ${CA_FILE} ` : ''}-h $REDIS_HOST -p $REDIS_PORT"`,
            shellWaitFor('redis $REDIS_HOST:$REDIS_PORT', '$cli ping | grep -q PONG'),
            `mkdir -p ${SET_DIR}/redis`,
            `$cli --rdb ${SET_DIR}/redis/dump.rdb`,
          ].join('\n'),
        ],
        env: [
          { name: 'REDIS_HOST', value: redis.host },
          { name: 'REDIS_PORT', value: String(redis.port) },
          envVar('REDISCLI_AUTH', redis.password),
        ],
        securityContext: restricted(999),
        volumeMount: redis.tls ? withCa : mount,
        resources,
      });
    }
    const store = props.objectStore;
    const upload = {
      name: 'upload',
      image: props.mcImage,
      command: ['sh', '-c', uploadScript(store.bucket, prefix, retentionDays)],
      env: [
        envVar('S3_ACCESS_KEY', store.accessKey),
        envVar('S3_SECRET_KEY', store.secretKey),
        // mc reads the alias from MC_HOST_<alias>; Kubernetes expands $(VAR) from the variables above.
        {
          name: 'MC_HOST_vectorstack',
          value: `${store.useSsl || store.tls ? 'https' : 'http'}://$(S3_ACCESS_KEY):$(S3_SECRET_KEY)@${store.endpoint}`,
        },
        // mc is Go: with SSL_CERT_FILE its only root is the stack's CA.
        ...(store.tls ? [{ name: 'SSL_CERT_FILE', value: CA_FILE }] : []),
        // mc keeps its configuration in $HOME; the image's home is not writable under a restricted policy.
        { name: 'HOME', value: '/backup' },
      ],
      // The same user as the dump steps (and the mc image's own): the set directory they wrote is its to add SHA256SUMS to.
      securityContext: restricted(999),
      volumeMount: store.tls ? withCa : mount,
      resources,
    };

    // The CA certificate is public: a ConfigMap of the job's own carries it (the stores' Secrets hold their keys).
    const caMap = ca
      ? new ConfigMapV1(this, 'ca', {
          metadata: { name: `${this.name}-ca`, namespace: props.namespace, labels },
          data: { [TLS_FILE_NAMES.ca]: ca },
        })
      : null;
    caMap?.overrideLogicalId('backup_ca');
    this.cronJob = new CronJobV1(this, 'cron-job', {
      metadata: { name: this.name, namespace: props.namespace, labels },
      spec: {
        schedule: props.schedule ?? '0 3 * * *',
        suspend: props.suspend ?? false,
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 3600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: 6 * 3600,
            template: {
              metadata: { labels },
              spec: {
                restartPolicy: 'Never',
                automountServiceAccountToken: false,
                enableServiceLinks: false,
                securityContext: {
                  runAsNonRoot: true,
                  seccompProfile: { type: 'RuntimeDefault' },
                  fsGroup: '999',
                },
                // Each store in turn, then the upload: a failed step fails the run and uploads nothing.
                initContainer: steps,
                container: [upload],
                volume: [
                  { name: 'backup', emptyDir: { sizeLimit: `${props.scratchGi ?? 20}Gi` } },
                  ...(caMap ? [{ name: 'ca', configMap: { name: caMap.metadata.name } }] : []),
                ],
              },
            },
          },
        },
      },
    });
    this.cronJob.overrideLogicalId('backup_cron_job');
    this.policies(props, labels);
  }

  private policies(props: BackupCronJobProps, labels: Record<string, string>): void {
    const { namespace } = props;
    const here = (podLabels: Record<string, string>) => ({
      podSelector: { matchLabels: podLabels },
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    });
    const tcp = (port: number) => [{ port: String(port), protocol: 'TCP' }];
    const targets: {
      name: string;
      podLabels: Record<string, string> | null;
      port: number;
      cidrs?: string[];
    }[] = [];
    if (props.postgres)
      targets.push({ name: 'postgres', podLabels: props.postgres.podLabels, port: props.postgres.port });
    if (props.redis)
      targets.push({ name: 'redis', podLabels: props.redis.podLabels, port: props.redis.port });
    const store = props.objectStore;
    targets.push({
      name: 'object-storage',
      podLabels: store.podLabels,
      port: Number(store.endpoint.split(':')[1] ?? (store.useSsl ? 443 : 80)),
      cidrs: store.cidrs ?? [],
    });
    for (const t of targets) {
      const egress = new NetworkPolicyV1(this, `${t.name}-egress`, {
        metadata: { name: `${props.project}-backup-to-${t.name}-egress`, namespace, labels },
        spec: {
          podSelector: { matchLabels: this.podLabels },
          policyTypes: ['Egress'],
          egress: [
            {
              to: t.podLabels ? [here(t.podLabels)] : (t.cidrs ?? []).map((cidr) => ({ ipBlock: { cidr } })),
              ports: tcp(t.port),
            },
          ],
        },
      });
      egress.overrideLogicalId(`netpol_backup_to_${t.name.replaceAll('-', '_')}_egress`);
      if (!t.podLabels) continue;
      const ingress = new NetworkPolicyV1(this, `${t.name}-ingress`, {
        metadata: { name: `${props.project}-backup-to-${t.name}-ingress`, namespace, labels },
        spec: {
          podSelector: { matchLabels: t.podLabels },
          policyTypes: ['Ingress'],
          ingress: [{ from: [here(this.podLabels)], ports: tcp(t.port) }],
        },
      });
      ingress.overrideLogicalId(`netpol_backup_to_${t.name.replaceAll('-', '_')}_ingress`);
    }
  }
}

/** The configuration's `kubernetes.backup` section, without its `enabled` switch. */
export type BackupSchedule = Omit<KubernetesSettings['backup'], 'enabled'>;

/**
 * The CronJob's properties for a deployment: the stores' client Services, images and pod labels, the credentials
 * Secret's keys, and the stack's object store (MinIO in the namespace, or the external bucket and its Secret).
 * PostgreSQL run by CloudNativePG is left out (its superuser is the operator's; see docs/kubernetes.md).
 */
export function backupCronJobProps(
  deployment: Deployment,
  namespace: string,
  credentialsSecret: string,
  labels: Record<string, string>,
  schedule: BackupSchedule,
  caCertPem: string | null = null,
): BackupCronJobProps {
  const { config, specs } = deployment;
  const tls = new Set<string>(tlsServices(deployment));
  const secret = (key: SecretName): BackupEnvSource => ({ secretKeyRef: { name: credentialsSecret, key } });
  const spec = (name: ServiceName) => specs.find((s) => s.name === name);
  const source = (name: 'postgres' | 'redis', port: number, key: SecretName): BackupSource | null => {
    const found = spec(name);
    return found
      ? {
          host: serviceHost(config, name),
          port,
          image: found.image,
          podLabels: selectorLabels(config.project, name),
          password: secret(key),
          tls: tls.has(name),
        }
      : null;
  };
  const pg = source('postgres', CONTAINER_PORTS.postgres, 'postgres_password');
  const k = config.kubernetes;
  const external = k.objectStorage.kind === 'external' ? k.objectStorage : null;
  return {
    namespace,
    project: config.project,
    labels,
    caCertPem: tls.size > 0 ? caCertPem : null,
    schedule: schedule.schedule,
    suspend: schedule.suspend,
    prefix: schedule.prefix,
    retentionDays: schedule.retentionDays,
    scratchGi: schedule.scratchGi,
    postgres: pg ? { ...pg, database: config.postgres.database, user: POSTGRES_ADMIN_USER } : null,
    redis: source('redis', CONTAINER_PORTS.redis, 'redis_password'),
    mcImage: deployment.images.mc,
    objectStore: external
      ? {
          endpoint: external.endpoint,
          useSsl: external.useSsl,
          bucket: schedule.bucket ?? external.bucket,
          accessKey: { secretKeyRef: { name: external.credentialsSecret, key: external.accessKeyIdKey } },
          secretKey: { secretKeyRef: { name: external.credentialsSecret, key: external.secretAccessKeyKey } },
          podLabels: null,
          cidrs: external.egressCidrs,
        }
      : {
          endpoint: `${serviceHost(config, 'minio')}:${CONTAINER_PORTS.minio}`,
          useSsl: tls.has('minio'),
          tls: tls.has('minio'),
          bucket: schedule.bucket ?? config.minio.bucket,
          accessKey: { value: config.minio.rootUser },
          secretKey: secret('minio_root_password'),
          podLabels: selectorLabels(config.project, 'minio'),
        },
  };
}
