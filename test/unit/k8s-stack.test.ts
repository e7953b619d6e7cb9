import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/load.js';
import type { ConfigOverrides } from '../../lib/config/schema.js';
import { CONTAINER_PORTS } from '../../lib/services/specs.js';
import { SECRET_NAMES } from '../../lib/services/types.js';
import { buildKubernetesStack } from '../../stacks/kubernetes/kubernetes-stack.js';
import { KubernetesWorkload } from '../../stacks/kubernetes/kubernetes-workload.js';
import { testDeployment } from './helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: synthesized JSON is navigated loosely; the assertions check its shape.
type J = any;
type Json = Record<string, unknown>;
interface Synthesized {
  resource: Record<string, Record<string, Json>>;
}

/** A Terraform reference as it appears in the synthesized JSON. */
const tf = (expression: string) => `\${${expression}}`;

const PRODUCTION_CONTEXT: ConfigOverrides = { kubernetes: { context: 'prod-cluster' } };

function synth(env: 'staging' | 'production', overrides: ConfigOverrides = {}) {
  const merged =
    env === 'production'
      ? { ...overrides, kubernetes: { ...PRODUCTION_CONTEXT.kubernetes, ...overrides.kubernetes } }
      : overrides;
  const deployment = testDeployment(env, merged);
  const { config } = deployment;
  const stack = buildKubernetesStack(Testing.app(), { deployment });
  const json = Testing.synth(stack);
  return { config, stack, json, parsed: JSON.parse(json) as Synthesized };
}

const statefulSets = (s: Synthesized) => s.resource.kubernetes_stateful_set_v1 as Record<string, J>;
const podSpecs = (s: Synthesized): [string, J][] => [
  ...Object.entries(statefulSets(s)).map(([k, v]) => [k, v.spec.template.spec] as [string, J]),
  ...Object.entries((s.resource.kubernetes_job_v1 ?? {}) as Record<string, J>).map(
    ([k, v]) => [k, v.spec.template.spec] as [string, J],
  ),
];
const argsOf = (s: Synthesized, name: string): string[] =>
  statefulSets(s)[name].spec.template.spec.container[0].args;

for (const env of ['staging', 'production'] as const) {
  describe(`Kubernetes stack (${env})`, () => {
    const { parsed, json, config } = synth(env);

    it('renders every service of the shared specs: StatefulSets for servers, a Job for the bucket', () => {
      expect(Object.keys(statefulSets(parsed)).sort()).toEqual([
        'etcd',
        'milvus',
        'minio',
        'postgres',
        'redis',
      ]);
      expect(Object.keys(parsed.resource.kubernetes_job_v1 ?? {})).toEqual(['minio_init']);
      expect(statefulSets(parsed).postgres.spec.template.spec.container[0].image).toBe(
        'pgvector/pgvector:0.8.0-pg17',
      );
    });

    it('labels the namespace for Pod Security "restricted"', () => {
      expect(
        Testing.toHaveResourceWithProperties(json, 'kubernetes_namespace_v1', {
          metadata: {
            name: config.kubernetes.namespace,
            labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
          },
        }),
      ).toBe(true);
    });

    it('gives every workload the restricted security defaults, a tokenless ServiceAccount, requests and limits', () => {
      const specs = podSpecs(parsed);
      expect(specs.length).toBe(6);
      for (const [name, pod] of specs) {
        const where = `${env}/${name}`;
        expect(pod.automount_service_account_token, where).toBe(false);
        expect(pod.security_context, where).toMatchObject({
          run_as_non_root: true,
          seccomp_profile: { type: 'RuntimeDefault' },
        });
        expect(Number(pod.security_context.run_as_user), where).toBeGreaterThan(0);
        expect(pod.security_context.fs_group, where).toBe(pod.security_context.run_as_group);
        for (const container of pod.container) {
          expect(container.security_context, where).toMatchObject({
            allow_privilege_escalation: false,
            run_as_non_root: true,
            capabilities: { drop: ['ALL'] },
            seccomp_profile: { type: 'RuntimeDefault' },
          });
          expect(container.resources.limits.memory, where).toMatch(/^\d+Mi$/);
          expect(container.resources.requests.memory, where).toBe(container.resources.limits.memory);
          expect(container.resources.requests.cpu, where).toMatch(/^\d+m$/);
        }
      }
      for (const account of Object.values(parsed.resource.kubernetes_service_account_v1!))
        expect(account.automount_service_account_token).toBe(false);
    });

    it('turns each health check into exec startup, readiness and liveness probes', () => {
      for (const [name, set] of Object.entries(statefulSets(parsed))) {
        const container = set.spec.template.spec.container[0];
        for (const probe of ['startup_probe', 'readiness_probe', 'liveness_probe'])
          expect(container[probe]?.exec?.command?.length, `${name}.${probe}`).toBeGreaterThan(0);
      }
      const pg = statefulSets(parsed).postgres.spec.template.spec.container[0];
      expect(pg.liveness_probe.exec.command[0]).toBe('pg_isready');
      // 30 s start period at a 5 s interval, plus 5 retries.
      expect(pg.startup_probe.failure_threshold).toBe(11);
    });

    it('gives PostgreSQL a memory-backed /dev/shm sized from its maintenance_work_mem, and nothing else one', () => {
      const shmMb = config.postgres.maintenanceWorkMemMb + 128;
      for (const [name, pod] of podSpecs(parsed)) {
        const shm = (pod.volume as J[]).find((v) => v.name === 'shm');
        const mount = (pod.container[0].volume_mount as J[]).find((m) => m.name === 'shm');
        if (name !== 'postgres') {
          expect([shm, mount], name).toEqual([undefined, undefined]);
          continue;
        }
        expect(shm.empty_dir).toEqual({ medium: 'Memory', size_limit: `${shmMb}Mi` });
        expect(mount.mount_path).toBe('/dev/shm');
      }
      expect(argsOf(parsed, 'postgres')).toContain(
        `maintenance_work_mem=${config.postgres.maintenanceWorkMemMb}MB`,
      );
    });

    it('keeps volumes in claim templates sized from the config', () => {
      const pg = statefulSets(parsed).postgres.spec.volume_claim_template[0];
      expect(pg.spec.resources.requests.storage).toBe(`${config.postgres.storageGi}Gi`);
    });

    it('never inlines a credential: no env value, argument or ConfigMap holds one', () => {
      for (const [name, pod] of podSpecs(parsed)) {
        for (const container of pod.container) {
          for (const variable of container.env ?? []) {
            if (variable.value !== undefined)
              expect(variable.value, `${name}.${variable.name}`).not.toMatch(/random_password|\$\{/);
          }
          for (const arg of [...(container.args ?? []), ...(container.command ?? [])])
            expect(arg, name).not.toMatch(/random_password|\$\{/);
        }
      }
      for (const map of Object.values(parsed.resource.kubernetes_config_map_v1 ?? {}))
        expect(JSON.stringify(map)).not.toMatch(/random_password/);
      // Generated passwords appear only as references to random_password results.
      for (const secret of SECRET_NAMES) expect(json).toContain(`\${random_password.${secret}.result}`);
    });

    it('references credentials through secretKeyRef', () => {
      const env = statefulSets(parsed).postgres.spec.template.spec.container[0].env as J[];
      expect(env.find((e) => e.name === 'POSTGRES_PASSWORD')).toEqual({
        name: 'POSTGRES_PASSWORD',
        value_from: {
          secret_key_ref: {
            name: tf('kubernetes_secret_v1.credentials.metadata[0].name'),
            key: 'postgres_password',
          },
        },
      });
    });

    it("writes mc's MC_HOST URL, which embeds a credential, whole into a Secret", () => {
      const secret = parsed.resource.kubernetes_secret_v1!.minio_init_env as J;
      expect(secret.data.MC_HOST_vectorstack).toBe(
        // staging and production serve MinIO over TLS (tls.enabled by default there).
        `https://vectorstack:\${random_password.minio_root_password.result}@vectorstack-minio.${config.kubernetes.namespace}.svc.cluster.local:9000`,
      );
      const job = (parsed.resource.kubernetes_job_v1 as J).minio_init;
      const env = job.spec.template.spec.container[0].env as J[];
      expect(env.find((e) => e.name === 'MC_HOST_vectorstack').value_from.secret_key_ref.key).toBe(
        'MC_HOST_vectorstack',
      );
    });

    it('denies by default and allows DNS, the app to each store, and Milvus to etcd and MinIO', () => {
      const policies = parsed.resource.kubernetes_network_policy_v1 as Record<string, J>;
      expect(policies.netpol_default_deny.spec).toMatchObject({ policy_types: ['Ingress', 'Egress'] });
      expect(policies.netpol_default_deny.spec.pod_selector).toEqual({});
      expect(policies.netpol_allow_dns.spec.egress[0].ports).toContainEqual({ port: '53', protocol: 'UDP' });
      const ingressPort = (name: string) =>
        policies[name].spec.ingress[0].ports.map((p: J) => Number(p.port));
      expect(ingressPort('netpol_app_to_postgres_ingress')).toEqual([CONTAINER_PORTS.postgres]);
      expect(ingressPort('netpol_app_to_milvus_ingress')).toEqual([CONTAINER_PORTS.milvus]);
      expect(ingressPort('netpol_app_to_redis_ingress')).toEqual([CONTAINER_PORTS.redis]);
      expect(ingressPort('netpol_milvus_to_etcd_ingress')).toEqual([CONTAINER_PORTS.etcdClient]);
      expect(ingressPort('netpol_milvus_to_minio_ingress')).toEqual([CONTAINER_PORTS.minio]);
      expect(
        policies.netpol_app_to_postgres_ingress.spec.ingress[0].from[0].pod_selector.match_labels,
      ).toEqual({
        'vectorstack.io/client': 'true',
      });
      // The app never reaches etcd or MinIO.
      expect(policies.netpol_app_to_etcd_ingress).toBeUndefined();
      expect(policies.netpol_app_to_minio_ingress).toBeUndefined();
    });
  });
}

describe('etcd cluster wiring', () => {
  const members = (env: 'staging' | 'production') => {
    const { parsed, config } = synth(env);
    const args = argsOf(parsed, 'etcd');
    const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    return { parsed, config, flag, set: statefulSets(parsed).etcd };
  };

  it('production runs 3 members named after the StatefulSet pods, at their stable DNS names', () => {
    const { flag, set } = members('production');
    expect(set.spec.replicas).toBe('3');
    expect(set.spec.pod_management_policy).toBe('Parallel');
    const dns = (i: number) =>
      `vectorstack-etcd-${i}.vectorstack-etcd-headless.vectorstack-production.svc.cluster.local`;
    expect(flag('initial-cluster')).toBe(
      [0, 1, 2].map((i) => `vectorstack-etcd-${i}=http://${dns(i)}:2380`).join(','),
    );
    expect(flag('name')).toBe('$(POD_NAME)');
    expect(flag('initial-advertise-peer-urls')).toBe(
      'http://$(POD_NAME).vectorstack-etcd-headless.vectorstack-production.svc.cluster.local:2380',
    );
    // The pod name is defined before the arguments that expand it.
    expect(set.spec.template.spec.container[0].env[0]).toEqual({
      name: 'POD_NAME',
      value_from: { field_ref: { field_path: 'metadata.name' } },
    });
  });

  it('the headless Service publishes members before they are ready, so peers resolve during bootstrap', () => {
    const { parsed } = members('production');
    const headless = (parsed.resource.kubernetes_service_v1 as J).etcd_headless.spec;
    expect(headless.cluster_ip).toBe('None');
    expect(headless.publish_not_ready_addresses).toBe(true);
    expect(headless.port.map((p: J) => p.port)).toEqual([2379, 2380]);
  });

  it('staging runs one member; peers may reach each other only in production', () => {
    const staging = members('staging');
    expect(staging.set.spec.replicas).toBe('1');
    expect(staging.flag('initial-cluster')).toBe(
      'vectorstack-etcd-0=http://vectorstack-etcd-0.vectorstack-etcd-headless.vectorstack-staging.svc.cluster.local:2380',
    );
    expect(
      (staging.parsed.resource.kubernetes_network_policy_v1 as J).netpol_etcd_to_etcd_peers_ingress,
    ).toBeUndefined();
    const production = members('production');
    const peers = (production.parsed.resource.kubernetes_network_policy_v1 as J)
      .netpol_etcd_to_etcd_peers_ingress;
    expect(peers.spec.ingress[0].ports.map((p: J) => p.port)).toEqual(['2379', '2380']);
  });

  it('Milvus reaches etcd and MinIO through their client Services', () => {
    const { parsed } = members('production');
    const env = statefulSets(parsed).milvus.spec.template.spec.container[0].env as J[];
    expect(env.find((e) => e.name === 'ETCD_ENDPOINTS').value).toBe(
      'vectorstack-etcd.vectorstack-production.svc.cluster.local:2379',
    );
  });
});

describe('production availability', () => {
  it('adds a PodDisruptionBudget per server and required anti-affinity; staging has neither', () => {
    const production = synth('production').parsed;
    const pdbs = production.resource.kubernetes_pod_disruption_budget_v1 as Record<string, J>;
    expect(Object.keys(pdbs).sort()).toEqual(['etcd', 'milvus', 'minio', 'postgres', 'redis']);
    // A 3-member quorum survives one voluntary eviction; a single database pod none.
    expect(pdbs.etcd.spec.max_unavailable).toBe('1');
    expect(pdbs.postgres.spec.max_unavailable).toBe('0');
    for (const [name, set] of Object.entries(statefulSets(production))) {
      const term =
        set.spec.template.spec.affinity?.pod_anti_affinity
          ?.required_during_scheduling_ignored_during_execution?.[0];
      expect(term?.topology_key, name).toBe('kubernetes.io/hostname');
      expect(term.label_selector[0].match_labels).toEqual(set.spec.selector.match_labels);
      const cpu = set.spec.template.spec.container[0].resources;
      expect(cpu.requests.cpu, `${name}: Guaranteed QoS in production`).toBe(cpu.limits.cpu);
    }
    const staging = synth('staging').parsed;
    expect(staging.resource.kubernetes_pod_disruption_budget_v1).toBeUndefined();
    for (const set of Object.values(statefulSets(staging)))
      expect(set.spec.template.spec.affinity).toBeUndefined();
  });

  it('passes node selectors, tolerations and the storage class to every workload', () => {
    const { parsed } = synth('staging', {
      kubernetes: {
        storageClass: 'fast-ssd',
        nodeSelector: { pool: 'data' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'data', effect: 'NoSchedule' }],
      },
    });
    for (const [name, pod] of podSpecs(parsed)) {
      expect(pod.node_selector, name).toEqual({ pool: 'data' });
      expect(pod.toleration, name).toEqual([
        { key: 'dedicated', operator: 'Equal', value: 'data', effect: 'NoSchedule' },
      ]);
    }
    expect(statefulSets(parsed).redis.spec.volume_claim_template[0].spec.storage_class_name).toBe('fast-ssd');
  });
});

describe('external object storage', () => {
  const external = {
    kind: 'external' as const,
    endpoint: 's3.example.com:443',
    useSsl: true,
    bucket: 'milvus-data',
    credentialsSecret: 's3-keys',
    accessKeyIdKey: 'access-key-id',
    secretAccessKeyKey: 'secret-access-key',
    egressCidrs: ['203.0.113.0/24'],
  };

  it('drops MinIO and the bucket job, points Milvus at the bucket with keys from the existing Secret', () => {
    const { parsed } = synth('production', { kubernetes: { objectStorage: external } });
    expect(statefulSets(parsed).minio).toBeUndefined();
    expect(parsed.resource.kubernetes_job_v1).toBeUndefined();
    const milvus = statefulSets(parsed).milvus;
    expect(milvus.depends_on ?? []).not.toContainEqual(expect.stringContaining('minio'));
    const env = Object.fromEntries(
      (milvus.spec.template.spec.container[0].env as J[]).map((e) => [e.name, e]),
    );
    expect(env.MINIO_ADDRESS.value).toBe('s3.example.com');
    expect(env.MINIO_PORT.value).toBe('443');
    expect(env.MINIO_USE_SSL.value).toBe('true');
    expect(env.MINIO_SECRET_ACCESS_KEY.value_from.secret_key_ref).toEqual({
      name: 's3-keys',
      key: 'secret-access-key',
    });
    const egress = (parsed.resource.kubernetes_network_policy_v1 as J).netpol_milvus_to_object_storage_egress;
    expect(egress.spec.egress[0]).toEqual({
      to: [{ ip_block: { cidr: '203.0.113.0/24' } }],
      ports: [{ port: '443', protocol: 'TCP' }],
    });
  });
});

describe('operator options', () => {
  const { parsed, json } = synth('production', {
    kubernetes: {
      operators: {
        postgres: { mode: 'cloudnative-pg' },
        milvus: { mode: 'helm-cluster' },
        apiServerCidrs: ['10.0.0.1/32'],
      },
    },
  });

  it('renders PostgreSQL as a CloudNativePG Cluster with pgvector, not a StatefulSet', () => {
    expect(statefulSets(parsed).postgres).toBeUndefined();
    const cluster = (parsed.resource.kubernetes_manifest as J).postgres_cluster.manifest;
    expect(cluster.kind).toBe('Cluster');
    expect(cluster.spec.instances).toBe(3);
    expect(cluster.spec.bootstrap.initdb.postInitApplicationSQL).toEqual([
      'CREATE EXTENSION IF NOT EXISTS vector',
    ]);
    expect(cluster.spec.bootstrap.initdb.secret.name).toBe(
      tf('kubernetes_secret_v1.postgres_app_user.metadata[0].name'),
    );
  });

  it('renders Milvus distributed as a helm_release on this stack’s etcd and MinIO, secret key via set_sensitive', () => {
    expect(statefulSets(parsed).milvus).toBeUndefined();
    const release = (parsed.resource.helm_release as J).milvus_cluster;
    expect(release.chart).toBe('milvus');
    expect(release.set_sensitive).toEqual([
      { name: 'externalS3.secretKey', value: tf('random_password.minio_root_password.result') },
    ]);
    expect(Testing.toHaveResourceWithProperties(json, 'helm_release', { version: '4.2.45' })).toBe(true);
  });
});

describe('configuration errors name the field, value and allowed values', () => {
  const expectProblem = (fn: () => unknown, pattern: RegExp) => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.join('\n')).toMatch(pattern);
      return;
    }
    throw new Error('expected a ConfigError');
  };

  it('rejects an even etcd member count', () => {
    expectProblem(
      () => synth('staging', { kubernetes: { etcdReplicas: 2 as 3 } }),
      /kubernetes\.etcdReplicas = 2/,
    );
  });

  it('rejects an unknown anti-affinity mode with the allowed ones', () => {
    expectProblem(
      () => synth('staging', { kubernetes: { antiAffinity: 'always' as 'required' } }),
      /kubernetes\.antiAffinity = "always": allowed values: "none", "preferred", "required"/,
    );
  });

  it('rejects a namespace that is not a DNS label', () => {
    expectProblem(
      () => synth('staging', { kubernetes: { namespace: 'Vector_Stack' } }),
      /kubernetes\.namespace = "Vector_Stack": must be a DNS label/,
    );
  });

  it('rejects a malformed app selector', () => {
    expectProblem(
      () => synth('staging', { kubernetes: { appSelector: 'app' } }),
      /kubernetes\.appSelector = "app": must be key=value/,
    );
  });

  it('refuses production without an explicit kube context', () => {
    expectProblem(() => synth('production', { kubernetes: { context: null } }), /kubernetes\.context = null/);
  });

  it('rejects an unknown image key for the cluster', () => {
    expectProblem(
      () => synth('staging', { kubernetes: { images: { mysql: 'mysql:8' } as never } }),
      /kubernetes\.images/,
    );
  });
});

describe('KubernetesWorkload validation', () => {
  it('names the prop: a job with replicas', async () => {
    const { stack } = synth('staging');
    const spec = stack.specs.find((s) => s.name === 'minio-init')!;
    expect(
      () =>
        new KubernetesWorkload(stack, 'bad', {
          spec,
          namespace: 'ns',
          project: 'vectorstack',
          credentialsSecretName: 'creds',
          secret: () => 'x',
          replicas: 2,
        }),
    ).toThrow(/KubernetesWorkload minio-init: replicas must be 1 for a job, got 2/);
  });
});
