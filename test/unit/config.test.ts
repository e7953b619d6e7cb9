import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, overridesFromEnvironment } from '../../lib/config/load.js';

const noEnv = {} as NodeJS.ProcessEnv;
const emptyDir = () => mkdtempSync(path.join(os.tmpdir(), 'vs-config-'));

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults to the local environment on Docker, bound to loopback', () => {
    const config = loadConfig({ environ: noEnv, cwd: emptyDir() });
    expect(config.environment).toBe('local');
    expect(config.target).toBe('docker');
    expect(config.docker.bindAddress).toBe('127.0.0.1');
    expect(config.etcd.hostPort).toBeNull();
  });

  it('gives staging and production the Kubernetes target and their own sizes', () => {
    const production = loadConfig({
      env: 'production',
      environ: noEnv,
      cwd: emptyDir(),
      overrides: { kubernetes: { context: 'prod' } },
    });
    expect(production.target).toBe('kubernetes');
    expect(production.postgres.storageGi).toBe(100);
    expect(production.postgres.hnsw.m).toBe(16); // inherited from the base defaults
  });

  it('names an unknown environment and the allowed ones', () => {
    const error = errorOf(() => loadConfig({ env: 'prod', environ: noEnv, cwd: emptyDir() }));
    expect(error.message).toBe(
      'environment = "prod": unknown environment; allowed: local, staging, production',
    );
  });

  it('layers the config file, its environment section, then variables', () => {
    const dir = emptyDir();
    writeFileSync(
      path.join(dir, 'vectorstack.config.yaml'),
      'postgres:\n  hostPort: 25432\nenvironments:\n  local:\n    redis:\n      maxmemoryMb: 512\n',
    );
    const config = loadConfig({ cwd: dir, environ: { VECTORSTACK_REDIS_HOST_PORT: '26379' } });
    expect(config.postgres.hostPort).toBe(25432);
    expect(config.redis.maxmemoryMb).toBe(512);
    expect(config.redis.hostPort).toBe(26379);
  });

  it('reports an enum error with the field, the value and the allowed values', () => {
    const error = errorOf(() =>
      loadConfig({
        environ: noEnv,
        cwd: emptyDir(),
        overrides: { embedding: { metric: 'hamming' as never } },
      }),
    );
    expect(error.problems).toEqual(['embedding.metric = "hamming": allowed values: "cosine", "l2", "ip"']);
  });

  it('reports every bad field at once, with bounds', () => {
    const error = errorOf(() =>
      loadConfig({
        environ: noEnv,
        cwd: emptyDir(),
        overrides: { postgres: { hostPort: 70000 }, redis: { maxmemoryMb: 1 } },
      }),
    );
    expect(error.problems).toEqual([
      'postgres.hostPort = 70000: must be at most 65535',
      'redis.maxmemoryMb = 1: must be at least 8',
    ]);
  });

  it('rejects a misspelt field and lists the allowed ones', () => {
    const error = errorOf(() =>
      loadConfig({ environ: noEnv, cwd: emptyDir(), overrides: { redis: { maxmemory: 5 } as never } }),
    );
    expect(error.problems[0]).toMatch(
      /^redis: unknown field\(s\) maxmemory; allowed: enabled, hostPort, maxmemoryMb/,
    );
  });

  it('rejects an identifier that would break container or SQL names', () => {
    const error = errorOf(() =>
      loadConfig({ environ: noEnv, cwd: emptyDir(), overrides: { project: 'My Stack' } }),
    );
    expect(error.problems[0]).toContain('project = "My Stack": must start with a lower-case letter');
  });

  it('reports shape errors and cross-field rules together, in one load', () => {
    const error = errorOf(() =>
      loadConfig({
        env: 'production',
        environ: noEnv,
        cwd: emptyDir(),
        overrides: {
          embedding: { dimension: 3072, metric: 'hamming' as never },
          kubernetes: { context: null, operators: { postgres: { mode: 'cloudnative-pg' } } },
        },
      }),
    );
    expect(error.problems).toEqual([
      'embedding.metric = "hamming": allowed values: "cosine", "l2", "ip"',
      "embedding.dimension = 3072: pgvector's HNSW and IVFFlat indexes support at most 2000 dimensions for vector (postgres.enabled = true); allowed: 1-2000, or postgres.enabled = false (Milvus indexes up to 32768)",
      'kubernetes.context = null: production names its kube context explicitly; allowed: a context of the kubeconfig',
      'kubernetes.operators.apiServerCidrs = []: CloudNativePG instances call the Kubernetes API (operators.postgres.mode = "cloudnative-pg"); list its addresses, e.g. ["10.0.0.1/32"]',
    ]);
    expect(error.message.split('\n')[0]).toBe('invalid configuration:');
  });

  it('allows a large dimension when PostgreSQL is disabled (Milvus takes up to 32768)', () => {
    const config = loadConfig({
      environ: noEnv,
      cwd: emptyDir(),
      overrides: { embedding: { dimension: 3072 }, postgres: { enabled: false } },
    });
    expect(config.embedding.dimension).toBe(3072);
  });

  it("refuses a maintenance_work_mem that does not fit PostgreSQL's memory next to its shared buffers", () => {
    const error = errorOf(() =>
      loadConfig({
        environ: noEnv,
        cwd: emptyDir(),
        overrides: { postgres: { maintenanceWorkMemMb: 800 } },
      }),
    );
    expect(error.problems).toEqual([
      'postgres.maintenanceWorkMemMb = 800: 800 MB next to postgres.sharedBuffersMb (256 MB) does not fit postgres.resources.memoryMb (1024 MB): an index build would be killed for memory; allowed: sharedBuffersMb + maintenanceWorkMemMb below memoryMb',
    ]);
    const roomier = loadConfig({
      environ: noEnv,
      cwd: emptyDir(),
      overrides: { postgres: { maintenanceWorkMemMb: 800, resources: { memoryMb: 2048, cpuMillis: 1000 } } },
    });
    expect(roomier.postgres.maintenanceWorkMemMb).toBe(800);
  });

  it('refuses a non-loopback bind address unless publishing beyond loopback is asked for', () => {
    const error = errorOf(() =>
      loadConfig({ environ: noEnv, cwd: emptyDir(), overrides: { docker: { bindAddress: '0.0.0.0' } } }),
    );
    expect(error.problems).toEqual([
      'docker.bindAddress = "0.0.0.0": publishes the stores beyond this host; allowed: 127.0.0.1, ::1 (or set docker.publishBeyondLoopback: true)',
    ]);
    const allowed = loadConfig({
      environ: noEnv,
      cwd: emptyDir(),
      overrides: { docker: { bindAddress: '0.0.0.0', publishBeyondLoopback: true } },
    });
    expect(allowed.docker.bindAddress).toBe('0.0.0.0');
  });

  it('reads numbers in variables strictly: an exponent is not an integer', () => {
    const error = errorOf(() =>
      loadConfig({ environ: { VECTORSTACK_EMBEDDING_DIMENSION: '1e3' }, cwd: emptyDir() }),
    );
    expect(error.problems).toEqual(['embedding.dimension = "1e3": expected number']);
    for (const raw of ['0x10', ' 12', '12abc', '1_000', '+5'])
      expect(overridesFromEnvironment({ VECTORSTACK_REDIS_MAXMEMORY_MB: raw })).toEqual({
        redis: { maxmemoryMb: raw },
      });
    expect(
      loadConfig({ environ: { VECTORSTACK_EMBEDDING_DIMENSION: '1000' }, cwd: emptyDir() }).embedding
        .dimension,
    ).toBe(1000);
  });

  it('rejects a public bind address only when it is not an IP at all', () => {
    const error = errorOf(() =>
      loadConfig({
        environ: noEnv,
        cwd: emptyDir(),
        overrides: { docker: { bindAddress: 'localhost' as never } },
      }),
    );
    expect(error.problems[0]).toMatch(/^docker\.bindAddress = "localhost"/);
  });
});

describe('overridesFromEnvironment', () => {
  it('maps upper-snake variable names to field paths and parses JSON scalars', () => {
    expect(
      overridesFromEnvironment({
        VECTORSTACK_POSTGRES_HOST_PORT: '15433',
        VECTORSTACK_MILVUS_HNSW_EF_CONSTRUCTION: '300',
        VECTORSTACK_ETCD_HOST_PORT: 'null',
        VECTORSTACK_IMAGES_POSTGRES: 'example/pg:1',
        VECTORSTACK_CACHE_DIR: '/tmp/x',
      }),
    ).toEqual({
      postgres: { hostPort: 15433 },
      milvus: { hnsw: { efConstruction: 300 } },
      etcd: { hostPort: null },
      images: { postgres: 'example/pg:1' },
    });
  });

  it('names an unknown variable instead of ignoring it', () => {
    expect(() => overridesFromEnvironment({ VECTORSTACK_POSTGRES_PROT: '1' })).toThrow(
      'VECTORSTACK_POSTGRES_PROT: not a configuration field; e.g. VECTORSTACK_POSTGRES_HOST_PORT sets postgres.hostPort',
    );
  });
});
