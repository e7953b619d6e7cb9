import { type LoadConfigOptions, loadConfig } from '../config/load.js';
import type { VectorstackConfig } from '../config/schema.js';
import { DEFAULT_IMAGES, type ImageKey, readImageOverrides, resolveImages } from '../images.js';
import { imagesFile, stateDir } from '../paths.js';
import { buildServiceSpecs, PG_DATA, type ServiceTopology, usesKitMinio } from '../services/specs.js';
import type { ServiceName, ServiceSpec } from '../services/types.js';
import { objectName, podHost, serviceHost } from './names.js';

/**
 * A configuration resolved once for its target: the images, the service specs with the target's host names, and where
 * its state lives. Everything downstream (rendering, drivers, commands) reads this; nothing recomputes it.
 */
export interface Deployment {
  readonly config: VectorstackConfig;
  readonly target: VectorstackConfig['target'];
  readonly images: Record<ImageKey, string>;
  /** Every service this target runs, in start order (operator-managed ones excluded on Kubernetes). */
  readonly specs: ServiceSpec[];
  /** Services an operator or an external system provides instead of a spec (Kubernetes options). */
  readonly external: ServiceName[];
  /** Absolute directory of the environment's state: credentials, Terraform state, outputs, reports. */
  readonly stateDir: string;
  /** Directory relative paths were resolved against. */
  readonly cwd: string;
  readonly environ: NodeJS.ProcessEnv;
}

export interface ResolveOptions {
  cwd?: string;
  environ?: NodeJS.ProcessEnv;
}

/** Loads the configuration (every rule checked there) and resolves it. */
export function loadDeployment(options: LoadConfigOptions = {}): Deployment {
  return resolveDeployment(loadConfig(options), options);
}

export function resolveDeployment(config: VectorstackConfig, options: ResolveOptions = {}): Deployment {
  const cwd = options.cwd ?? process.cwd();
  const environ = options.environ ?? process.env;
  const base = {
    config,
    target: config.target,
    stateDir: stateDir(config.stateDir, config.environment, cwd),
    cwd,
    environ,
  };
  if (config.target === 'docker') {
    const images = resolveImages(config.images, readImageOverrides(imagesFile(environ)));
    return { ...base, images, specs: buildServiceSpecs(config, images), external: [] };
  }
  const images = clusterImages(config, environ);
  const external = externalServices(config);
  const specs = buildServiceSpecs(config, images, clusterTopology(config))
    .filter((spec) => !external.includes(spec.name))
    .map((spec) => ({ ...spec, dependsOn: spec.dependsOn.filter((dep) => !external.includes(dep)) }));
  return { ...base, images, specs, external };
}

/**
 * Cluster images: the pinned defaults, then config.images, then the cluster's own overrides. The images `npm run
 * setup` built are tags in this host's Docker engine, which a cluster cannot pull; they apply only on the kit's local
 * cluster (`kubernetes.localCluster`), into which `up` imports them.
 */
export function clusterImages(
  config: VectorstackConfig,
  environ: NodeJS.ProcessEnv = process.env,
): Record<ImageKey, string> {
  const host = config.kubernetes.localCluster ? readImageOverrides(imagesFile(environ)) : {};
  return { ...DEFAULT_IMAGES, ...host, ...config.images, ...config.kubernetes.images } as Record<
    ImageKey,
    string
  >;
}

/** How the services find each other in the namespace: client Services, and etcd members by their stable names. */
export function clusterTopology(config: VectorstackConfig): ServiceTopology {
  const etcd = objectName(config.project, 'etcd');
  const members = Array.from({ length: config.kubernetes.etcdReplicas }, (_, i) => `${etcd}-${i}`);
  const self = podHost(config, 'etcd', '$(POD_NAME)');
  return {
    etcdAdvertiseHost: self,
    etcdCluster: {
      memberName: '$(POD_NAME)',
      peerHost: self,
      members: members.map((name) => ({ name, host: podHost(config, 'etcd', name) })),
      token: `${config.project}-${config.environment}-etcd`,
    },
    hosts: { etcd: serviceHost(config, 'etcd'), minio: serviceHost(config, 'minio') },
    postgresDataDir: `${PG_DATA}/pgdata`,
  };
}

/** Services the cluster options hand to an operator (CloudNativePG, the Milvus chart) or to an external bucket. */
function externalServices(config: VectorstackConfig): ServiceName[] {
  const k = config.kubernetes;
  return [
    ...(k.operators.postgres.mode === 'cloudnative-pg' ? (['postgres'] as const) : []),
    ...(k.operators.milvus.mode === 'helm-cluster' ? (['milvus'] as const) : []),
    ...(!usesKitMinio(config) ? (['minio', 'minio-init'] as const) : []),
  ];
}
