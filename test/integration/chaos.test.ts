import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../lib/bootstrap/index.js';
import { loadConfig } from '../../lib/config/load.js';
import type { ConfigOverrides } from '../../lib/config/schema.js';
import { dockerContainerName } from '../../lib/deployment/names.js';
import { resolveDeployment } from '../../lib/deployment/resolve.js';
import { REPO_ROOT } from '../../lib/paths.js';
import type { ServiceName } from '../../lib/services/types.js';
import type { RunningStack } from '../../lib/stack/running-stack.js';
import { driverFor } from '../../lib/targets/index.js';
import {
  AckLedger,
  formatKillTable,
  type KillOutcome,
  type LossWindow,
} from '../../lib/verify/chaos-load.js';
import { runSmoke } from '../../lib/verify/smoke.js';
import { MILVUS_COLLECTIONS } from '../../schemas/milvus/collections.js';
import { SMOKE_SUITES } from '../../smoke-tests/index.js';
import {
  ensureMilvusLoaded,
  readBackRound,
  redisWindow,
  roundOutcome,
  type Store,
  startLoad,
} from './chaos-writers.js';
import { requirePreparedHost } from './prerequisites.js';

// Chaos on the real Docker engine: under a bounded mixed load (PostgreSQL commits through the application role,
// Milvus inserts through rag_app, Redis SETs through the cache user), each container in turn is killed with SIGKILL,
// then `up` (scripts/up.ts, what `npm run up` runs after its setup check) must exit 0 within a bound, the stack must be
// ready (status, smoke), and every write a store acknowledged must still be there (Redis: what its appendfsync policy
// guarantees). Pure bookkeeping lives in lib/verify/chaos-load.ts. Before that, on the same stack: an `up` whose health
// wait runs out names each container still waiting, with what its health check and its log said, and the next `up`
// completes.

const PROJECT = 'vschaos';
const ENV = 'local';
const CONFIG: ConfigOverrides = {
  project: PROJECT,
  embedding: { dimension: 8, metric: 'cosine' },
  postgres: { hostPort: 25351 },
  minio: { hostPort: 25352 },
  milvus: { hostPort: 25353, metricsHostPort: 25354 },
  redis: { hostPort: 25355 },
};
/** Kill order: what Milvus depends on first, then Milvus, then the two independent stores. */
const KILLS: ServiceName[] = ['etcd', 'minio', 'milvus', 'postgres', 'redis'];
/** `up` after a kill must exit 0 within this (the driver's own health wait is docker.healthTimeoutSeconds = 300 s). */
const UP_BOUND_MS = 420_000;
/** Load before the kill, and while the killed service is down before `up` runs. */
const WARMUP_MS = 8_000;
const OUTAGE_MS = 4_000;
const LOGS = process.env.VECTORSTACK_CHAOS_LOG_DIR ?? path.join(os.tmpdir(), 'vschaos-logs');

const cwd = mkdtempSync(path.join(os.tmpdir(), `${PROJECT}-`));
const writeConfig = (config: ConfigOverrides) =>
  writeFileSync(path.join(cwd, 'vectorstack.config.json'), `${JSON.stringify(config, null, 2)}\n`);
writeConfig(CONFIG);
const deployment = resolveDeployment(loadConfig({ cwd, environ: {} }), { cwd });
const driver = driverFor(deployment);
const runId = `c${Date.now().toString(36)}`;
const ledger = new AckLedger();
const lossWindows: LossWindow[] = [];
const outcomes: KillOutcome[] = [];
let stack: RunningStack;
let redisWindowMs: number | null = null;

/** Runs `up` as the CLI does, in the stack's directory; resolves with its exit code and wall time, bounded. */
async function runUp(label: string): Promise<{ code: number | null; ms: number; log: string }> {
  const log = path.join(LOGS, `up-${label}.log`);
  execFileSync('mkdir', ['-p', LOGS]);
  const out = openSync(log, 'w');
  const started = Date.now();
  const child = spawn(
    path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
    [path.join(REPO_ROOT, 'scripts', 'up.ts'), '--env', ENV],
    { cwd, stdio: ['ignore', out, out], env: { ...process.env, CHECKPOINT_DISABLE: '1' } },
  );
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGTERM'), UP_BOUND_MS);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, ms: Date.now() - started, log };
}

/** The last lines of an `up` log, for a failure message CI prints (the log file stays on the machine that ran it). */
function logTail(file: string, lines = 40): string {
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Rows per segment state as Milvus's data coordinator reports its persistent segments (Sealed, Flushing, Flushed;
 * growing ones are not listed): "none" means every acknowledged row was still unflushed when the kill came.
 */
async function milvusSegments(): Promise<string> {
  return stack.with(stack.milvus(), async (c) => {
    const persistent = await c.getPersistentSegmentInfo({ collectionName: MILVUS_COLLECTIONS.dense });
    if (persistent.status.error_code !== 'Success')
      return `unknown (${persistent.status.error_code}: ${persistent.status.reason})`;
    const rows = new Map<string, number>();
    for (const s of persistent.infos ?? [])
      rows.set(String(s.state), (rows.get(String(s.state)) ?? 0) + Number(s.num_rows));
    return [...rows.entries()].map(([state, n]) => `${state} ${n} rows`).join(', ') || 'none';
  });
}

function describeErrors(store: Store, since: number): string {
  const { errors } = ledger.summary(store, since);
  return [...errors.entries()].map(([e, n]) => `${n}x ${e}`).join('; ') || 'none';
}

/** The service's container as the engine sees it. */
function inspect(service: ServiceName): { id: string; running: boolean; status: string; restarts: number } {
  const [id, running, status, restarts] = execFileSync(
    'docker',
    [
      'inspect',
      '--format',
      '{{.Id}} {{.State.Running}} {{.State.Status}} {{.RestartCount}}',
      dockerContainerName(deployment.config, service),
    ],
    { encoding: 'utf8' },
  )
    .trim()
    .split(' ');
  return { id: id!, running: running === 'true', status: status!, restarts: Number(restarts) };
}

beforeAll(async () => {
  await requirePreparedHost();
  await driver.destroy(); // what a previous run that died midway left (no state records it)
});

afterAll(async () => {
  await driver.destroy();
});

describe('a health wait that runs out', () => {
  it('up says which container is not healthy and what it and its log said, exit 1; run again, it completes', async () => {
    // 10 s (the least allowed): Milvus cannot pass its first check, made 10 s after it starts, so this up must fail.
    writeConfig({ ...CONFIG, docker: { healthTimeoutSeconds: 10 } });
    const failed = await runUp('health-timeout');
    const log = readFileSync(failed.log, 'utf8');
    expect(failed.code, logTail(failed.log)).toBe(1);
    expect(log).toContain(
      'local: not every container passed its health check within docker.healthTimeoutSeconds (10 s)',
    );
    // The container Terraform gave up on is named with its state and restarts (one still waiting, with the tail of
    // its own log; one that passed since, as such).
    expect(log).toMatch(
      /(\w+) \(vschaos-local-\1\): ((starting|unhealthy)[^\n]*; restarted \d+ time\(s\)[^\n]*\n {4}(last log lines:\n {6}\S|its log is empty)|healthy now, but not within the wait)/,
    );
    expect(log).toContain('on a slow or busy host raise docker.healthTimeoutSeconds (now 10)');
    writeConfig(CONFIG);
    const up = await runUp('initial');
    expect(up.code, `up after the failed one, see ${up.log}:\n${logTail(up.log)}`).toBe(0);
    const status = await driver.status();
    expect(status.filter((w) => !w.ready).map((w) => `${w.service}: ${w.state}`)).toEqual([]);
  }, 900_000);
});

describe('chaos on Docker: kill -s KILL each container under load, then up', () => {
  beforeAll(async () => {
    const opened = await driver.open();
    expect((await bootstrap({ stack: opened })).exitCode).toBe(0);
    await opened.close();
    stack = await driver.open();
    // The guarantee Redis gives for acknowledged writes across a kill of its process follows from its AOF settings.
    const redis = await redisWindow(stack);
    redisWindowMs = redis.ms;
    console.log(`redis: ${redis.settings}, loss window ${redisWindowMs} ms`);
    await ensureMilvusLoaded(stack);
  });

  afterAll(async () => {
    if (outcomes.length > 0) {
      const table = formatKillTable(outcomes);
      console.log(table);
      writeFileSync(path.join(LOGS, 'summary.md'), `${table}\n`);
    }
    await stack?.close();
  });

  for (const [round, service] of KILLS.entries()) {
    it(`${service}: up recovers within ${UP_BOUND_MS / 1000} s, the stack is ready, nothing acknowledged is lost`, async () => {
      const before = ledger.records.length;
      const loops = startLoad({
        stack: () => stack,
        ledger,
        runId,
        round: `r${round}`,
        dimension: deployment.config.embedding.dimension,
        maxDurationMs: UP_BOUND_MS + 120_000,
      });
      let stopped = false;
      const stopLoad = async () => {
        if (stopped) return;
        stopped = true;
        await Promise.all(Object.values(loops).map((l) => l.stop()));
      };
      try {
        await sleep(WARMUP_MS);
        console.log(`${service}: before the kill, milvus persistent segments: ${await milvusSegments()}`);
        const killStarted = Date.now();
        execFileSync('docker', ['kill', '-s', 'KILL', dockerContainerName(deployment.config, service)], {
          stdio: 'pipe',
        });
        const killedAt = Date.now();
        if (service === 'redis' && redisWindowMs !== null && redisWindowMs > 0)
          lossWindows.push({
            store: 'redis',
            from: killStarted - redisWindowMs,
            to: killedAt,
            reason: 'appendfsync everysec: the AOF write may be postponed up to 2 s',
          });
        const killedContainer = inspect(service);
        await sleep(OUTAGE_MS);
        // Whether the engine's restart policy (unless-stopped) already brought it back, or `up` has to.
        const beforeUp = inspect(service);
        // The load keeps running while `up` brings the stack back.
        const up = await runUp(service);
        const upEnded = Date.now();
        await stopLoad();
        const afterUp = inspect(service);
        const cameBack = beforeUp.running
          ? 'restart policy'
          : afterUp.id === killedContainer.id
            ? 'up (started)'
            : 'up (recreated)';
        console.log(
          `${service}: before up ${beforeUp.status} (restarts ${beforeUp.restarts}), came back by ${cameBack}; ` +
            `up exited ${up.code} after ${(up.ms / 1000).toFixed(1)} s (${up.log})`,
        );
        expect(up.code, `up after killing ${service}: see ${up.log}:\n${logTail(up.log)}`).toBe(0);
        expect(up.ms).toBeLessThan(UP_BOUND_MS);

        // Ready: every workload per status (Milvus: its health API), and the smoke suite passes.
        const status = await driver.status();
        expect(status.filter((w) => !w.ready).map((w) => `${w.service}: ${w.state}`)).toEqual([]);
        const smoke = await runSmoke(stack, SMOKE_SUITES);
        expect(
          smoke.filter((r) => r.status === 'fail').map((r) => `${r.service} ${r.check}: ${r.message}`),
        ).toEqual([]);

        // Nothing acknowledged is lost, in any round so far.
        const readBack = await readBackRound(stack, ledger, lossWindows, {
          before,
          killedAt,
          recoveredAt: upEnded,
        });
        for (const r of readBack) {
          const { store, outcome } = r;
          console.log(
            `${service} / ${store}: acked ${outcome.ackedTotal} (before the kill ${r.ackedBeforeKill}), ` +
              `missing ${r.missing.length}, exempt ${outcome.exempt} (lost ${outcome.ackedTotal - outcome.found - r.missing.length}); ` +
              `longest wait for an ack ${(r.gapMs / 1000).toFixed(1)} s; ` +
              `refused writes this round ${r.failedWrites}: ${describeErrors(store, before)}`,
          );
          expect(r.ackedBeforeKill, `${store}: no write acknowledged before the kill`).toBeGreaterThan(0);
          expect(
            r.missing.slice(0, 20),
            `${store}: acknowledged but missing after killing ${service}`,
          ).toEqual([]);
        }
        outcomes.push({ service, cameBack, upMs: up.ms, ...roundOutcome(readBack) });
      } finally {
        await stopLoad();
      }
    }, 900_000);
  }
});
