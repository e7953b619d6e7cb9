import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { clientServices, objectName } from '../../stacks/kubernetes/names.js';
import type { VectorstackConfig } from '../config/schema.js';
import type { Credentials } from '../credentials.js';
import { SECRET_NAMES, type ServiceName } from '../services/types.js';
import { type ClusterOptions, kubeconfigPath, loadClusterConfig } from './cluster.js';
import type { ConnectionInfo } from './outputs.js';

const LOOPBACK = '127.0.0.1';

export interface ClusterConnection {
  config: VectorstackConfig;
  /** Every client Service, forwarded to an ephemeral port on 127.0.0.1. */
  connection: ConnectionInfo;
  /** Read from the environment's credentials Secret; keep them out of logs. */
  credentials: Credentials;
  /** Stops every kubectl port-forward this call started. */
  close(): Promise<void>;
}

/** kubectl with the environment's kubeconfig, context and namespace. */
function kubectlArgs(config: VectorstackConfig, environ: NodeJS.ProcessEnv): string[] {
  const k = config.kubernetes;
  return [
    `--kubeconfig=${kubeconfigPath(config, environ)}`,
    ...(k.context ? [`--context=${k.context}`] : []),
    `--namespace=${k.namespace}`,
  ];
}

/** Starts `kubectl port-forward service/<name> :<port>` and resolves with the local port kubectl picked. */
function forward(
  args: string[],
  service: string,
  port: number,
  timeoutMs: number,
): Promise<{ child: ChildProcess; localPort: number }> {
  const child = spawn(
    'kubectl',
    [...args, 'port-forward', `--address=${LOOPBACK}`, `service/${service}`, `:${port}`],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(
        new Error(`kubectl port-forward service/${service}: no port after ${timeoutMs} ms; ${stderr.trim()}`),
      );
    }, timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(chunk.toString());
      if (match) {
        clearTimeout(timer);
        resolve({ child, localPort: Number(match[1]) });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward service/${service}: ${error.message} (is kubectl installed?)`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward service/${service} exited (${code}): ${stderr.trim()}`));
    });
  });
}

/** The generated credentials, from the Secret the stack wrote. */
export async function readClusterCredentials(
  config: VectorstackConfig,
  environ: NodeJS.ProcessEnv = process.env,
): Promise<Credentials> {
  const secret = objectName(config.project, 'credentials');
  const { stdout } = await promisify(execFile)('kubectl', [
    ...kubectlArgs(config, environ),
    'get',
    'secret',
    secret,
    '--output=json',
  ]);
  const data = (JSON.parse(stdout) as { data?: Record<string, string> }).data ?? {};
  const credentials = {} as Credentials;
  for (const name of SECRET_NAMES) {
    const value = data[name];
    if (!value) throw new Error(`secret ${secret} has no key ${name}; re-run npm run deploy`);
    credentials[name] = Buffer.from(value, 'base64').toString('utf8');
  }
  return credentials;
}

/**
 * Forwards each store's client Service to 127.0.0.1 and returns where it answers, in the shape `npm run up`
 * reports for Docker, so the same smoke checks run against a cluster. Call close() when done.
 */
export async function portForwardCluster(
  options: ClusterOptions & { timeoutMs?: number } = {},
): Promise<ClusterConnection> {
  const environ = options.environ ?? process.env;
  const config = loadClusterConfig(options);
  const args = kubectlArgs(config, environ);
  const children: ChildProcess[] = [];
  const close = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill();
          }),
      ),
    );
  };
  try {
    const credentials = await readClusterCredentials(config, environ);
    const ports: Partial<Record<ServiceName, number>> = {};
    for (const [service, client] of Object.entries(clientServices(config))) {
      const { child, localPort } = await forward(
        args,
        client.service,
        client.port,
        options.timeoutMs ?? 30_000,
      );
      children.push(child);
      ports[service as ServiceName] = localPort;
    }
    const connection: ConnectionInfo = { environment: config.environment };
    if (ports.postgres)
      connection.postgres = {
        host: LOOPBACK,
        port: ports.postgres,
        database: config.postgres.database,
        user: config.postgres.user,
      };
    if (ports.redis) connection.redis = { host: LOOPBACK, port: ports.redis };
    if (ports.milvus)
      connection.milvus = { host: LOOPBACK, port: ports.milvus, user: 'root', metricsPort: null };
    if (ports.minio)
      connection.minio = {
        endpoint: `http://${LOOPBACK}:${ports.minio}`,
        host: LOOPBACK,
        port: ports.minio,
        user: config.minio.rootUser,
        bucket: config.minio.bucket,
      };
    return { config, connection, credentials, close };
  } catch (error) {
    await close();
    throw error;
  }
}
