import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/load.js';
import type { ConfigOverrides } from '../../lib/config/schema.js';
import { DEFAULT_IMAGES } from '../../lib/images.js';
import { DockerService } from '../../stacks/docker/docker-service.js';
import { buildDockerStacks } from '../../stacks/docker/docker-stacks.js';
import { testDeployment } from './helpers.js';

interface Synthesized {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  variable?: Record<string, { sensitive?: boolean }>;
}

function synth(overrides: ConfigOverrides = {}) {
  const deployment = testDeployment('local', overrides);
  const { config } = deployment;
  const app = Testing.app();
  const stacks = buildDockerStacks(app, { deployment });
  const baseJson = Testing.synth(stacks.base);
  const servicesJson = Testing.synth(stacks.services);
  return {
    config,
    baseJson,
    servicesJson,
    base: JSON.parse(baseJson) as Synthesized,
    services: JSON.parse(servicesJson) as Synthesized,
  };
}

type Container = {
  name: string;
  image: string;
  env: string[];
  healthcheck?: { test: string[] };
  ports?: { ip: string; external: number; internal: number }[];
  volumes?: { volume_name: string; container_path: string }[];
  must_run: boolean;
  restart: string;
  depends_on?: string[];
};

const containers = (s: Synthesized) => s.resource.docker_container as unknown as Record<string, Container>;

describe('Docker stacks', () => {
  const { base, services, servicesJson, config } = synth();

  it('creates one container per service, named <project>-<env>-<service>', () => {
    expect(Object.keys(containers(services)).sort()).toEqual([
      'etcd',
      'milvus',
      'minio',
      'minio-init',
      'postgres',
      'redis',
    ]);
    expect(containers(services).postgres!.name).toBe('vectorstack-local-postgres');
  });

  it("sizes PostgreSQL's /dev/shm from its maintenance_work_mem (Docker's 64 MB fails parallel index builds)", () => {
    const all = containers(services) as unknown as Record<string, { shm_size?: number; command?: string[] }>;
    expect(all.postgres!.shm_size).toBe(config.postgres.maintenanceWorkMemMb + 128);
    expect(all.postgres!.command).toContain(`maintenance_work_mem=${config.postgres.maintenanceWorkMemMb}MB`);
    for (const [name, c] of Object.entries(all))
      if (name !== 'postgres') expect(c.shm_size, name).toBeUndefined();
  });

  it('pins every image to an explicit tag', () => {
    const images = Object.values(services.resource.docker_image!).map((i) => i.name as string);
    expect(images.sort()).toEqual(Object.values(DEFAULT_IMAGES).sort());
    for (const image of images) expect(image).toMatch(/:[^:/]+$/);
    for (const image of images) expect(image).not.toMatch(/:latest$/);
  });

  it('gives every server a health check, a restart policy and must_run; the bucket job runs once', () => {
    for (const [name, c] of Object.entries(containers(services))) {
      if (name === 'minio-init') {
        expect(c.must_run).toBe(false);
        expect(c.healthcheck).toBeUndefined();
        continue;
      }
      expect(c.healthcheck?.test[0], name).toBe('CMD');
      expect(c.restart, name).toBe('unless-stopped');
      expect(c.must_run, name).toBe(true);
    }
  });

  it('publishes ports on 127.0.0.1 only and keeps etcd private', () => {
    const published = Object.values(containers(services)).flatMap((c) => c.ports ?? []);
    expect(published.length).toBeGreaterThan(0);
    for (const port of published) expect(port.ip).toBe('127.0.0.1');
    expect(containers(services).etcd!.ports ?? []).toEqual([]);
    expect(
      Testing.toHaveResourceWithProperties(servicesJson, 'docker_container', {
        name: 'vectorstack-local-postgres',
        ports: [{ internal: 5432, external: config.postgres.hostPort, ip: '127.0.0.1', protocol: 'tcp' }],
      }),
    ).toBe(true);
  });

  it('mounts a named volume from the base stack into each stateful service', () => {
    const volumeNames = new Set(Object.values(base.resource.docker_volume!).map((v) => v.name as string));
    for (const service of ['postgres', 'etcd', 'minio', 'milvus', 'redis']) {
      const mounts = containers(services)[service]!.volumes ?? [];
      expect(mounts.length, service).toBe(1);
      expect(volumeNames.has(mounts[0]!.volume_name), service).toBe(true);
    }
    expect(containers(services).postgres!.volumes![0]!.container_path).toBe('/var/lib/postgresql/data');
  });

  it('points Milvus at the etcd and MinIO containers and starts it after them and the bucket job', () => {
    const milvus = containers(services).milvus!;
    expect(milvus.env).toContain('ETCD_ENDPOINTS=etcd:2379');
    expect(milvus.env).toContain('MINIO_ADDRESS=minio:9000');
    expect(milvus.env).toContain('MINIO_BUCKET_NAME=milvus-bucket');
    expect(milvus.env).toContain('COMMON_SECURITY_AUTHORIZATION_ENABLED=true');
    expect(milvus.depends_on).toEqual(
      expect.arrayContaining([
        'docker_container.etcd',
        'docker_container.minio',
        'docker_container.minio-init',
      ]),
    );
  });

  it('keeps credentials out of the synthesized JSON: sensitive variables only', () => {
    for (const name of [
      'postgres_password',
      'minio_root_password',
      'milvus_root_password',
      'redis_password',
    ]) {
      expect(services.variable?.[name]?.sensitive, name).toBe(true);
    }
    const reference = (name: string) => `\${var.${name}}`;
    expect(containers(services).postgres!.env).toContain(
      `POSTGRES_PASSWORD=${reference('postgres_password')}`,
    );
    expect(containers(services).milvus!.env).toContain(
      `MINIO_SECRET_ACCESS_KEY=${reference('minio_root_password')}`,
    );
    expect(servicesJson).not.toMatch(/PASSWORD=[A-Za-z0-9_-]{20,}/);
  });

  it('renders overridden images and ports', () => {
    const { services: s } = synth({ images: { redis: 'example/redis:9.9' }, redis: { hostPort: 26379 } });
    expect(Object.values(s.resource.docker_image!).map((i) => i.name)).toContain('example/redis:9.9');
    expect(containers(s).redis!.ports![0]!.external).toBe(26379);
  });

  it('refuses two services on one host port when the configuration loads, naming both fields', () => {
    const error = (() => {
      try {
        synth({ redis: { hostPort: 15432 } });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual([
      'redis.hostPort = 15432: also configured for postgres.hostPort; allowed: a host port no other service publishes',
    ]);
  });

  it('leaves out disabled services', () => {
    const { services: s } = synth({ milvus: { enabled: false } });
    expect(Object.keys(containers(s)).sort()).toEqual(['postgres', 'redis']);
  });
});

describe('DockerService validation', () => {
  const [spec] = testDeployment().specs;
  const props = { spec: spec!, networkName: 'n', namePrefix: 'vs-test', secret: () => 'x' };

  it('refuses a non-loopback bind address unless allowed, naming the prop', () => {
    const stack = Testing.stubVersion(Testing.app());
    expect(() => new DockerService(stack, 'a', { ...props, bindAddress: '0.0.0.0' })).toThrow(
      'DockerService postgres: bindAddress 0.0.0.0 is not loopback; set allowNonLoopbackBind: true to publish beyond this host',
    );
  });

  it('refuses a name prefix Docker would reject', () => {
    const stack = Testing.app();
    expect(() => new DockerService(stack, 'b', { ...props, namePrefix: 'Bad Prefix' })).toThrow(
      'DockerService postgres: namePrefix "Bad Prefix" must match ^[a-z][a-z0-9-]*$',
    );
  });

  it('refuses a server without a health check', () => {
    const stack = Testing.app();
    expect(
      () => new DockerService(stack, 'c', { ...props, spec: { ...spec!, healthCheck: undefined } }),
    ).toThrow('DockerService postgres: spec.healthCheck is required for a server');
  });
});
