import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lib/config/load.js';
import type { VectorstackConfig } from '../../lib/config/schema.js';
import type { Credentials } from '../../lib/credentials.js';
import type { ConnectionInfo } from '../../lib/deploy/outputs.js';

/**
 * One stack shared by the integration test files that only need running servers (bootstrap, smoke, recall): it is
 * brought up once by global-setup.ts and destroyed at the end. Its own project name and port range keep it apart
 * from a developer's `vectorstack-local` stack and from the lifecycle test's stack.
 */
export const SHARED_STACK_DIR = path.join(os.tmpdir(), 'vectorstack-itest');
export const SHARED_PROJECT = 'vstest';

export function sharedStackConfig(): VectorstackConfig {
  mkdirSync(SHARED_STACK_DIR, { recursive: true });
  return loadConfig({
    cwd: SHARED_STACK_DIR,
    environ: {},
    overrides: {
      project: SHARED_PROJECT,
      // Small dimension keeps test data small; recall tests make their own scratch tables.
      embedding: { dimension: 8, metric: 'cosine' },
      postgres: { hostPort: 25501 },
      minio: { hostPort: 25502 },
      milvus: { hostPort: 25503, metricsHostPort: 25504 },
      redis: { hostPort: 25505 },
    },
  });
}

export interface SharedStack {
  config: VectorstackConfig;
  /** Working directory the stack's state lives under (pass as `cwd` to the library's functions). */
  cwd: string;
  credentials: Credentials;
  connection: ConnectionInfo;
}

/** The running shared stack; fails loudly when global setup did not bring it up. */
export function sharedStack(): SharedStack {
  const config = sharedStackConfig();
  const dir = path.join(SHARED_STACK_DIR, config.stateDir, config.environment);
  const outputs = path.join(dir, 'outputs.json');
  if (!existsSync(outputs))
    throw new Error(`the shared test stack is not up (${outputs} missing): global setup failed`);
  return {
    config,
    cwd: SHARED_STACK_DIR,
    credentials: JSON.parse(readFileSync(path.join(dir, 'credentials.json'), 'utf8')) as Credentials,
    connection: JSON.parse(readFileSync(outputs, 'utf8')) as ConnectionInfo,
  };
}
