import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/load.js';
import type { ConfigOverrides, EnvironmentName } from '../../lib/config/schema.js';
import { resolveDeployment } from '../../lib/deployment/resolve.js';
import { PG_HBA_TLS } from '../../lib/services/specs.js';
import { withClientTls } from '../../lib/stack/endpoints.js';
import { ensureTls } from '../../lib/tls/pki.js';
import { buildDockerStacks } from '../../stacks/docker/docker-stacks.js';
import { buildKubernetesStack } from '../../stacks/kubernetes/kubernetes-stack.js';
import { EXTERNAL_BUCKET, isolated } from './helpers.js';

function deploymentIn(cwd: string, env: EnvironmentName, overrides: ConfigOverrides = {}) {
  const environ = { VECTORSTACK_CACHE_DIR: path.join(cwd, 'cache') };
  return resolveDeployment(loadConfig({ env, cwd, environ: {}, overrides }), { cwd, environ });
}

function tlsDeployment(env: EnvironmentName = 'local', overrides: ConfigOverrides = {}) {
  const { cwd } = isolated();
  return deploymentIn(cwd, env, { ...overrides, tls: { enabled: true, ...overrides.tls } });
}

/** The longest Milvus's readiness script can run: its bounded requests, those in the per-password loop twice. */
function worstCaseSeconds(script: string): number {
  const bounds = (text: string) =>
    [...text.matchAll(/curl [^\n]*?-m (\d+)/g)].reduce((t, m) => t + Number(m[1]), 0);
  const [before, loop] = script.split(/^for token in .*$/m);
  const passwords = /^for token in (.*); do$/m.exec(script)![1]!.match(/"[^"]*"|\S+/g)!.length;
  return bounds(before!) + passwords * bounds(loop!);
}

describe('TLS in the rendered stacks', () => {
  it("gives Milvus's readiness check a timeout longer than its own requests can take, with TLS and without", () => {
    const { cwd } = isolated();
    for (const deployment of [deploymentIn(cwd, 'local'), tlsDeployment('local')]) {
      const check = deployment.specs.find((s) => s.name === 'milvus')!.healthCheck!;
      const worst = worstCaseSeconds(check.command[2]!);
      expect(worst).toBeGreaterThanOrEqual(deployment.config.tls.enabled ? 12 : 20);
      expect(check.timeoutSeconds).toBeGreaterThan(worst);
    }
  });

  it('leaves the services as they were when TLS is off', () => {
    const { cwd } = isolated();
    const deployment = deploymentIn(cwd, 'local');
    for (const spec of deployment.specs) {
      expect(JSON.stringify(spec)).not.toMatch(/tls|ssl/i);
    }
  });

  it('runs PostgreSQL with ssl=on and a pg_hba that rejects plain TCP, Redis on a TLS-only port, Milvus tlsMode 1', () => {
    const deployment = tlsDeployment('local');
    const spec = (name: string) => deployment.specs.find((s) => s.name === name)!;
    const args = (name: string) => (spec(name).command ?? []).map((a) => a.join(''));
    expect(args('postgres')).toEqual(
      expect.arrayContaining(['ssl=on', 'hba_file=/run/vectorstack/pg_hba.conf']),
    );
    expect(PG_HBA_TLS).toMatch(/^hostnossl all all all reject$/m);
    expect(PG_HBA_TLS).toMatch(/^hostssl all all all scram-sha-256$/m);
    const redis = args('redis');
    expect(redis.slice(redis.indexOf('--port'), redis.indexOf('--port') + 4)).toEqual([
      '--port',
      '0',
      '--tls-port',
      '6379',
    ]);
    expect(spec('redis').healthCheck!.command).toEqual([
      'redis-cli',
      '--tls',
      '--cacert',
      '/run/vectorstack/tls/ca.crt',
      'ping',
    ]);
    expect(spec('milvus').env.COMMON_SECURITY_TLSMODE).toEqual(['1']);
    expect(spec('milvus').healthCheck!.command.join(' ')).toContain('https://127.0.0.1:19530');
    // etcd: mutual TLS on the client port; the health check presents etcd's own certificate as a client.
    expect(args('etcd')).toEqual(
      expect.arrayContaining([
        '--listen-client-urls=https://0.0.0.0:2379',
        '--cert-file=/run/vectorstack/tls/server.crt',
        '--key-file=/run/vectorstack/tls/server.key',
        '--trusted-ca-file=/run/vectorstack/tls/ca.crt',
        '--client-cert-auth',
      ]),
    );
    expect(spec('etcd').healthCheck!.command).toEqual([
      'etcdctl',
      '--endpoints=https://127.0.0.1:2379',
      '--cacert=/run/vectorstack/tls/ca.crt',
      '--cert=/run/vectorstack/tls/server.crt',
      '--key=/run/vectorstack/tls/server.key',
      'endpoint',
      'health',
    ]);
    // MinIO: HTTPS only, from its certs directory; the bucket job and Milvus verify it against the CA.
    expect(args('minio').slice(-2)).toEqual(['--certs-dir', '/run/vectorstack/minio-certs']);
    expect(spec('minio').files.map((f) => f.containerPath)).toEqual([
      '/run/vectorstack/minio-certs/public.crt',
      '/run/vectorstack/minio-certs/private.key',
      '/run/vectorstack/minio-certs/CAs/ca.crt',
    ]);
    expect(spec('minio').healthCheck!.command.join(' ')).toContain(
      '--cacert /run/vectorstack/minio-certs/CAs/ca.crt https://127.0.0.1:9000/minio/health/live',
    );
    expect(spec('minio-init').env.MC_HOST_vectorstack![0]).toBe('https://');
    expect(spec('minio-init').env.SSL_CERT_FILE).toEqual(['/run/vectorstack/tls/ca.crt']);
    expect(spec('milvus').env).toMatchObject({
      ETCD_SSL_ENABLED: ['true'],
      ETCD_SSL_TLSCERT: ['/run/vectorstack/tls/server.crt'],
      ETCD_SSL_TLSCACERT: ['/run/vectorstack/tls/ca.crt'],
      MINIO_USE_SSL: ['true'],
      MINIO_SSL_TLSCACERT: ['/run/vectorstack/tls/ca.crt'],
    });
    expect(spec('milvus').files).toContainEqual({
      containerPath: '/etc/ssl/certs/ca-certificates.crt',
      content: [{ tls: { service: 'milvus', part: 'ca' } }],
    });
  });

  it('an external bucket keeps its own TLS settings: Milvus trusts the system roots there, not the stack CA', () => {
    const deployment = tlsDeployment('staging', {
      kubernetes: {
        objectStorage: EXTERNAL_BUCKET,
      },
    });
    const milvus = deployment.specs.find((s) => s.name === 'milvus')!;
    expect(deployment.specs.map((s) => s.name)).not.toContain('minio');
    expect(milvus.env).not.toHaveProperty('MINIO_SSL_TLSCACERT');
    expect(milvus.files.map((f) => f.containerPath)).not.toContain('/etc/ssl/certs/ca-certificates.crt');
    expect(milvus.env.ETCD_SSL_ENABLED).toEqual(['true']);
  });

  it('Docker uploads the files from the state directory: no key in the synthesized JSON', () => {
    const deployment = tlsDeployment('local');
    const stacks = buildDockerStacks(Testing.app(), { deployment });
    const json = Testing.synth(stacks.services);
    const material = ensureTls(deployment)!;
    expect(json).not.toContain('PRIVATE KEY');
    const containers = JSON.parse(json).resource.docker_container as Record<
      string,
      { upload?: { file: string; source?: string; permissions?: string; content?: string }[] }
    >;
    const uploads = containers.postgres!.upload!;
    expect(uploads).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          file: '/run/vectorstack/tls/server.key',
          source: material.servers.postgres!.keyFile,
          permissions: '0444',
        }),
        expect.objectContaining({ file: '/run/vectorstack/tls/ca.crt', source: material.caFile }),
      ]),
    );
    expect(uploads.find((u) => u.file.endsWith('server.key'))!.content).toBeUndefined();
  });

  it("Kubernetes puts each store's certificate and key into its files Secret, never the CA's key", () => {
    const deployment = tlsDeployment('staging');
    const stack = buildKubernetesStack(Testing.app(), { deployment });
    const parsed = JSON.parse(Testing.synth(stack));
    const material = ensureTls(deployment)!;
    const secrets = parsed.resource.kubernetes_secret_v1 as Record<string, { data: Record<string, string> }>;
    expect(secrets.redis_files!.data['server.key']).toBe(material.servers.redis!.key);
    expect(secrets.redis_files!.data['server.crt']).toBe(material.servers.redis!.cert);
    expect(secrets.redis_files!.data['ca.crt']).toBe(material.caCert);
    expect(secrets.postgres_files!.data['server.key']).toBe(material.servers.postgres!.key);
    const caKey = readFileSync(path.join(material.dir, 'ca.key'), 'utf8');
    expect(JSON.stringify(parsed)).not.toContain(caKey.split('\n')[1]);
    // pg_hba.conf has no secret in it: a ConfigMap.
    const maps = parsed.resource.kubernetes_config_map_v1 as Record<string, { data: Record<string, string> }>;
    expect(maps.postgres_files!.data['pg_hba.conf']).toBe(PG_HBA_TLS);
  });

  it('clients of a TLS stack verify PostgreSQL, Redis, Milvus and MinIO (https) against the CA', () => {
    const endpoints = withClientTls(
      {
        environment: 'local',
        postgres: { host: '127.0.0.1', port: 1, database: 'd', user: 'u' },
        redis: { host: '127.0.0.1', port: 2 },
        milvus: { host: '127.0.0.1', port: 3, user: 'root', metricsPort: null },
        minio: { endpoint: 'http://127.0.0.1:4', host: '127.0.0.1', port: 4, user: 'm', bucket: 'b' },
      },
      '/state/tls/ca.crt',
    );
    expect(endpoints.postgres!.tls).toEqual({ caFile: '/state/tls/ca.crt' });
    expect(endpoints.redis!.tls).toEqual({ caFile: '/state/tls/ca.crt' });
    expect(endpoints.milvus!.tls).toEqual({ caFile: '/state/tls/ca.crt' });
    expect(endpoints.minio).toMatchObject({
      tls: { caFile: '/state/tls/ca.crt' },
      endpoint: 'https://127.0.0.1:4',
    });
    expect(withClientTls(endpoints, null)).toBe(endpoints);
  });
});
