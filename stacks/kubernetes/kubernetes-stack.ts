import path from 'node:path';
import { HelmProvider } from '@cdktf/provider-helm/lib/provider/index.js';
import { Release } from '@cdktf/provider-helm/lib/release/index.js';
import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest/index.js';
import { NamespaceV1 } from '@cdktf/provider-kubernetes/lib/namespace-v1/index.js';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider/index.js';
import { SecretV1 } from '@cdktf/provider-kubernetes/lib/secret-v1/index.js';
import { Password } from '@cdktf/provider-random/lib/password/index.js';
import { RandomProvider } from '@cdktf/provider-random/lib/provider/index.js';
import { Fn, LocalBackend, TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import type { VectorstackConfig } from '../../lib/config/schema.js';
import {
  clientServices,
  cnpgClusterName,
  kubernetesLabels,
  kubernetesStackName,
  milvusReleaseName,
  objectName,
  parseLabelSelector,
  selectorLabels,
  serviceHost,
} from '../../lib/deployment/names.js';
import type { Deployment } from '../../lib/deployment/resolve.js';
import { CONTAINER_PORTS } from '../../lib/services/specs.js';
import {
  SECRET_NAMES,
  type SecretName,
  type ServiceName,
  type ServiceSpec,
} from '../../lib/services/types.js';
import { ensureTls, type TlsMaterial } from '../../lib/tls/pki.js';
import { BackupCronJob, type BackupSchedule, backupCronJobProps } from './backup-cronjob.js';
import { type EnvSource, KubernetesWorkload } from './kubernetes-workload.js';
import { type Flow, NetworkPolicies, type PodPeer } from './network-policies.js';

export interface KubernetesStackProps {
  /** The resolved deployment: configuration, cluster images, specs with in-cluster host names. */
  readonly deployment: Deployment;
  /** Wait for rollouts and the bucket job during apply. @default true */
  readonly wait?: boolean;
  /**
   * The stack's TLS material (tls.enabled): each TLS store's certificate and key reach its pod through its files
   * Secret. @default ensureTls(deployment) (generated once into the state directory, then reused)
   */
  readonly tls?: TlsMaterial | null;
  /** Render every StatefulSet with zero replicas (`down`): pods stop, claims, Secret and Services stay. @default false */
  readonly stopped?: boolean;
  /**
   * Scheduled backups to the bucket (a CronJob, stacks/kubernetes/backup-cronjob.ts); null renders none.
   * @default the configuration's kubernetes.backup, when its `enabled` is true
   */
  readonly backup?: BackupSchedule | null;
}

/** Stores the application talks to; etcd and MinIO serve Milvus alone. */
const APP_FACING: ServiceName[] = ['postgres', 'milvus', 'redis'];

/**
 * UIDs the containers run as. The PostgreSQL and Redis images own their files as their `postgres`/`redis` user
 * (999); the others run as any non-root UID given a writable volume.
 */
const RUN_AS_USER: Record<ServiceName, number> = {
  postgres: 999,
  redis: 999,
  etcd: 10001,
  minio: 10001,
  'minio-init': 10001,
  milvus: 10001,
};

/**
 * The data plane on Kubernetes, from the same service specs as the Docker stack: namespace (Pod Security
 * "restricted"), generated credentials in a Secret, one KubernetesWorkload per service, NetworkPolicies, and the
 * optional operator-managed PostgreSQL and Milvus cluster for production.
 */
export class KubernetesStack extends TerraformStack {
  readonly specs: ServiceSpec[];
  readonly workloads = new Map<ServiceName, KubernetesWorkload>();

  constructor(scope: Construct, id: string, props: KubernetesStackProps) {
    super(scope, id);
    const { config } = props.deployment;
    const k = config.kubernetes;
    const { project } = config;
    const ops = k.operators;
    const labels = kubernetesLabels(config);
    new LocalBackend(this, { path: path.join(props.deployment.stateDir, `${id}.tfstate`) });
    // No kubeconfig path in the JSON unless configured: deploy passes KUBE_CONFIG_PATH, keeping the JSON portable.
    const cluster = { configPath: k.kubeconfig ?? undefined, configContext: k.context ?? undefined };
    new KubernetesProvider(this, 'kubernetes', cluster);
    new RandomProvider(this, 'random', {});

    let namespace = k.namespace;
    if (k.createNamespace) {
      const ns = new NamespaceV1(this, 'namespace', {
        metadata: {
          name: k.namespace,
          labels: {
            ...labels,
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/enforce-version': 'latest',
            'pod-security.kubernetes.io/warn': 'restricted',
            'pod-security.kubernetes.io/audit': 'restricted',
          },
        },
      });
      ns.overrideLogicalId('namespace');
      namespace = ns.metadata.name;
    }

    // Generated in the stack, stored in the cluster: the JSON holds references only. State holds the values (as
    // it would with variables); see docs/kubernetes.md.
    const passwords = new Map<SecretName, Password>();
    for (const name of SECRET_NAMES) {
      const password = new Password(this, name, { length: 32, special: false });
      password.overrideLogicalId(name);
      passwords.set(name, password);
    }
    const secret = (name: SecretName) => passwords.get(name)!.result;
    const credentials = new SecretV1(this, 'credentials', {
      metadata: { name: objectName(project, 'credentials'), namespace, labels },
      type: 'Opaque',
      data: Object.fromEntries(SECRET_NAMES.map((name) => [name, secret(name)])),
    });
    credentials.overrideLogicalId('credentials');

    const external = k.objectStorage.kind === 'external' ? k.objectStorage : null;
    this.specs = props.deployment.specs;

    const envOverrides: Partial<Record<ServiceName, Record<string, EnvSource>>> = {};
    if (external) {
      const [host, port] = external.endpoint.split(':') as [string, string];
      const ref = (key: string) => ({ secretKeyRef: { name: external.credentialsSecret, key } });
      envOverrides.milvus = {
        MINIO_ADDRESS: { value: host },
        MINIO_PORT: { value: port },
        MINIO_USE_SSL: { value: String(external.useSsl) },
        MINIO_BUCKET_NAME: { value: external.bucket },
        ...(external.region ? { MINIO_REGION: { value: external.region } } : {}),
        MINIO_ACCESS_KEY_ID: ref(external.accessKeyIdKey),
        MINIO_SECRET_ACCESS_KEY: ref(external.secretAccessKeyKey),
      };
    }

    const tls = props.tls !== undefined ? props.tls : ensureTls(props.deployment);
    for (const spec of this.specs) {
      const workload = new KubernetesWorkload(this, spec.name, {
        spec,
        tls,
        namespace,
        project,
        credentialsSecretName: credentials.metadata.name,
        secret,
        replicas: spec.name === 'etcd' ? k.etcdReplicas : 1,
        stopped: props.stopped,
        // etcd members must start together: none becomes ready before a quorum exists.
        podManagementPolicy: spec.name === 'etcd' ? 'Parallel' : 'OrderedReady',
        storageClass: k.storageClass,
        cpuRequestFraction: k.cpuRequestFraction,
        runAsUser: RUN_AS_USER[spec.name],
        nodeSelector: k.nodeSelector,
        tolerations: k.tolerations,
        antiAffinity: k.antiAffinity,
        podDisruptionBudget: k.podDisruptionBudgets && !spec.job,
        envOverrides: envOverrides[spec.name],
        wait: props.wait,
        dependsOn: spec.dependsOn.map((dep) => {
          const before = this.workloads.get(dep);
          if (!before)
            throw new Error(`service ${spec.name} depends on ${dep}, which is not defined before it`);
          return before.workload;
        }),
        labels,
      });
      this.workloads.set(spec.name, workload);
    }

    const extraFlows: Flow[] = [];
    if (ops.postgres.mode === 'cloudnative-pg')
      extraFlows.push(...this.cloudNativePg(config, namespace, labels));
    if (ops.milvus.mode === 'helm-cluster') extraFlows.push(...this.milvusHelm(config, namespace, secret));

    new NetworkPolicies(this, 'network-policies', {
      namespace,
      project,
      dns: k.dns,
      flows: [...this.flows(config), ...extraFlows],
    });

    // Scheduled backups: kubernetes.backup.enabled, unless the caller says otherwise.
    const { enabled, ...configured } = k.backup;
    const backup = props.backup !== undefined ? props.backup : enabled ? configured : null;
    if (backup)
      new BackupCronJob(
        this,
        'backup',
        backupCronJobProps(
          props.deployment,
          namespace,
          credentials.metadata.name,
          labels,
          backup,
          tls?.caCert ?? null,
        ),
      );

    for (const [service, client] of Object.entries(clientServices(config)))
      new TerraformOutput(this, `${service.replaceAll('-', '_')}_service`, { value: client.service });
    new TerraformOutput(this, 'namespace_name', { value: namespace });
    new TerraformOutput(this, 'credentials_secret', { value: credentials.metadata.name });
  }

  /** Who may connect to whom, derived from the specs: the app to the stores, each service to what it depends on. */
  private flows(config: VectorstackConfig): Flow[] {
    const k = config.kubernetes;
    const app: PodPeer = {
      name: 'app',
      labels: parseLabelSelector(k.appSelector),
      namespace: k.appNamespace,
    };
    const peer = (spec: ServiceSpec): PodPeer => ({
      name: spec.name,
      labels: selectorLabels(config.project, spec.name),
    });
    const byName = new Map(this.specs.map((s) => [s.name, s]));
    const flows: Flow[] = [];
    for (const spec of this.specs) {
      // By convention a spec's first port is the one clients use; the rest (consoles, metrics) stay closed.
      const clientPort = spec.ports[0]?.containerPort;
      if (APP_FACING.includes(spec.name) && clientPort)
        flows.push({ from: app, to: peer(spec), ports: [clientPort] });
      for (const dep of spec.dependsOn) {
        const target = byName.get(dep);
        if (target && !target.job && target.ports[0])
          flows.push({ from: peer(spec), to: peer(target), ports: [target.ports[0].containerPort] });
      }
    }
    const etcd = byName.get('etcd');
    if (etcd && k.etcdReplicas > 1) {
      flows.push({
        from: peer(etcd),
        to: { ...peer(etcd), name: 'etcd-peers' },
        ports: etcd.ports.map((p) => p.containerPort),
      });
    }
    const milvus = byName.get('milvus');
    if (milvus && k.objectStorage.kind === 'external') {
      const port = Number(k.objectStorage.endpoint.split(':')[1]);
      flows.push({
        from: peer(milvus),
        to: { name: 'object-storage', cidrs: k.objectStorage.egressCidrs },
        ports: [port],
      });
    }
    return flows;
  }

  /** PostgreSQL HA through the CloudNativePG operator: a `Cluster` resource; the operator runs the pods. */
  private cloudNativePg(
    config: VectorstackConfig,
    namespace: string,
    labels: Record<string, string>,
  ): Flow[] {
    const k = config.kubernetes;
    const pg = config.postgres;
    const name = cnpgClusterName(config.project);
    const appSecret = new SecretV1(this, 'postgres-app-secret', {
      metadata: { name: `${name}-app-user`, namespace, labels },
      type: 'kubernetes.io/basic-auth',
      data: { username: pg.user, password: this.passwordResult('postgres_password') },
    });
    appSecret.overrideLogicalId('postgres_app_user');
    const anti = k.antiAffinity === 'none' ? {} : { podAntiAffinityType: k.antiAffinity };
    const manifest = new Manifest(this, 'postgres-cluster', {
      manifest: {
        apiVersion: 'postgresql.cnpg.io/v1',
        kind: 'Cluster',
        metadata: { name, namespace, labels },
        spec: {
          instances: k.operators.postgres.instances,
          imageName: k.operators.postgres.image,
          enablePDB: k.podDisruptionBudgets,
          postgresql: {
            parameters: {
              shared_buffers: `${pg.sharedBuffersMb}MB`,
              maintenance_work_mem: `${pg.maintenanceWorkMemMb}MB`,
              max_connections: String(pg.maxConnections),
              password_encryption: 'scram-sha-256',
            },
          },
          bootstrap: {
            initdb: {
              database: pg.database,
              owner: pg.user,
              secret: { name: appSecret.metadata.name },
              postInitApplicationSQL: ['CREATE EXTENSION IF NOT EXISTS vector'],
            },
          },
          storage: { size: `${pg.storageGi}Gi`, ...(k.storageClass ? { storageClass: k.storageClass } : {}) },
          resources: {
            limits: { cpu: `${pg.resources.cpuMillis}m`, memory: `${pg.resources.memoryMb}Mi` },
            requests: {
              cpu: `${Math.round(pg.resources.cpuMillis * k.cpuRequestFraction)}m`,
              memory: `${pg.resources.memoryMb}Mi`,
            },
          },
          affinity: {
            enablePodAntiAffinity: k.antiAffinity !== 'none',
            topologyKey: 'kubernetes.io/hostname',
            ...anti,
            nodeSelector: k.nodeSelector,
            tolerations: k.tolerations,
          },
        },
      },
    });
    manifest.overrideLogicalId('postgres_cluster');
    const instances: PodPeer = { name: 'postgres-instances', labels: { 'cnpg.io/cluster': name } };
    const operator: PodPeer = {
      name: 'cnpg-operator',
      labels: { 'app.kubernetes.io/name': 'cloudnative-pg' },
      namespace: k.operators.postgres.operatorNamespace,
    };
    const app: PodPeer = {
      name: 'app',
      labels: parseLabelSelector(k.appSelector),
      namespace: k.appNamespace,
    };
    return [
      { from: app, to: instances, ports: [CONTAINER_PORTS.postgres] },
      // Streaming replication between instances, and the operator polling each instance's status port (8000).
      {
        from: instances,
        to: { ...instances, name: 'postgres-replicas' },
        ports: [CONTAINER_PORTS.postgres, 8000],
      },
      { from: operator, to: instances, ports: [CONTAINER_PORTS.postgres, 8000] },
      {
        from: instances,
        to: { name: 'kube-apiserver', cidrs: k.operators.apiServerCidrs },
        ports: [443, 6443],
      },
    ];
  }

  /** Milvus distributed through its Helm chart, on this stack's etcd and MinIO. */
  private milvusHelm(
    config: VectorstackConfig,
    namespace: string,
    secret: (n: SecretName) => string,
  ): Flow[] {
    const k = config.kubernetes;
    const release = milvusReleaseName(config.project);
    new HelmProvider(this, 'helm', {
      kubernetes: { configPath: k.kubeconfig ?? undefined, configContext: k.context ?? undefined },
    });
    const values = {
      cluster: { enabled: true },
      etcd: { enabled: false },
      externalEtcd: {
        enabled: true,
        endpoints: [`${serviceHost(config, 'etcd')}:${CONTAINER_PORTS.etcdClient}`],
      },
      minio: { enabled: false },
      externalS3: {
        enabled: true,
        host: serviceHost(config, 'minio'),
        port: String(CONTAINER_PORTS.minio),
        bucketName: config.minio.bucket,
        rootPath: config.milvus.rootPath,
        useSSL: false,
        accessKey: config.minio.rootUser,
      },
      extraConfigFiles: { 'user.yaml': 'common:\n  security:\n    authorizationEnabled: true\n' },
      nodeSelector: k.nodeSelector,
      tolerations: k.tolerations,
    };
    const chart = new Release(this, 'milvus-cluster', {
      name: release,
      namespace,
      repository: k.operators.milvus.chartRepository,
      chart: 'milvus',
      version: k.operators.milvus.chartVersion,
      values: [Fn.yamlencode(values)],
      // Through set_sensitive, so the key stays out of the JSON and the plan output.
      setSensitive: [{ name: 'externalS3.secretKey', value: secret('minio_root_password') }],
      wait: true,
      timeout: 1200,
      dependsOn: [this.workloads.get('etcd')!.workload, this.workloads.get('minio-init')!.workload],
    });
    chart.overrideLogicalId('milvus_cluster');
    const pods: PodPeer = { name: 'milvus-cluster', labels: { 'app.kubernetes.io/instance': release } };
    const app: PodPeer = {
      name: 'app',
      labels: parseLabelSelector(k.appSelector),
      namespace: k.appNamespace,
    };
    const target = (service: ServiceName, port: number): Flow => ({
      from: pods,
      to: { name: service, labels: selectorLabels(config.project, service) },
      ports: [port],
    });
    return [
      { from: app, to: pods, ports: [CONTAINER_PORTS.milvus] },
      // The chart's components (coordinators, nodes, proxy, message queue) talk among themselves on many ports.
      { from: pods, to: { ...pods, name: 'milvus-cluster-peers' }, ports: [] },
      target('etcd', CONTAINER_PORTS.etcdClient),
      target('minio', CONTAINER_PORTS.minio),
    ];
  }

  private passwordResult(name: SecretName): string {
    return (this.node.findChild(name) as Password).result;
  }
}

export function buildKubernetesStack(scope: Construct, props: KubernetesStackProps): KubernetesStack {
  return new KubernetesStack(scope, kubernetesStackName(props.deployment.config), props);
}
