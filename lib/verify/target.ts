import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import { connectMilvus, connectPostgres } from '../clients.js';
import { loadConfig } from '../config/load.js';
import type { VectorstackConfig } from '../config/schema.js';
import { type Credentials, readCredentials } from '../credentials.js';
import { portForwardCluster } from '../deploy/cluster-port-forward.js';
import type { ConnectionInfo } from '../deploy/outputs.js';
import { stateDir } from '../paths.js';

/** A running stack to verify: its config, where each service answers, and its secrets (never printed). */
export interface VerifyTarget {
  config: VectorstackConfig;
  connection: ConnectionInfo;
  credentials: Credentials;
}

export class TargetError extends Error {
  readonly remedy = 'run: npm run up (then npm run bootstrap)';
}

/** Reads the target of `--env` from the files `npm run up` wrote under the state directory. */
export function resolveTarget(env: string | undefined, cwd = process.cwd()): VerifyTarget {
  const config = loadConfig({ env, cwd });
  const dir = stateDir(config.stateDir, config.environment, cwd);
  const outputsFile = path.join(dir, 'outputs.json');
  if (!existsSync(outputsFile))
    throw new TargetError(`environment ${config.environment} is not up: ${outputsFile} does not exist`);
  const credentials = readCredentials(dir);
  if (!credentials) throw new TargetError(`environment ${config.environment} has no credentials in ${dir}`);
  const connection = JSON.parse(readFileSync(outputsFile, 'utf8')) as ConnectionInfo;
  return { config, connection, credentials };
}

/** Where plots and JUnit files go by default: `<stateDir>/<env>/reports/` (ignored by git). */
export function reportsDir(config: VectorstackConfig, cwd = process.cwd()): string {
  const dir = path.join(stateDir(config.stateDir, config.environment, cwd), 'reports');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The target of `--env`, wherever it runs: a Docker environment from the files `up` wrote; a Kubernetes environment
 * through `kubectl port-forward` of its client Services to 127.0.0.1, with credentials read from its Secret. Call
 * close() when done (it stops the port-forwards).
 */
export async function openTarget(
  env: string | undefined,
  cwd = process.cwd(),
): Promise<VerifyTarget & { close(): Promise<void> }> {
  const config = loadConfig({ env, cwd });
  if (config.target === 'kubernetes') {
    const cluster = await portForwardCluster({ env, cwd });
    return {
      config: cluster.config,
      connection: cluster.connection,
      credentials: cluster.credentials,
      close: cluster.close,
    };
  }
  return { ...resolveTarget(env, cwd), close: async () => {} };
}

/** Runs `work` with a PostgreSQL client for the target, closing it afterwards; fails when PostgreSQL is not published. */
export async function withTargetPostgres<T>(
  target: VerifyTarget,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const info = target.connection.postgres;
  if (!info) throw new Error('postgres is not published in this environment: nothing to test');
  const client = await connectPostgres({ ...info, password: target.credentials.postgres_password });
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs `work` with a Milvus client (root) for the target, closing it afterwards; fails when Milvus is not published. */
export async function withTargetMilvus<T>(
  target: VerifyTarget,
  work: (client: MilvusClient) => Promise<T>,
): Promise<T> {
  const info = target.connection.milvus;
  if (!info) throw new Error('milvus is not published in this environment: nothing to test');
  const client = await connectMilvus({
    host: info.host,
    port: info.port,
    username: info.user,
    password: target.credentials.milvus_root_password,
  });
  try {
    return await work(client);
  } finally {
    await client.closeConnection().catch(() => {});
  }
}
