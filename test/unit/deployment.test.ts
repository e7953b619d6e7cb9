import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/load.js';
import { resolveDeployment } from '../../lib/deployment/resolve.js';
import { DEFAULT_IMAGES } from '../../lib/images.js';
import { SECRET_NAMES } from '../../lib/services/types.js';
import { endpointsAt } from '../../lib/stack/endpoints.js';
import { NotReachableError, RunningStack } from '../../lib/stack/running-stack.js';
import { buildKubernetesStack } from '../../stacks/kubernetes/kubernetes-stack.js';
import { isolated, testDeployment } from './helpers.js';

/** A cache directory holding an image override file, as `npm run setup` writes it. */
function withOfflineImages() {
  const { cwd, environ } = isolated();
  mkdirSync(environ.VECTORSTACK_CACHE_DIR!, { recursive: true });
  writeFileSync(
    path.join(environ.VECTORSTACK_CACHE_DIR!, 'images.json'),
    JSON.stringify({
      images: { postgres: 'vectorstack-offline/postgres:17', redis: 'vectorstack-offline/redis:8' },
    }),
  );
  return { cwd, environ };
}

describe('resolveDeployment', () => {
  it('Docker: the host image override file wins over the pinned images, config.images over both', () => {
    const { cwd, environ } = withOfflineImages();
    const config = loadConfig({ cwd, environ: {}, overrides: { images: { redis: 'example/redis:9' } } });
    const deployment = resolveDeployment(config, { cwd, environ });
    expect(deployment.images.postgres).toBe('vectorstack-offline/postgres:17');
    expect(deployment.images.redis).toBe('example/redis:9');
    expect(deployment.images.milvus).toBe(DEFAULT_IMAGES.milvus);
    expect(deployment.stateDir).toBe(path.join(cwd, '.vectorstack', 'local'));
    expect(deployment.specs.find((s) => s.name === 'milvus')!.env.ETCD_ENDPOINTS).toEqual(['etcd:2379']);
  });

  it('Kubernetes: the host images apply only when the cluster has them (localCluster)', () => {
    const { cwd, environ } = withOfflineImages();
    const plain = resolveDeployment(loadConfig({ env: 'staging', cwd, environ: {} }), { cwd, environ });
    expect(plain.images.postgres).toBe(DEFAULT_IMAGES.postgres);
    const local = resolveDeployment(
      loadConfig({ env: 'staging', cwd, environ: {}, overrides: { kubernetes: { localCluster: true } } }),
      { cwd, environ },
    );
    expect(local.images.postgres).toBe('vectorstack-offline/postgres:17');
    // In-cluster host names: the client Service of each dependency.
    expect(local.specs.find((s) => s.name === 'milvus')!.env.ETCD_ENDPOINTS).toEqual([
      'vectorstack-etcd.vectorstack-staging.svc.cluster.local:2379',
    ]);
  });

  it('Kubernetes: services an operator or an external bucket provides are left out, with their dependencies', () => {
    const deployment = testDeployment('production', {
      kubernetes: {
        context: 'prod',
        operators: { postgres: { mode: 'cloudnative-pg' }, apiServerCidrs: ['10.0.0.1/32'] },
        objectStorage: {
          kind: 'external',
          endpoint: 's3.example.com:443',
          useSsl: true,
          bucket: 'milvus-data',
          credentialsSecret: 's3-keys',
          accessKeyIdKey: 'id',
          secretAccessKeyKey: 'secret',
          egressCidrs: ['203.0.113.0/24'],
        },
      },
    });
    expect(deployment.external).toEqual(['postgres', 'minio', 'minio-init']);
    expect(deployment.specs.map((s) => s.name)).toEqual(['etcd', 'milvus', 'redis']);
    expect(deployment.specs.find((s) => s.name === 'milvus')!.dependsOn).toEqual(['etcd']);
  });
});

describe('Kubernetes down', () => {
  it('renders every StatefulSet with zero replicas and changes nothing else', () => {
    const deployment = testDeployment('staging');
    const up = JSON.parse(Testing.synth(buildKubernetesStack(Testing.app(), { deployment })));
    const down = JSON.parse(
      Testing.synth(buildKubernetesStack(Testing.app(), { deployment, stopped: true })),
    );
    for (const [name, set] of Object.entries(
      down.resource.kubernetes_stateful_set_v1 as Record<string, { spec: { replicas: string } }>,
    )) {
      expect(set.spec.replicas, name).toBe('0');
      expect(up.resource.kubernetes_stateful_set_v1[name].spec.replicas, name).toBe('1');
    }
    const { kubernetes_stateful_set_v1: _a, ...upRest } = up.resource;
    const { kubernetes_stateful_set_v1: _b, ...downRest } = down.resource;
    expect(downRest).toEqual(upRest);
  });
});

describe('RunningStack', () => {
  const deployment = testDeployment();
  const credentials = Object.fromEntries(SECRET_NAMES.map((n) => [n, `secret-${n}-value`])) as never;
  const stack = new RunningStack(
    deployment,
    endpointsAt(deployment.config, '127.0.0.1', { postgres: { client: 15432 } }),
    credentials,
    { exec: async () => ({ stdout: '', stderr: '' }), close: async () => {}, describe: 'unit test' },
  );

  it('never shows the credentials in JSON or when inspected', () => {
    for (const shown of [JSON.stringify(stack), inspect(stack, { depth: 10 })]) {
      expect(shown).toContain('15432');
      expect(shown).not.toContain('secret-');
    }
  });

  it('names the store, the environment and the reason when a store is not reachable', () => {
    expect(() => stack.endpoint('milvus')).toThrow(NotReachableError);
    expect(() => stack.endpoint('milvus')).toThrow(
      /^milvus is not reachable in environment local \(unit test\)/,
    );
  });
});
