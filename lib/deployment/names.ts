// Names of everything a deployment creates, per target: one place, read by the renderers (stacks/) and by the
// target drivers that find the objects again (status, port-forwards, exec).
import type { VectorstackConfig } from '../config/schema.js';
import { CONTAINER_PORTS } from '../services/specs.js';
import type { ServiceName } from '../services/types.js';

/** `<project>-<env>`: prefix of every Docker object of one environment, so environments never collide. */
export function dockerNamePrefix(config: VectorstackConfig): string {
  return `${config.project}-${config.environment}`;
}

/** The two Docker stacks: `-base` (network, volumes; outlives `down`) and `-services` (the containers). */
export function dockerStackNames(config: VectorstackConfig): { base: string; services: string } {
  const prefix = dockerNamePrefix(config);
  return { base: `${prefix}-base`, services: `${prefix}-services` };
}

/** Container of one service in a Docker environment. */
export function dockerContainerName(config: VectorstackConfig, service: ServiceName): string {
  return `${dockerNamePrefix(config)}-${service}`;
}

/** Labels on every Docker object of an environment: how status and tests find them. */
export function dockerLabels(config: VectorstackConfig): Record<string, string> {
  return { 'vectorstack.project': config.project, 'vectorstack.environment': config.environment };
}

/** The one CDKTF stack of a Kubernetes environment. */
export function kubernetesStackName(config: VectorstackConfig): string {
  return `${config.project}-${config.environment}-cluster`;
}

/** Labels on every Kubernetes object of an environment. */
export function kubernetesLabels(config: VectorstackConfig): Record<string, string> {
  return {
    'app.kubernetes.io/part-of': 'vectorstack',
    'app.kubernetes.io/managed-by': 'cdktf',
    'vectorstack.io/environment': config.environment,
  };
}

/** `<project>-<service>`: every object of one service shares it (StatefulSet, Services, ServiceAccount, PDB). */
export function objectName(project: string, service: string): string {
  return `${project}-${service}`;
}

/** Headless Service behind a StatefulSet: it gives each pod a stable DNS name. */
export function headlessServiceName(project: string, service: string): string {
  return `${objectName(project, service)}-headless`;
}

/** Cluster-wide DNS name of a service's client Service. */
export function serviceHost(config: VectorstackConfig, service: string): string {
  const k = config.kubernetes;
  return `${objectName(config.project, service)}.${k.namespace}.svc.${k.clusterDomain}`;
}

/** Stable DNS name of one StatefulSet pod, e.g. `vectorstack-etcd-0.vectorstack-etcd-headless.ns.svc.cluster.local`. */
export function podHost(config: VectorstackConfig, service: string, podName: string): string {
  const k = config.kubernetes;
  return `${podName}.${headlessServiceName(config.project, service)}.${k.namespace}.svc.${k.clusterDomain}`;
}

/** Selector labels of a service's pods; kept minimal because a StatefulSet's selector can never change. */
export function selectorLabels(project: string, service: string): Record<string, string> {
  return { 'app.kubernetes.io/name': service, 'app.kubernetes.io/instance': project };
}

/** `a=b,c=d` (validated by the config schema) as matchLabels. */
export function parseLabelSelector(selector: string): Record<string, string> {
  return Object.fromEntries(
    selector.split(',').map((pair) => {
      const at = pair.indexOf('=');
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

/** Helm release name of the Milvus cluster option; the chart names its client Service `<release>-milvus`. */
export function milvusReleaseName(project: string): string {
  return `${project}-milvus-cluster`;
}

/** CloudNativePG Cluster name; the operator names the read-write Service `<cluster>-rw`. */
export function cnpgClusterName(project: string): string {
  return objectName(project, 'postgres');
}

export interface ClientService {
  /** Service name in the environment's namespace. */
  service: string;
  port: number;
}

/**
 * The client Service of each enabled store, whichever mode renders it: what port-forwarding and outputs use. Ports
 * come from the shared CONTAINER_PORTS; the Helm chart and CloudNativePG serve the same protocols on them.
 */
export function clientServices(config: VectorstackConfig): Partial<Record<ServiceName, ClientService>> {
  const { project } = config;
  const ops = config.kubernetes.operators;
  const out: Partial<Record<ServiceName, ClientService>> = {};
  if (config.postgres.enabled) {
    out.postgres = {
      service:
        ops.postgres.mode === 'cloudnative-pg'
          ? `${cnpgClusterName(project)}-rw`
          : objectName(project, 'postgres'),
      port: CONTAINER_PORTS.postgres,
    };
  }
  if (config.milvus.enabled) {
    out.milvus = {
      service:
        ops.milvus.mode === 'helm-cluster'
          ? `${milvusReleaseName(project)}-milvus`
          : objectName(project, 'milvus'),
      port: CONTAINER_PORTS.milvus,
    };
    if (config.kubernetes.objectStorage.kind === 'minio')
      out.minio = { service: objectName(project, 'minio'), port: CONTAINER_PORTS.minio };
  }
  if (config.redis.enabled)
    out.redis = { service: objectName(project, 'redis'), port: CONTAINER_PORTS.redis };
  return out;
}
