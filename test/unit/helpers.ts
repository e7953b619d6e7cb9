import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ObjectStorage } from '../../k8s/schema.js';
import { loadConfig } from '../../lib/config/load.js';
import type { ConfigOverrides, EnvironmentName, VectorstackConfig } from '../../lib/config/schema.js';
import { type Deployment, resolveDeployment } from '../../lib/deployment/resolve.js';

/** A writer of files into a fresh temporary directory (`dir`): `write(name, content)` returns the file's path. */
export function scratchFiles(
  prefix: string,
): ((name: string, content: string | Buffer) => string) & { dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const write = (name: string, content: string | Buffer) => {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    return file;
  };
  return Object.assign(write, { dir });
}

/**
 * A fresh, empty working directory and cache per call: a unit test never reads a config file, an image override file
 * or a toolchain record that happens to lie around (the shared temp directory, the developer's cache).
 */
export function isolated(): { cwd: string; environ: NodeJS.ProcessEnv } {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'vs-unit-'));
  return { cwd, environ: { VECTORSTACK_CACHE_DIR: path.join(cwd, 'cache') } };
}

export function testConfig(
  env: EnvironmentName = 'local',
  overrides: ConfigOverrides = {},
): VectorstackConfig {
  const { cwd } = isolated();
  return loadConfig({ env, cwd, environ: {}, overrides });
}

export function testDeployment(env: EnvironmentName = 'local', overrides: ConfigOverrides = {}): Deployment {
  const { cwd, environ } = isolated();
  return resolveDeployment(loadConfig({ env, cwd, environ: {}, overrides }), { cwd, environ });
}

/** An external S3 bucket for Milvus on Kubernetes (`kubernetes.objectStorage`), with its Secret and egress CIDRs. */
export const EXTERNAL_BUCKET: ObjectStorage = {
  kind: 'external',
  endpoint: 's3.example.internal:443',
  bucket: 'milvus-data',
  useSsl: true,
  credentialsSecret: 's3-creds',
  accessKeyIdKey: 'id',
  secretAccessKeyKey: 'key',
  egressCidrs: ['10.20.0.0/16'],
};
