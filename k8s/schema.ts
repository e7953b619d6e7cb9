import { z } from 'zod';
import { IMAGE_KEYS, type ImageKey } from '../lib/images.js';

/** RFC 1123 label: namespaces, object-name prefixes. */
const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label (a-z, 0-9 and -, at most 63)');
const dnsSubdomain = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
    'must be a DNS subdomain (a-z, 0-9, - and ., at most 253)',
  );

/**
 * `key=value[,key=value]`, as `kubectl -l` takes it. A string, not a map: config layers merge maps key by key, so a
 * map could never drop the default label; a string replaces it whole.
 */
export const LABEL_SELECTOR_PATTERN =
  /^([a-z0-9A-Z.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?=([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?(,([a-z0-9A-Z.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?=([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?)*$/;
const labelSelector = z.string().regex(LABEL_SELECTOR_PATTERN, 'must be key=value[,key=value...]');

const ipv4Cidr = z.cidrv4();

const toleration = z.strictObject({
  key: z.string().min(1).optional(),
  operator: z.enum(['Equal', 'Exists']),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.number().int().min(0).optional(),
});
export type Toleration = z.infer<typeof toleration>;

/** Milvus's object store: the in-namespace MinIO StatefulSet, or a bucket the platform already runs. */
const objectStorage = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('minio') }),
  z.strictObject({
    kind: z.literal('external'),
    /** `host:port` of the S3-compatible endpoint, e.g. `s3.eu-central-1.amazonaws.com:443`. */
    endpoint: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[0-9]{1,5}$/, 'must be host:port (no scheme)'),
    useSsl: z.boolean(),
    region: z.string().min(1).optional(),
    /** Must exist already: Milvus stores segments in it; nothing here creates or empties it. */
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{2,62}$/, 'must be a valid S3 bucket name (3-63 of a-z, 0-9, . and -)'),
    /** Existing Secret in the namespace holding the access key pair: credentials never enter this config. */
    credentialsSecret: dnsSubdomain,
    accessKeyIdKey: z.string().min(1),
    secretAccessKeyKey: z.string().min(1),
    /** Where the endpoint lives: Milvus's egress is allowed to these ranges on the endpoint's port only. */
    egressCidrs: z.array(ipv4Cidr).min(1),
  }),
]);
export type ObjectStorage = z.infer<typeof objectStorage>;

/** A CronJob schedule: five fields (minute hour day-of-month month day-of-week) or a macro such as `@daily`. */
const cronSchedule = z
  .string()
  .regex(
    /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*?,/-]+( +[0-9A-Za-z*?,/-]+){4})$/,
    'a cron schedule: five fields ("0 3 * * *") or @hourly, @daily, @weekly, @monthly, @yearly',
  );

/** The scheduled backup (stacks/kubernetes/backup-cronjob.ts): PostgreSQL dump and Redis snapshot to the bucket. */
const backupSchedule = z.strictObject({
  /** Render the CronJob. */
  enabled: z.boolean(),
  schedule: cronSchedule,
  /** Render it suspended (no run starts until it is resumed). */
  suspend: z.boolean(),
  /** Bucket of the sets; null: the object store's (minio.bucket, or the external bucket). */
  bucket: z.string().min(3).max(63).nullable(),
  /** Key prefix of the sets inside the bucket. */
  prefix: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'letters, digits, ".", "_", "-" and "/"'),
  /** Sets older than this many days are removed after each upload. */
  retentionDays: z.number().int().min(1).max(3650),
  /** Size limit of the pod's scratch volume where a set is assembled (GiB). */
  scratchGi: z.number().int().min(1).max(10_000),
});

export const POSTGRES_MODES = ['statefulset', 'cloudnative-pg'] as const;
export const MILVUS_MODES = ['standalone', 'helm-cluster'] as const;

export const kubernetesSchema = z.strictObject({
  /** Namespace every object lives in; one per environment. */
  namespace: dnsLabel,
  /** Create (and label) the namespace; false when the platform team hands out namespaces. */
  createNamespace: z.boolean(),
  /** Kubeconfig file; null: the local cluster's (localCluster), else $KUBECONFIG, then ~/.kube/config. */
  kubeconfig: z.string().min(1).nullable(),
  /** Kube context to deploy to; null: the kubeconfig's current context (refused for production). */
  context: z.string().min(1).nullable(),
  /** Cluster DNS domain, for the etcd members' stable names. */
  clusterDomain: dnsSubdomain,
  /** StorageClass of every volume claim; null: the cluster's default class. */
  storageClass: dnsSubdomain.nullable(),
  /** etcd members: 1, or an odd quorum of 3 or 5 spread over nodes. */
  etcdReplicas: z.union([z.literal(1), z.literal(3), z.literal(5)]),
  /**
   * CPU request as a fraction of the limit. Memory requests always equal limits: a database must not be the pod the
   * kubelet evicts under memory pressure. 1 gives the Guaranteed QoS class.
   */
  cpuRequestFraction: z.number().min(0.1).max(1),
  nodeSelector: z.record(z.string().min(1), z.string()),
  tolerations: z.array(toleration),
  /** Keep a workload's replicas on different nodes (kubernetes.io/hostname). */
  antiAffinity: z.enum(['none', 'preferred', 'required']),
  podDisruptionBudgets: z.boolean(),
  /** Labels of the application's pods: the only pods allowed to reach PostgreSQL, Milvus and Redis. */
  appSelector: labelSelector,
  /** Namespace of the application's pods; null: this namespace. */
  appNamespace: dnsLabel.nullable(),
  /** Cluster DNS, the one egress every pod gets. */
  dns: z.strictObject({ namespace: dnsLabel, podSelector: labelSelector }),
  /** Image overrides for this cluster (registry mirrors). */
  images: z.partialRecord(z.enum(IMAGE_KEYS as [ImageKey, ...ImageKey[]]), z.string().min(1)),
  /**
   * The environment runs on the kit's own single-node cluster (`npm run cluster -- up`): its kubeconfig and context
   * unless set here, and the images `npm run setup` built on this host, which `up` imports into the cluster's
   * containerd. @default false
   */
  localCluster: z.boolean(),
  objectStorage,
  /** Scheduled backups of PostgreSQL and Redis to the bucket; see docs/kubernetes.md. */
  backup: backupSchedule,
  /** Production options beyond one pod, each rendered through CDKTF; see docs/kubernetes.md. */
  operators: z.strictObject({
    postgres: z.strictObject({
      mode: z.enum(POSTGRES_MODES),
      /** CloudNativePG instances (1 primary + replicas). */
      instances: z.number().int().min(1).max(9),
      /** A CloudNativePG operand image that ships pgvector. */
      image: z.string().min(1),
      /** Namespace the CloudNativePG operator runs in (it calls the instances' status port). */
      operatorNamespace: dnsLabel,
    }),
    milvus: z.strictObject({
      mode: z.enum(MILVUS_MODES),
      chartRepository: z.url(),
      chartVersion: z.string().min(1),
    }),
    /** Kubernetes API server addresses: CloudNativePG instances talk to the API; egress is allowed there only. */
    apiServerCidrs: z.array(ipv4Cidr),
  }),
});

export type KubernetesSettings = z.infer<typeof kubernetesSchema>;
