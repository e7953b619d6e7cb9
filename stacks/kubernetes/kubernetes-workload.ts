import path from 'node:path';
import { ConfigMapV1 } from '@cdktf/provider-kubernetes/lib/config-map-v1/index.js';
import { JobV1 } from '@cdktf/provider-kubernetes/lib/job-v1/index.js';
import { PodDisruptionBudgetV1 } from '@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1/index.js';
import { SecretV1 } from '@cdktf/provider-kubernetes/lib/secret-v1/index.js';
import { ServiceAccountV1 } from '@cdktf/provider-kubernetes/lib/service-account-v1/index.js';
import { ServiceV1 } from '@cdktf/provider-kubernetes/lib/service-v1/index.js';
import {
  StatefulSetV1,
  type StatefulSetV1SpecTemplateSpec,
  type StatefulSetV1SpecTemplateSpecContainerEnv,
} from '@cdktf/provider-kubernetes/lib/stateful-set-v1/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import type { Toleration } from '../../k8s/schema.js';
import { headlessServiceName, objectName, selectorLabels } from '../../lib/deployment/names.js';
import {
  renderTemplate,
  type SecretName,
  type ServiceSpec,
  type Template,
  type TlsFileRef,
  templateHasSecret,
} from '../../lib/services/types.js';
import type { TlsMaterial } from '../../lib/tls/pki.js';

/** An environment variable's source when the spec's own value does not apply (e.g. an external bucket's keys). */
export type EnvSource = { value: string } | { secretKeyRef: { name: string; key: string } };

export interface KubernetesWorkloadProps {
  /** The service to run, as rendered from the configuration. */
  readonly spec: ServiceSpec;
  /** Namespace of every object (a Terraform reference to the namespace orders creation after it). */
  readonly namespace: string;
  /** Prefix of object names: `<project>-<service>`. */
  readonly project: string;
  /** Secret holding the generated credentials, one key per SecretName. */
  readonly credentialsSecretName: string;
  /** Terraform expression for each credential: values that embed one are written whole into this workload's Secret. */
  readonly secret: (name: SecretName) => string;
  /** Pods of the StatefulSet. @default 1 */
  readonly replicas?: number;
  /** Render the StatefulSet with zero replicas (the environment is down); everything else stays. @default false */
  readonly stopped?: boolean;
  /** `Parallel` for members that must start together to form a quorum (etcd). @default 'OrderedReady' */
  readonly podManagementPolicy?: 'OrderedReady' | 'Parallel';
  /** StorageClass of the volume claims; null: the cluster default. @default null */
  readonly storageClass?: string | null;
  /** CPU request as a fraction of the limit; memory requests equal limits. @default 1 */
  readonly cpuRequestFraction?: number;
  /** Non-root UID (and GID, fsGroup) the containers run as. @default 10001 */
  readonly runAsUser?: number;
  /** @default {} */
  readonly nodeSelector?: Record<string, string>;
  /** @default [] */
  readonly tolerations?: Toleration[];
  /** Spread replicas over nodes. @default 'none' */
  readonly antiAffinity?: 'none' | 'preferred' | 'required';
  /** Render a PodDisruptionBudget (servers only). @default false */
  readonly podDisruptionBudget?: boolean;
  /** Replace or add environment variables; wins over the spec's own. @default {} */
  readonly envOverrides?: Record<string, EnvSource>;
  /**
   * Wait for completion (Job) during apply, so dependents start after it (Milvus after its bucket). StatefulSet
   * rollouts are waited for by the target driver, not by Terraform. @default true
   */
  readonly wait?: boolean;
  /** Objects that must exist (and, when waited for, be ready or complete) before this workload. @default [] */
  readonly dependsOn?: ITerraformDependable[];
  /** Extra labels on every object and pod. @default {} */
  readonly labels?: Record<string, string>;
  /**
   * The stack's TLS material: the certificate, key and CA certificate of a TLS store go into its files Secret (the
   * CA's key never does). Required when the spec refers to TLS files. @default null
   */
  readonly tls?: TlsMaterial | null;
}

/** Renders a spec's TLS file reference from the material: the PEM of the certificate, key or CA certificate. */
function tlsResolver(props: KubernetesWorkloadProps) {
  const material = props.tls;
  if (!material) return undefined;
  return (ref: TlsFileRef['tls']) => {
    if (ref.part === 'ca') return material.caCert;
    const server = material.servers[ref.service];
    if (!server)
      throw new Error(`KubernetesWorkload ${props.spec.name}: no TLS certificate for ${ref.service}`);
    return ref.part === 'cert' ? server.cert : server.key;
  };
}

/** Environment variable through which Kubernetes expands a credential inside an argument: `$(NAME)`. */
export function secretEnvName(name: SecretName): string {
  return `VECTORSTACK_SECRET_${name.toUpperCase()}`;
}

/** Writable scratch for images that expect one; the rest of the filesystem belongs to the image. */
const SCRATCH_DIR = '/tmp';

/**
 * One service as Kubernetes objects: ServiceAccount (no token), StatefulSet with volume claim templates (or a Job
 * for one-shot specs), headless and client Services, probes from the spec's health check, requests and limits, a
 * securityContext meeting Pod Security "restricted", and optionally a PodDisruptionBudget and pod anti-affinity.
 * Credentials reach containers only through secretKeyRef.
 */
export class KubernetesWorkload extends Construct {
  readonly name: string;
  readonly workload: StatefulSetV1 | JobV1;
  readonly labels: Record<string, string>;

  constructor(scope: Construct, id: string, props: KubernetesWorkloadProps) {
    super(scope, id);
    const { spec } = props;
    const fail = (message: string): never => {
      throw new Error(`KubernetesWorkload ${spec.name}: ${message}`);
    };
    const replicas = props.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1)
      fail(`replicas must be a positive integer, got ${replicas}`);
    if (spec.job && replicas !== 1) fail(`replicas must be 1 for a job, got ${replicas}`);
    if (!spec.job && !spec.healthCheck)
      fail('spec.healthCheck is required for a server (it becomes the probes)');
    const cpuRequestFraction = props.cpuRequestFraction ?? 1;
    if (!(cpuRequestFraction > 0 && cpuRequestFraction <= 1))
      fail(`cpuRequestFraction must be in (0, 1], got ${cpuRequestFraction}`);
    const runAsUser = props.runAsUser ?? 10001;
    if (!Number.isInteger(runAsUser) || runAsUser < 1)
      fail(`runAsUser must be a non-root UID, got ${runAsUser}`);
    if (!/^[a-z][a-z0-9-]*$/.test(props.project))
      fail(`project "${props.project}" must match ^[a-z][a-z0-9-]*$ (it prefixes object names)`);
    if (props.podDisruptionBudget && spec.job) fail('podDisruptionBudget applies to servers, not jobs');

    this.name = objectName(props.project, spec.name);
    const selector = selectorLabels(props.project, spec.name);
    this.labels = { ...props.labels, ...selector, 'app.kubernetes.io/component': spec.name };
    const metadata = (name: string) => ({ name, namespace: props.namespace, labels: this.labels });
    const readable = (resource: { overrideLogicalId(id: string): void }, suffix = '') =>
      resource.overrideLogicalId(`${spec.name.replaceAll('-', '_')}${suffix}`);

    const account = new ServiceAccountV1(this, 'service-account', {
      metadata: metadata(this.name),
      // The stores never call the Kubernetes API: no token in their pods.
      automountServiceAccountToken: false,
    });
    readable(account);

    const env = this.renderEnv(props, metadata);
    const fileVolumes = this.renderFiles(props, metadata);
    const hc = spec.healthCheck;
    const probe = (failureThreshold: number) =>
      hc && {
        exec: { command: hc.command },
        periodSeconds: hc.intervalSeconds,
        timeoutSeconds: hc.timeoutSeconds,
        failureThreshold,
      };
    const cpuRequest = Math.max(1, Math.round(spec.resources.cpuMillis * cpuRequestFraction));

    const podSpec: StatefulSetV1SpecTemplateSpec = {
      serviceAccountName: account.metadata.name,
      automountServiceAccountToken: false,
      // Service links put every Service's address into the environment; nothing here reads them.
      enableServiceLinks: false,
      nodeSelector: props.nodeSelector,
      toleration: (props.tolerations ?? []).map((t) => ({
        ...t,
        tolerationSeconds: t.tolerationSeconds === undefined ? undefined : String(t.tolerationSeconds),
      })),
      affinity: this.antiAffinity(props.antiAffinity ?? 'none', selector),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: String(runAsUser),
        runAsGroup: String(runAsUser),
        // Volumes become writable by the container's group; skip the recursive chown when ownership is right.
        fsGroup: String(runAsUser),
        fsGroupChangePolicy: 'OnRootMismatch',
        seccompProfile: { type: 'RuntimeDefault' },
      },
      container: [
        {
          name: spec.name,
          image: spec.image,
          imagePullPolicy: 'IfNotPresent',
          command: spec.entrypoint,
          args: spec.command?.map((arg) => renderTemplate(arg, (name) => `$(${secretEnvName(name)})`)),
          env,
          port: spec.ports.map((port) => ({
            name: port.name,
            containerPort: port.containerPort,
            protocol: 'TCP',
          })),
          resources: {
            limits: { cpu: `${spec.resources.cpuMillis}m`, memory: `${spec.resources.memoryMb}Mi` },
            requests: { cpu: `${cpuRequest}m`, memory: `${spec.resources.memoryMb}Mi` },
          },
          securityContext: {
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
            privileged: false,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
          // Start-up gets the spec's grace period on top of its retries; then liveness restarts a hung server and
          // readiness takes a struggling one out of its Service sooner.
          startupProbe: hc && probe(Math.ceil(hc.startPeriodSeconds / hc.intervalSeconds) + hc.retries),
          livenessProbe: hc && probe(hc.retries),
          readinessProbe: hc && probe(Math.min(3, hc.retries)),
          volumeMount: [
            { name: 'scratch', mountPath: SCRATCH_DIR },
            // A sub-directory, not the volume root: initdb and etcd refuse a data directory holding lost+found.
            ...spec.volumes.map((v) => ({ name: v.name, mountPath: v.containerPath, subPath: v.name })),
            ...fileVolumes.mounts,
            ...(spec.sharedMemoryMb ? [{ name: 'shm', mountPath: '/dev/shm' }] : []),
          ],
        },
      ],
      volume: [
        { name: 'scratch', emptyDir: { sizeLimit: '256Mi' } },
        ...fileVolumes.volumes,
        // Memory-backed, counted against the container's memory limit, like Docker's shm_size.
        ...(spec.sharedMemoryMb
          ? [{ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: `${spec.sharedMemoryMb}Mi` } }]
          : []),
      ],
    };

    const wait = props.wait ?? true;
    if (spec.job) {
      const job = new JobV1(this, 'job', {
        metadata: metadata(this.name),
        spec: {
          backoffLimit: 6,
          template: {
            metadata: { labels: this.labels },
            spec: { ...(podSpec as object), restartPolicy: 'OnFailure' } as never,
          },
        },
        // Dependents (Milvus) are created only after the job has succeeded, as on Docker.
        waitForCompletion: wait,
        timeouts: { create: '10m', update: '10m' },
        dependsOn: props.dependsOn,
      });
      readable(job);
      this.workload = job;
      return;
    }

    const headless = new ServiceV1(this, 'headless', {
      metadata: metadata(headlessServiceName(props.project, spec.name)),
      spec: {
        clusterIp: 'None',
        selector,
        // Peers must resolve each other before they are ready: an etcd member only becomes ready with a quorum.
        publishNotReadyAddresses: true,
        port: spec.ports.map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name })),
      },
    });
    readable(headless, '_headless');
    const client = new ServiceV1(this, 'client', {
      metadata: metadata(this.name),
      spec: {
        type: 'ClusterIP',
        selector,
        port: spec.ports.map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name })),
      },
    });
    readable(client);

    const statefulSet = new StatefulSetV1(this, 'stateful-set', {
      metadata: metadata(this.name),
      spec: {
        serviceName: headless.metadata.name,
        replicas: String(props.stopped ? 0 : replicas),
        podManagementPolicy: props.podManagementPolicy ?? 'OrderedReady',
        selector: { matchLabels: selector },
        updateStrategy: [{ type: 'RollingUpdate' }],
        // Data outlives the workload: deleting or scaling down the StatefulSet keeps the claims.
        persistentVolumeClaimRetentionPolicy: [{ whenDeleted: 'Retain', whenScaled: 'Retain' }],
        template: { metadata: { labels: this.labels }, spec: podSpec },
        volumeClaimTemplate: spec.volumes.map((v) => ({
          metadata: { name: v.name, labels: selector },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: props.storageClass ?? undefined,
            resources: { requests: { storage: `${v.sizeGi}Gi` } },
          },
        })),
      },
      // Never in Terraform: the kubernetes provider (3.2.1) fails every update of a StatefulSet it waited for with
      // "Missing Resource Identity After Update" (hashicorp/terraform-provider-kubernetes#2926). The target driver
      // waits for readiness itself, bounded, with the reason a pod is not ready.
      waitForRollout: false,
      timeouts: { create: '15m', update: '15m' },
      dependsOn: props.dependsOn,
    });
    readable(statefulSet);
    this.workload = statefulSet;

    if (props.podDisruptionBudget) {
      // Multi-member quorums (etcd) may lose a minority; a single stateful pod may not be evicted at all, so a drain
      // waits for an operator to move it deliberately instead of taking the store down silently.
      const maxUnavailable = replicas === 1 ? 0 : Math.floor((replicas - 1) / 2);
      const pdb = new PodDisruptionBudgetV1(this, 'pdb', {
        metadata: metadata(this.name),
        spec: { selector: { matchLabels: selector }, maxUnavailable: String(maxUnavailable) },
      });
      readable(pdb);
    }
  }

  private antiAffinity(mode: 'none' | 'preferred' | 'required', selector: Record<string, string>) {
    if (mode === 'none') return undefined;
    const term = { labelSelector: [{ matchLabels: selector }], topologyKey: 'kubernetes.io/hostname' };
    return {
      podAntiAffinity:
        mode === 'required'
          ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
          : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] },
    };
  }

  /**
   * Literal values stay literal; a value that is one credential references the credentials Secret; a value that
   * embeds one (mc's MC_HOST_* URL) is written whole into this workload's own Secret. Arguments that embed a
   * credential get it through an environment variable Kubernetes expands as `$(NAME)`.
   */
  private renderEnv(
    props: KubernetesWorkloadProps,
    metadata: (name: string) => object,
  ): StatefulSetV1SpecTemplateSpecContainerEnv[] {
    const { spec } = props;
    const fromCredentials = (name: SecretName) => ({
      valueFrom: { secretKeyRef: { name: props.credentialsSecretName, key: name } },
    });
    // First: later values may refer to it as $(POD_NAME) (etcd's member name and peer URLs).
    const env: StatefulSetV1SpecTemplateSpecContainerEnv[] = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'HOME', value: SCRATCH_DIR },
    ];
    const argSecrets = new Set<SecretName>();
    for (const arg of spec.command ?? [])
      for (const part of arg) if (typeof part !== 'string' && 'secret' in part) argSecrets.add(part.secret);
    for (const name of argSecrets) env.push({ name: secretEnvName(name), ...fromCredentials(name) });

    const composite: Record<string, string> = {};
    const ownSecretName = `${this.name}-env`;
    const overrides = props.envOverrides ?? {};
    for (const [key, template] of Object.entries(spec.env)) {
      if (key in overrides) continue;
      env.push({
        name: key,
        ...this.envValue(template, key, fromCredentials, ownSecretName, composite, props),
      });
    }
    for (const [key, source] of Object.entries(overrides))
      env.push('value' in source ? { name: key, value: source.value } : { name: key, valueFrom: source });
    if (Object.keys(composite).length > 0) {
      const secret = new SecretV1(this, 'env-secret', {
        metadata: metadata(ownSecretName),
        type: 'Opaque',
        data: composite,
      });
      secret.overrideLogicalId(`${spec.name.replaceAll('-', '_')}_env`);
    }
    return env;
  }

  private envValue(
    template: Template,
    key: string,
    fromCredentials: (name: SecretName) => { valueFrom: { secretKeyRef: { name: string; key: string } } },
    ownSecretName: string,
    composite: Record<string, string>,
    props: KubernetesWorkloadProps,
  ) {
    if (!templateHasSecret(template)) return { value: renderTemplate(template, () => '') };
    const [only] = template;
    if (template.length === 1 && only !== undefined && typeof only !== 'string' && 'secret' in only)
      return fromCredentials(only.secret);
    composite[key] = renderTemplate(template, props.secret, tlsResolver(props));
    return { valueFrom: { secretKeyRef: { name: ownSecretName, key } } };
  }

  /** Files without credentials go into a ConfigMap, files with them into a Secret; each is mounted at its path. */
  private renderFiles(props: KubernetesWorkloadProps, metadata: (name: string) => object) {
    const mounts: { name: string; mountPath: string; subPath: string; readOnly: boolean }[] = [];
    const volumes: object[] = [];
    const plain: Record<string, string> = {};
    const secret: Record<string, string> = {};
    for (const file of props.spec.files) {
      const key = path.posix.basename(file.containerPath).replace(/[^-._a-zA-Z0-9]/g, '-');
      const sensitive = templateHasSecret(file.content);
      (sensitive ? secret : plain)[key] = renderTemplate(file.content, props.secret, tlsResolver(props));
      mounts.push({
        name: sensitive ? 'files-secret' : 'files',
        mountPath: file.containerPath,
        subPath: key,
        readOnly: true,
      });
    }
    const id = props.spec.name.replaceAll('-', '_');
    if (Object.keys(plain).length > 0) {
      const map = new ConfigMapV1(this, 'files', { metadata: metadata(`${this.name}-files`), data: plain });
      map.overrideLogicalId(`${id}_files`);
      volumes.push({ name: 'files', configMap: { name: map.metadata.name } });
    }
    if (Object.keys(secret).length > 0) {
      const files = new SecretV1(this, 'files-secret', {
        metadata: metadata(`${this.name}-files`),
        data: secret,
      });
      files.overrideLogicalId(`${id}_files`);
      volumes.push({ name: 'files-secret', secret: { secretName: files.metadata.name } });
    }
    return { mounts, volumes: volumes as never[] };
  }
}
