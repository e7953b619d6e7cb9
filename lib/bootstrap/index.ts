import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import {
  MILVUS_COLLECTIONS,
  MILVUS_FIELDS,
  type MilvusCollectionSpec,
  milvusCollectionSpecs,
} from '../../schemas/milvus/collections.js';
import { REDIS_ACL_USERS, type RedisAclUserSpec } from '../../schemas/redis/acl.js';
import type { RedisClient, RetryOptions } from '../clients.js';
import type { VectorstackConfig } from '../config/schema.js';
import { probeInsert } from '../milvus/privilege-probe.js';
import type { RunningStack } from '../stack/running-stack.js';
import type { Progress } from '../util/progress.js';
import { planMilvus } from './milvus.js';
import {
  describeMilvusGrants,
  GRANT_PROBE_FILTER,
  MILVUS_USER_ACTIONS,
  planMilvusUsers,
  reassertMilvusGrants,
  waitForMilvusGrants,
} from './milvus-users.js';
import { planPostgres, withAdvisoryLock } from './postgres.js';
import { planRedis } from './redis.js';
import {
  BootstrapError,
  EXIT_DRIFT,
  EXIT_OK,
  type ExecutablePlan,
  type PlannedAction,
  type StorePlan,
} from './types.js';
import { validateInputs } from './validate.js';

export interface BootstrapOptions {
  /** The running environment (its endpoints, credentials and clients). */
  stack: RunningStack;
  /** Which stores and settings to bootstrap. @default stack.config */
  config?: VectorstackConfig;
  /** Print the plan only; change nothing. @default false */
  planOnly?: boolean;
  /** Allow destructive fixes of drift (recreating a Milvus collection deletes its data). @default false */
  allowRecreate?: boolean;
  /** PostgreSQL schema for the tables. @default 'public' */
  postgresSchema?: string;
  /** Prefix of Milvus collections and Redis ACL users (tests and side-by-side tenants). @default '' */
  prefix?: string;
  /** @default schemas/postgres */
  migrationsDir?: string;
  /** @default milvusCollectionSpecs(config) */
  collections?: MilvusCollectionSpec[];
  /** @default REDIS_ACL_USERS */
  redisUsers?: RedisAclUserSpec[];
  retry?: RetryOptions;
  progress?: Progress;
}

export interface BootstrapResult {
  mode: 'plan' | 'apply';
  /** Per store: what was planned (in apply mode, what was planned under the lock and then applied). */
  stores: StorePlan[];
  applied: PlannedAction[];
  /** 0 in sync, 2 drift this run did not resolve. Failures throw instead (exit 1). */
  exitCode: number;
}

interface Clients {
  postgres?: pg.Client;
  milvus?: MilvusClient;
  redis?: RedisClient;
}

/**
 * Diffs each enabled store against its spec and, unless planOnly, applies the difference. With PostgreSQL enabled the
 * whole apply (plan included) runs under its advisory lock: a concurrent run waits, then finds nothing to do.
 */
export async function bootstrap(options: BootstrapOptions): Promise<BootstrapResult> {
  const config = options.config ?? options.stack.config;
  const schema = options.postgresSchema ?? 'public';
  const prefix = options.prefix ?? '';
  const collections = options.collections ?? milvusCollectionSpecs(config);
  const redisUsers = options.redisUsers ?? REDIS_ACL_USERS;
  validateInputs({ postgresSchema: schema, prefix }, collections, redisUsers);

  const clients = await connectAll(options.stack, config, options.retry);
  try {
    const planAll = async (): Promise<ExecutablePlan[]> => {
      const plans: Promise<ExecutablePlan>[] = [];
      if (clients.postgres)
        plans.push(
          planPostgres({
            client: clients.postgres,
            config,
            credentials: options.stack.credentials,
            schema,
            migrationsDir: options.migrationsDir,
          }),
        );
      if (clients.milvus)
        plans.push(planMilvusWithUsers(options, config, clients.milvus, collections, prefix));
      if (clients.redis)
        plans.push(
          planRedis({
            client: clients.redis,
            config,
            credentials: options.stack.credentials,
            users: redisUsers,
            prefix,
          }),
        );
      return Promise.all(plans);
    };

    if (options.planOnly) {
      const plans = await planAll();
      return result('plan', plans, []);
    }
    const apply = async () => {
      const plans = await planAll();
      const applied = await executeAll(plans, options.progress);
      return result('apply', plans, applied);
    };
    return clients.postgres ? await withAdvisoryLock(clients.postgres, apply) : await apply();
  } finally {
    await closeAll(clients);
  }
}

/** Collections first, then the application and read-only logins: one plan for the store. */
async function planMilvusWithUsers(
  options: BootstrapOptions,
  config: VectorstackConfig,
  client: MilvusClient,
  collections: MilvusCollectionSpec[],
  prefix: string,
): Promise<ExecutablePlan> {
  const plan = await planMilvus({
    client,
    collections,
    prefix,
    allowRecreate: options.allowRecreate ?? false,
  });
  const users = await planMilvusUsers(
    client,
    config,
    options.stack.credentials,
    (username, password) =>
      options.stack
        .with(options.stack.milvus({ username, password, retry: { attempts: 1 } }), async () => true)
        .catch(() => false),
    prefix,
  );
  return {
    ...plan,
    actions: [...plan.actions, ...users.actions],
    warnings: [...plan.warnings, ...users.warnings],
    execute: (action) =>
      MILVUS_USER_ACTIONS.has(action.kind) ? users.execute(action) : plan.execute(action),
    // Milvus applies new grants and role bindings a moment after acknowledging them: bootstrap returns once every
    // login it changed can read, so an application started right after it is not refused.
    settle: async (applied) => {
      const changed = [
        ...new Set(applied.filter((a) => MILVUS_USER_ACTIONS.has(a.kind)).map((a) => a.target)),
      ];
      const probe = collections.find((c) => c.name === MILVUS_COLLECTIONS.dense);
      if (changed.length === 0 || !probe) return;
      await waitForMilvusGrants(
        changed,
        prefix + probe.name,
        // Each login proves what it will be used for at once: reading (a query that matches nothing) and, where it
        // is granted, writing (an insert of zero rows). A proxy can apply one grant and not yet the next.
        (username, password, spec) =>
          options.stack.with(
            options.stack.milvus({ username, password, retry: { attempts: 1 } }),
            async (c) => {
              const read = await c.query({
                collection_name: prefix + probe.name,
                filter: GRANT_PROBE_FILTER,
                output_fields: [MILVUS_FIELDS.chunkId],
              });
              if (read.status.error_code !== 'Success' || !spec.collectionPrivileges.includes('Insert'))
                return read;
              return probeInsert(c, prefix + probe.name);
            },
          ),
        config,
        options.stack.credentials,
        {
          prefix,
          reassert: (spec) => reassertMilvusGrants(client, spec),
          describe: (spec) => describeMilvusGrants(client, spec),
        },
      );
    },
  };
}

function result(
  mode: BootstrapResult['mode'],
  plans: ExecutablePlan[],
  applied: PlannedAction[],
): BootstrapResult {
  const stores = plans.map(({ store, serverVersion, actions, drift, warnings }) => ({
    store,
    serverVersion,
    actions,
    drift,
    warnings,
  }));
  const drifted = stores.some((s) => s.drift.length > 0);
  return { mode, stores, applied, exitCode: drifted ? EXIT_DRIFT : EXIT_OK };
}

/** Stores apply side by side, each in its plan's order; a failure in one does not stop the others mid-step. */
async function executeAll(plans: ExecutablePlan[], progress?: Progress): Promise<PlannedAction[]> {
  const applied: PlannedAction[] = [];
  const outcomes = await Promise.allSettled(
    plans.map(async (plan) => {
      for (const action of plan.actions) {
        progress?.log(`${action.store}: ${action.kind} ${action.target}`);
        await plan.execute(action);
        applied.push(action);
      }
      if (plan.actions.length > 0) await plan.settle?.(plan.actions);
    }),
  );
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1)
    throw new BootstrapError(`bootstrap failed in ${failures.length} stores`, {
      problems: failures.map((f) => f.message),
    });
  return applied;
}

/** One client per enabled store, opened side by side; a failure closes the others and is reported as it is. */
async function connectAll(
  stack: RunningStack,
  config: VectorstackConfig,
  retry?: RetryOptions,
): Promise<Clients> {
  const clients: Clients = {};
  const outcomes = await Promise.allSettled([
    config.postgres.enabled
      ? stack.postgres({ role: 'admin', retry }).then((c) => (clients.postgres = c))
      : undefined,
    config.milvus.enabled ? stack.milvus({ retry }).then((c) => (clients.milvus = c)) : undefined,
    config.redis.enabled ? stack.redis({ retry }).then((c) => (clients.redis = c)) : undefined,
  ]);
  const failure = outcomes.find((o) => o.status === 'rejected');
  if (failure) {
    await closeAll(clients);
    throw (failure as PromiseRejectedResult).reason;
  }
  return clients;
}

async function closeAll(clients: Clients): Promise<void> {
  await Promise.allSettled([
    clients.postgres?.end(),
    clients.milvus?.closeConnection(),
    clients.redis ? Promise.resolve(clients.redis.destroy()) : undefined,
  ]);
}
