import type { TlsService } from '../tls/pki.js';

/** Names of the stack's services; each renders to one container (Docker) or one workload (Kubernetes). */
export const SERVICE_NAMES = ['postgres', 'etcd', 'minio', 'minio-init', 'milvus', 'redis'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Credentials the stack generates; rendered as sensitive Terraform variables (Docker) or Secret keys (Kubernetes). */
export const SECRET_NAMES = [
  /** The PostgreSQL superuser (`postgres`): administration only. */
  'postgres_password',
  'postgres_owner_password',
  'postgres_app_password',
  'postgres_readonly_password',
  'minio_root_password',
  'milvus_root_password',
  'redis_password',
  'redis_cache_password',
  'redis_session_password',
  'milvus_app_password',
  'milvus_readonly_password',
] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

/** One file of the stack's TLS material (lib/tls/pki.ts): the service's certificate, its key, or the CA certificate. */
export interface TlsFileRef {
  tls: { service: TlsService; part: 'cert' | 'key' | 'ca' };
}

/**
 * A value that is either literal, a reference to a generated credential, or (as a file's whole content) a reference to
 * a TLS file, which the renderer resolves from the material it was given: no key is ever written into a spec.
 */
export type Value = string | { secret: SecretName } | TlsFileRef;

/**
 * Text assembled from literal parts and secret references, e.g. `['http://root:', {secret}, '@minio:9000']`.
 * Renderers join it with their own secret syntax, so no credential is ever written into a spec.
 */
export type Template = Value[];

export interface PortSpec {
  /** Short name, also the Kubernetes port name. */
  name: string;
  containerPort: number;
  /** Host port on the bind address (Docker only); `null` keeps the port on the private network. */
  hostPort: number | null;
  /** The config field the host port comes from (e.g. `postgres.hostPort`), for messages about it. */
  hostPortField?: string;
}

export interface HealthCheckSpec {
  /** Exec-form command run inside the container; works in distroless images (no shell needed). */
  command: string[];
  intervalSeconds: number;
  timeoutSeconds: number;
  retries: number;
  /** Grace period after start during which failures do not count. */
  startPeriodSeconds: number;
}

export interface VolumeSpec {
  /** Logical name; the Docker volume is `<project>-<env>-<service>-<name>`. */
  name: string;
  containerPath: string;
  sizeGi: number;
}

export interface FileSpec {
  /** Absolute path of the file in the container. */
  containerPath: string;
  content: Template;
}

export interface ServiceSpec {
  name: ServiceName;
  image: string;
  /** Overrides the image's entrypoint. */
  entrypoint?: string[];
  /** Arguments (the image's CMD). */
  command?: Template[];
  env: Record<string, Template>;
  ports: PortSpec[];
  /** Absent for one-shot jobs. */
  healthCheck?: HealthCheckSpec;
  volumes: VolumeSpec[];
  files: FileSpec[];
  /** Services that must be healthy (or, for jobs, completed) first. */
  dependsOn: ServiceName[];
  resources: { memoryMb: number; cpuMillis: number };
  /**
   * Size of /dev/shm, where PostgreSQL keeps dynamic shared memory (a parallel index build's working area). Absent: the
   * runtime's default (Docker: 64 MB; Kubernetes: the node's).
   */
  sharedMemoryMb?: number;
  /** A job that runs to completion once (e.g. creating the Milvus bucket), not a long-running server. */
  job?: boolean;
}

/**
 * Renders a template with the renderer's own way of naming a secret; a TLS file reference is rendered by `tls`, which
 * a renderer without TLS material does not pass (a spec that needs it then fails here, naming the file).
 */
export function renderTemplate(
  template: Template,
  secret: (name: SecretName) => string,
  tls?: (ref: TlsFileRef['tls']) => string,
): string {
  return template
    .map((part) => {
      if (typeof part === 'string') return part;
      if ('secret' in part) return secret(part.secret);
      if (!tls)
        throw new Error(
          `rendering ${part.tls.service}'s TLS ${part.tls.part} needs the stack's TLS material`,
        );
      return tls(part.tls);
    })
    .join('');
}

/** Whether a template holds a credential or TLS material (so it belongs in a Secret, not a ConfigMap). */
export function templateHasSecret(template: Template): boolean {
  return template.some((part) => typeof part !== 'string');
}

/** The TLS file a file's content is, when it is exactly one such reference. */
export function tlsFileOf(template: Template): TlsFileRef['tls'] | null {
  const [only] = template;
  return template.length === 1 && only !== undefined && typeof only !== 'string' && 'tls' in only
    ? only.tls
    : null;
}
