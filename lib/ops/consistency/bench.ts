// npm run bench:consistency: a million chunk ids on both sides with a fraction of injected faults, loaded by the
// fastest paths (COPY; batched Milvus inserts of small vectors: the check compares ids, never vectors), then the
// check, the repair and a second check, each run as the real command in its own process so its time and peak RSS
// are the command's own.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { MILVUS_COLLECTIONS, MILVUS_FIELDS } from '../../../schemas/milvus/collections.js';
import { bootstrap } from '../../bootstrap/index.js';
import { removeBootstrapObjects } from '../../bootstrap/teardown.js';
import { VectorstackError } from '../../errors.js';
import { indexesBuilt } from '../../milvus/readiness.js';
import { checkStatus } from '../../milvus/status.js';
import { REPO_ROOT } from '../../paths.js';
import type { RunningStack } from '../../stack/running-stack.js';
import { waitFor } from '../../util/poll.js';
import type { Progress } from '../../util/progress.js';
import { renderTable } from '../../util/table.js';
import type { ConsistencyReport } from './types.js';

export interface BenchPlan {
  /** Chunk ids in the data set; each side holds all of them but its share of the faults. @default 1000000 */
  chunks: number;
  /** Fraction of ids that are faults: half vectors without a chunk, half embedded chunks without a vector. */
  faultRate: number;
  /** Chunks per document. @default 1000 */
  chunksPerDocument: number;
}

/** Where the bench's data lives; removed afterwards. */
export const BENCH_NAMES = { postgresSchema: 'bench_consistency', prefix: 'benchc_' };
export const BENCH_GOALS = { seconds: 60, rssMb: 300 };

/** A canonical v4-shaped uuid derived from a label: deterministic, spread over the id space like random ones. */
export function benchUuid(label: string): string {
  const h = createHash('md5').update(label).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Every `1 / faultRate`-th id is a fault, alternately on the Milvus side only and on the PostgreSQL side only. */
export function faultOf(i: number, plan: BenchPlan): 'vectorOnly' | 'chunkOnly' | null {
  const every = Math.round(1 / plan.faultRate);
  if (i % every !== 0) return null;
  return (i / every) % 2 === 0 ? 'vectorOnly' : 'chunkOnly';
}

export function expectedFaults(plan: BenchPlan): {
  vectorsWithoutChunk: number;
  embeddedWithoutVector: number;
} {
  let vectorOnly = 0;
  let chunkOnly = 0;
  for (let i = 0; i < plan.chunks; i++) {
    const f = faultOf(i, plan);
    if (f === 'vectorOnly') vectorOnly++;
    else if (f === 'chunkOnly') chunkOnly++;
  }
  return { vectorsWithoutChunk: vectorOnly, embeddedWithoutVector: chunkOnly };
}

const chunkId = (i: number) => benchUuid(`chunk:${i}`);
const documentId = (d: number) => benchUuid(`document:${d}`);

/** COPY of the documents, then of the chunks (all marked embedded), in text format, generated as they stream. */
async function loadPostgres(client: pg.Client, schema: string, plan: BenchPlan): Promise<number> {
  const documents = Math.ceil(plan.chunks / plan.chunksPerDocument);
  async function* documentLines() {
    for (let d = 0; d < documents; d += 1000) {
      let text = '';
      for (let k = d; k < Math.min(d + 1000, documents); k++) text += `${documentId(k)}\tbench\tdoc-${k}\n`;
      yield text;
    }
  }
  async function* chunkLines() {
    for (let i = 0; i < plan.chunks; i += 5000) {
      let text = '';
      for (let k = i; k < Math.min(i + 5000, plan.chunks); k++) {
        if (faultOf(k, plan) === 'vectorOnly') continue;
        const doc = Math.floor(k / plan.chunksPerDocument);
        text += `${chunkId(k)}\t${documentId(doc)}\t${k % plan.chunksPerDocument}\tc\tembedded\n`;
      }
      yield text;
    }
  }
  await pipeline(
    documentLines(),
    client.query(copyFrom(`COPY ${schema}.documents (id, source_type, source_id) FROM STDIN`)),
  );
  const rows = client.query(
    copyFrom(
      `COPY ${schema}.document_chunks (id, document_id, position, content, embedding_status) FROM STDIN`,
    ),
  );
  await pipeline(chunkLines(), rows);
  await client.query(`ANALYZE ${schema}.document_chunks`);
  return Number(rows.rowCount);
}

/** The dense collection's row for id number `k` (a small deterministic vector: the check never reads it). */
function vectorRow(k: number, dimension: number, plan: BenchPlan) {
  const embedding = new Array<number>(dimension);
  for (let j = 0; j < dimension; j++) embedding[j] = ((k * 31 + j * 17) % 97) / 97 + 0.01;
  return {
    chunk_id: chunkId(k),
    embedding,
    document_id: documentId(Math.floor(k / plan.chunksPerDocument)),
    source_type: 'bench',
    language: 'en',
    chunk_position: k % plan.chunksPerDocument,
    created_timestamp: 0,
  };
}

/** Batched inserts into the dense collection (every id but the PostgreSQL-only faults), a flush, the index built. */
async function loadMilvus(
  client: MilvusClient,
  collection: string,
  dimension: number,
  plan: BenchPlan,
  progress: Progress,
): Promise<number> {
  const batch = 10_000;
  let inserted = 0;
  for (let i = 0; i < plan.chunks; i += batch) {
    const data = [];
    for (let k = i; k < Math.min(i + batch, plan.chunks); k++) {
      if (faultOf(k, plan) === 'chunkOnly') continue;
      data.push(vectorRow(k, dimension, plan));
    }
    const result = await client.insert({ collection_name: collection, data });
    checkStatus(result.status, `insert into ${collection}`);
    inserted += Number(result.insert_cnt);
    if ((i / batch) % 20 === 19) progress.log(`milvus: ${inserted} vectors inserted`);
  }
  checkStatus((await client.flush({ collection_names: [collection] })).status, `flush ${collection}`);
  let lastState = '';
  await waitFor(
    `milvus: index of ${collection} built over ${inserted} rows`,
    // Bootstrap names each index after its field; with several indexes on the collection the name is needed.
    () => indexesBuilt(client, collection, { index: MILVUS_FIELDS.dense, rows: inserted }),
    {
      timeoutMs: 1_800_000,
      intervalMs: 5000,
      onWait: (state) => {
        if (state !== lastState) progress.log(`milvus: ${state}`);
        lastState = state;
      },
    },
  );
  return inserted;
}

export interface PhaseResult {
  phase: 'check' | 'repair' | 'check again';
  exitCode: number;
  /** Wall time of the command, process start (tsx) to exit. */
  wallSeconds: number;
  /** The check's own time (connections and both scans; module loading and opening the stack excluded). */
  checkSeconds: number;
  maxRssMb: number;
  /** Resident memory when the check began (modules loaded, stack opened). */
  startRssMb: number;
  vectorsWithoutChunk: number;
  embeddedWithoutVector: number;
  repaired: number;
}

export interface BenchReport {
  chunks: number;
  faultRate: number;
  injected: { vectorsWithoutChunk: number; embeddedWithoutVector: number };
  rows: { postgres: number; milvus: number };
  /** The data set was left by a previous run (--reuse-data); load times are then 0. */
  reused: boolean;
  loadSeconds: { postgres: number; milvus: number };
  milvusDimension: number;
  phases: PhaseResult[];
  goals: typeof BENCH_GOALS;
  met: boolean;
}

/** Runs `npm run consistency` (tsx scripts/consistency.ts) as a user would, in `cwd`, and reads its JSON report. */
async function runCommand(
  args: string[],
  cwd: string,
): Promise<{ report: ConsistencyReport; exitCode: number; wallSeconds: number }> {
  const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  const script = path.join(REPO_ROOT, 'scripts', 'consistency.ts');
  const started = performance.now();
  const child = spawn(tsx, [script, ...args, '--json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  const wallSeconds = (performance.now() - started) / 1000;
  if (exitCode === 1 || !stdout.trim())
    throw new VectorstackError(`npm run consistency ${args.join(' ')} failed (exit ${exitCode})`, {
      problems: [stderr.trim().split('\n').slice(-5).join('\n') || 'no output'],
    });
  return { report: JSON.parse(stdout) as ConsistencyReport, exitCode, wallSeconds };
}

function phase(name: PhaseResult['phase'], run: Awaited<ReturnType<typeof runCommand>>): PhaseResult {
  const dense = run.report.collections.find((c) => c.collection.endsWith(MILVUS_COLLECTIONS.dense))!;
  return {
    phase: name,
    exitCode: run.exitCode,
    wallSeconds: Number(run.wallSeconds.toFixed(1)),
    checkSeconds: run.report.stats.seconds,
    maxRssMb: run.report.stats.maxRssMb,
    startRssMb: run.report.stats.startRssMb,
    vectorsWithoutChunk: dense.vectorsWithoutChunk.found,
    embeddedWithoutVector: dense.embeddedWithoutVector.found,
    repaired: dense.vectorsWithoutChunk.repaired + dense.embeddedWithoutVector.repaired,
  };
}

/**
 * Loads the data set into the stack (its own schema and prefix, bootstrapped fresh and removed at the end), then runs
 * check, repair and check again through the command. `commandArgs` tell the command which environment to open (run
 * in `cwd`). Fails when a phase reports other counts than were injected.
 */
export async function runConsistencyBench(
  stack: RunningStack,
  plan: BenchPlan,
  options: {
    cwd: string;
    commandArgs: string[];
    progress: Progress;
    /** Leave the data set in place for the next run. @default false */
    keepData?: boolean;
    /** Use a data set a previous run left (same size), with its faults injected again, instead of loading. */
    reuseData?: boolean;
  },
): Promise<BenchReport> {
  const { progress } = options;
  const names = BENCH_NAMES;
  const injected = expectedFaults(plan);
  const dimension = stack.config.embedding.dimension;
  const collection = names.prefix + MILVUS_COLLECTIONS.dense;
  const reused = options.reuseData === true && (await dataPresent(stack, plan));
  if (!reused) await removeBootstrapObjects(stack, names);
  try {
    let pgRows = plan.chunks - injected.vectorsWithoutChunk;
    let milvusRows = plan.chunks - injected.embeddedWithoutVector;
    let pgSeconds = 0;
    let milvusSeconds = 0;
    if (reused) {
      progress.log(
        `reusing the data set in ${names.postgresSchema} / ${collection}: injecting its faults again`,
      );
      await reinjectFaults(stack, plan);
    } else {
      const boot = await bootstrap({
        stack,
        ...names,
        config: { ...stack.config, redis: { ...stack.config.redis, enabled: false } },
      });
      if (boot.exitCode !== 0)
        throw new VectorstackError(`bootstrap of ${names.postgresSchema} reported drift`);
      progress.log(
        `loading ${plan.chunks} chunk ids (${injected.vectorsWithoutChunk + injected.embeddedWithoutVector} faults)`,
      );
      let t = performance.now();
      pgRows = await stack.with(stack.postgres(), (c) => loadPostgres(c, names.postgresSchema, plan));
      pgSeconds = (performance.now() - t) / 1000;
      progress.log(`postgres: ${pgRows} chunks copied in ${pgSeconds.toFixed(1)} s`);
      t = performance.now();
      milvusRows = await stack.with(stack.milvus(), (m) =>
        loadMilvus(m, collection, dimension, plan, progress),
      );
      milvusSeconds = (performance.now() - t) / 1000;
      progress.log(
        `milvus: ${milvusRows} vectors inserted, flushed and indexed in ${milvusSeconds.toFixed(1)} s`,
      );
    }

    const args = [...options.commandArgs, '--schema', names.postgresSchema, '--prefix', names.prefix];
    const phases: PhaseResult[] = [];
    for (const [name, extra] of [
      ['check', []],
      ['repair', ['--repair']],
      ['check again', []],
    ] as const) {
      progress.log(`${name}: npm run consistency -- ${[...args, ...extra].join(' ')}`);
      const result = phase(name, await runCommand([...args, ...extra], options.cwd));
      progress.log(
        `${name}: exit ${result.exitCode}, ${result.checkSeconds} s, peak RSS ${result.maxRssMb} MB`,
      );
      phases.push(result);
    }
    const expected = (p: PhaseResult, found: boolean, exit: number) =>
      p.exitCode === exit &&
      p.vectorsWithoutChunk === (found ? injected.vectorsWithoutChunk : 0) &&
      p.embeddedWithoutVector === (found ? injected.embeddedWithoutVector : 0);
    const [check, repair, again] = phases as [PhaseResult, PhaseResult, PhaseResult];
    if (
      !expected(check, true, 2) ||
      !expected(repair, true, 0) ||
      repair.repaired !== injected.vectorsWithoutChunk + injected.embeddedWithoutVector ||
      !expected(again, false, 0)
    )
      throw new VectorstackError('the command did not report what was injected', {
        problems: [`injected ${JSON.stringify(injected)}`, ...phases.map((p) => JSON.stringify(p))],
      });
    return {
      chunks: plan.chunks,
      faultRate: plan.faultRate,
      injected,
      rows: { postgres: pgRows, milvus: milvusRows },
      reused,
      loadSeconds: { postgres: Number(pgSeconds.toFixed(1)), milvus: Number(milvusSeconds.toFixed(1)) },
      milvusDimension: dimension,
      phases,
      goals: BENCH_GOALS,
      met: phases.every((p) => p.checkSeconds < BENCH_GOALS.seconds && p.maxRssMb < BENCH_GOALS.rssMb),
    };
  } finally {
    if (!options.keepData) await removeBootstrapObjects(stack, names).catch(() => {});
  }
}

/** True when the bench's schema and collection hold the data set of this size. */
async function dataPresent(stack: RunningStack, plan: BenchPlan): Promise<boolean> {
  const injected = expectedFaults(plan);
  const { postgresSchema, prefix } = BENCH_NAMES;
  const chunks = await stack
    .with(stack.postgres({ role: 'readonly' }), (c) =>
      c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${postgresSchema}.document_chunks`),
    )
    .then((r) => r.rows[0]!.n)
    .catch(() => -1);
  const vectors = await stack
    .with(stack.milvus(), (m) => m.count({ collection_name: prefix + MILVUS_COLLECTIONS.dense }))
    .then((r) => r.data)
    .catch(() => -1);
  return (
    chunks === plan.chunks - injected.vectorsWithoutChunk &&
    // A repaired data set lacks the vectors without a chunk; an unrepaired one has them.
    (vectors === plan.chunks - injected.embeddedWithoutVector - injected.vectorsWithoutChunk ||
      vectors === plan.chunks - injected.embeddedWithoutVector)
  );
}

/** Puts the faults back into a data set a repair fixed: chunks marked embedded again, stray vectors upserted. */
async function reinjectFaults(stack: RunningStack, plan: BenchPlan): Promise<void> {
  const { postgresSchema, prefix } = BENCH_NAMES;
  const chunkOnly: string[] = [];
  const vectorOnly: number[] = [];
  for (let i = 0; i < plan.chunks; i++) {
    const fault = faultOf(i, plan);
    if (fault === 'chunkOnly') chunkOnly.push(chunkId(i));
    else if (fault === 'vectorOnly') vectorOnly.push(i);
  }
  await stack.with(stack.postgres(), (c) =>
    c.query(
      `UPDATE ${postgresSchema}.document_chunks SET embedding_status = 'embedded' WHERE id = ANY($1::uuid[])`,
      [chunkOnly],
    ),
  );
  await stack.with(stack.milvus(), async (m) => {
    const dimension = stack.config.embedding.dimension;
    const result = await m.upsert({
      collection_name: prefix + MILVUS_COLLECTIONS.dense,
      data: vectorOnly.map((k) => vectorRow(k, dimension, plan)),
    });
    checkStatus(result.status, 'upsert of the stray vectors');
  });
}

export function benchTable(report: BenchReport): string {
  return [
    `${report.chunks} chunk ids, faults injected: ${report.injected.vectorsWithoutChunk} vectors without a chunk, ${report.injected.embeddedWithoutVector} embedded chunks without a vector; loaded: postgres ${report.rows.postgres} rows (COPY, ${report.loadSeconds.postgres} s), milvus ${report.rows.milvus} vectors of dimension ${report.milvusDimension} (${report.loadSeconds.milvus} s with flush and index)`,
    renderTable(
      [
        'phase',
        'exit',
        'command s',
        'check s',
        'peak RSS MB',
        'RSS at start MB',
        'found',
        'repaired',
        'goal',
      ],
      report.phases.map((p) => [
        p.phase,
        p.exitCode,
        p.wallSeconds,
        p.checkSeconds,
        p.maxRssMb,
        p.startRssMb,
        p.vectorsWithoutChunk + p.embeddedWithoutVector,
        p.repaired,
        `< ${report.goals.seconds} s, < ${report.goals.rssMb} MB: ${p.checkSeconds < report.goals.seconds && p.maxRssMb < report.goals.rssMb ? 'met' : 'NOT met'}`,
      ]),
    ),
  ].join('\n');
}
