import { inspect } from 'node:util';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type * as Minio from 'minio';
import type pg from 'pg';
import { type PostgresRoleName, postgresRoles } from '../../schemas/postgres/roles.js';
import {
  connectMilvus,
  connectPostgres,
  connectRedis,
  minioClient,
  type RedisClient,
  type RetryOptions,
} from '../clients.js';
import type { VectorstackConfig } from '../config/schema.js';
import type { Credentials } from '../credentials.js';
import type { Deployment } from '../deployment/resolve.js';
import { VectorstackError } from '../errors.js';
import type { ServiceName } from '../services/types.js';
import { clientCaFile } from '../tls/pki.js';
import { type RunOptions, runProcess } from '../util/process.js';
import { type Endpoints, type StoreName, withClientTls } from './endpoints.js';

/** Runs a command inside a service's container or pod (etcdctl, pg_dump); the target decides how. */
export type ExecInService = (
  service: ServiceName,
  argv: string[],
  options?: ExecOptions,
) => Promise<{ stdout: string; stderr: string }>;

/** stdin and stdout of a command run in a service: text, or files streamed without holding them in memory. */
export type ExecOptions = Pick<RunOptions, 'input' | 'stdinFile' | 'stdoutFile' | 'timeoutMs'>;

/**
 * The one way both targets run a command in a service: `prefix` is how the target reaches it (`docker exec -i
 * <container>`, `kubectl exec -i <pod> -c <service> --`). A failure names the service and the command.
 */
export async function execThrough(
  prefix: [string, ...string[]],
  service: ServiceName,
  argv: string[],
  options: ExecOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const [command, ...args] = prefix;
  const result = await runProcess(command, [...args, ...argv], { timeoutMs: 30_000, ...options });
  if (result.exitCode !== 0)
    throw new VectorstackError(
      `${service}: ${argv[0]} ${result.timedOut ? `timed out after ${(options.timeoutMs ?? 30_000) / 1000} s` : `failed (exit ${result.exitCode})`}`,
      { problems: [(result.stderr || result.stdout).trim() || 'no output'] },
    );
  return { stdout: result.stdout, stderr: result.stderr };
}

/** The store is disabled, or this environment does not make it reachable from here. */
export class NotReachableError extends VectorstackError {}

/**
 * One handle on a running environment, whatever its target: configuration, endpoints reachable from this process,
 * credentials (never printed: they are left out of JSON and inspection), clients for each store, a way to run a command
 * inside a service, and close(), which ends every client opened through the handle and whatever the target opened to
 * reach the stores (port-forwards).
 */
export class RunningStack {
  private readonly closers = new Set<() => Promise<unknown>>();
  private closed = false;

  /** Where each store answers; with tls.enabled, PostgreSQL, Redis and Milvus verified against the stack's CA. */
  readonly endpoints: Endpoints;

  constructor(
    readonly deployment: Deployment,
    endpoints: Endpoints,
    readonly credentials: Credentials,
    private readonly target: {
      exec: ExecInService;
      close: () => Promise<void>;
      describe: string;
      /** A path to `store` no other client shares (Kubernetes: a port-forward of its own); absent: the usual one. */
      ownPath?: (
        store: 'postgres' | 'redis' | 'milvus' | 'minio',
      ) => Promise<{ port: number; close: () => Promise<void> }>;
    },
  ) {
    this.endpoints = withClientTls(endpoints, clientCaFile(deployment));
  }

  get config(): VectorstackConfig {
    return this.deployment.config;
  }

  /** Where a store answers; fails naming the store when it is disabled or not reachable from here. */
  endpoint<S extends StoreName>(store: S): NonNullable<Endpoints[S]> {
    const found = this.endpoints[store];
    if (!found)
      throw new NotReachableError(
        `${store} is not reachable in environment ${this.config.environment} (${this.target.describe})`,
        {
          problems: [
            `${store} is disabled, or not published to this host (Docker: set its hostPort in the config)`,
          ],
        },
      );
    return found as NonNullable<Endpoints[S]>;
  }

  /**
   * A PostgreSQL client logged in as one of the kit's roles (schemas/postgres/roles.ts): `app` (the default, what an
   * application uses), `readonly`, `owner` (migrations, scratch tables) or `admin` (the superuser: administration only).
   * Ended by close().
   */
  async postgres(
    options: { role?: PostgresRoleName; database?: string; password?: string; retry?: RetryOptions } = {},
  ): Promise<pg.Client> {
    const endpoint = this.endpoint('postgres');
    const role = postgresRoles(this.config)[options.role ?? 'app'];
    const client = await connectPostgres(
      {
        ...endpoint,
        database: options.database ?? endpoint.database,
        user: role.name,
        password: options.password ?? this.credentials[role.secret],
      },
      options.retry,
    );
    return this.track(client, () => client.end());
  }

  /** A Milvus client as root (or another user); closed by close(). */
  async milvus(
    options: { username?: string; password?: string; retry?: RetryOptions } = {},
  ): Promise<MilvusClient> {
    const endpoint = this.endpoint('milvus');
    const client = await connectMilvus(
      {
        host: endpoint.host,
        port: endpoint.port,
        tls: endpoint.tls,
        username: options.username ?? endpoint.user,
        password: options.password ?? this.credentials.milvus_root_password,
      },
      options.retry,
    );
    return this.track(client, () => client.closeConnection());
  }

  /** A Redis client as the default user (or an ACL user); destroyed by close(). */
  async redis(
    options: { username?: string; password?: string; retry?: RetryOptions } = {},
  ): Promise<RedisClient> {
    const endpoint = this.endpoint('redis');
    const client = await connectRedis(
      {
        ...endpoint,
        username: options.username,
        password: options.password ?? (options.username ? undefined : this.credentials.redis_password),
      },
      options.retry,
    );
    return this.track(client, async () => client.destroy());
  }

  /** An S3 client for MinIO as its root user (no connection is held). */
  minio(): Minio.Client {
    const endpoint = this.endpoint('minio');
    return minioClient({
      host: endpoint.host,
      port: endpoint.port,
      accessKey: endpoint.user,
      secretKey: this.credentials.minio_root_password,
      tls: endpoint.tls,
    });
  }

  /** Runs `work` with a client and ends the client afterwards, whatever happens. */
  async with<T, C>(open: Promise<C>, work: (client: C) => Promise<T>): Promise<T> {
    const client = await open;
    try {
      return await work(client);
    } finally {
      await this.release(client);
    }
  }

  /** Runs a command inside a service's container (Docker) or pod (Kubernetes). */
  exec(
    service: ServiceName,
    argv: string[],
    options?: ExecOptions,
  ): Promise<{ stdout: string; stderr: string }> {
    return this.target.exec(service, argv, options);
  }

  /**
   * Runs `use` with the store's endpoint on a path of its own, for a probe the server is expected to drop (a plain
   * client on a TLS-only port): kubectl stops forwarding for every client of a port-forward when one of its
   * connections is reset, so on Kubernetes such a probe gets a port-forward of its own. On Docker, the usual endpoint.
   */
  async withOwnPath<S extends 'postgres' | 'redis' | 'milvus' | 'minio', T>(
    store: S,
    use: (endpoint: NonNullable<Endpoints[S]>) => Promise<T>,
  ): Promise<T> {
    const endpoint = this.endpoint(store);
    if (!this.target.ownPath) return use(endpoint);
    const path = await this.target.ownPath(store);
    try {
      return await use({ ...endpoint, port: path.port });
    } finally {
      await path.close();
    }
  }

  /** Ends every client opened through the handle, then what the target opened (port-forwards). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.closers].map((close) => close()));
    this.closers.clear();
    await this.target.close();
  }

  toJSON() {
    return { environment: this.config.environment, target: this.target.describe, endpoints: this.endpoints };
  }

  [inspect.custom]() {
    return `RunningStack ${inspect(this.toJSON())}`;
  }

  private readonly owners = new Map<unknown, () => Promise<unknown>>();

  private track<C>(client: C, close: () => Promise<unknown>): C {
    const closer = () => close().catch(() => {});
    this.closers.add(closer);
    this.owners.set(client, closer);
    return client;
  }

  private async release(client: unknown): Promise<void> {
    const closer = this.owners.get(client);
    if (!closer) return;
    this.owners.delete(client);
    this.closers.delete(closer);
    await closer();
  }
}
