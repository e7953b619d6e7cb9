// Exact k nearest neighbours by brute force, batched for the cache and optionally split over worker threads. Distances
// are squared L2 summed in float64 over float32 components (as lib/verify/recall-math.ts exactNeighbours computes
// them); equal distances are ordered by id, so the result equals a naive full sort.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FloatVectors, IntVectors } from '../../verify/vectors.js';

/**
 * Nearest `depth` base rows of queries [qFrom, qTo), written to `out` (depth ids per query, relative to qFrom).
 * Self-contained (no imports, no outer variables): worker threads run it from its source text.
 *
 * Queries are taken in blocks of 8 so each base row, once in L1, serves 8 queries. A query abandons a row as soon as
 * the partial sum (checked every 16 components) exceeds its current depth-th distance: exact, since every term is >= 0.
 */
export function nearestBlock(
  base: Float32Array,
  baseCount: number,
  queries: Float32Array,
  dimension: number,
  qFrom: number,
  qTo: number,
  depth: number,
  out: Int32Array,
): void {
  const BLOCK = 8;
  const distances = new Float64Array(BLOCK * depth);
  const ids = new Int32Array(BLOCK * depth);
  const filled = new Int32Array(BLOCK);
  for (let b0 = qFrom; b0 < qTo; b0 += BLOCK) {
    const b1 = Math.min(b0 + BLOCK, qTo);
    filled.fill(0);
    for (let i = 0; i < baseCount; i++) {
      const row = i * dimension;
      for (let q = b0; q < b1; q++) {
        const slot = q - b0;
        const list = slot * depth;
        const n = filled[slot]!;
        const worst = n === depth ? distances[list + depth - 1]! : Number.POSITIVE_INFINITY;
        const query = q * dimension;
        let sum = 0;
        let m = 0;
        while (m < dimension) {
          const end = Math.min(m + 16, dimension);
          for (; m < end; m++) {
            const diff = base[row + m]! - queries[query + m]!;
            sum += diff * diff;
          }
          if (sum > worst) break;
        }
        // Ties at the worst distance keep the smaller id, which is already in the list (rows come in id order).
        if (sum >= worst) continue;
        // Insert into the sorted list (ascending distance, then id).
        let at = n === depth ? depth - 1 : n;
        while (at > 0 && distances[list + at - 1]! > sum) {
          distances[list + at] = distances[list + at - 1]!;
          ids[list + at] = ids[list + at - 1]!;
          at--;
        }
        distances[list + at] = sum;
        ids[list + at] = i;
        if (n < depth) filled[slot] = n + 1;
      }
    }
    for (let q = b0; q < b1; q++) {
      const slot = q - b0;
      for (let j = 0; j < depth; j++) out[(q - qFrom) * depth + j] = ids[slot * depth + j]!;
    }
  }
}

export interface GroundTruthOptions {
  /** Worker threads; 1 computes in this thread. @default os.availableParallelism() */
  workers?: number;
}

/** Copies a vector set into shared memory unless it is there already (workers read it without a copy each). */
function shared(values: Float32Array): Float32Array {
  if (values.buffer instanceof SharedArrayBuffer) return values;
  const copy = new Float32Array(new SharedArrayBuffer(values.byteLength));
  copy.set(values);
  return copy;
}

const WORKER_SOURCE = (kernel: string) => `
const { parentPort, workerData: w } = require('node:worker_threads');
const __name = (f) => f;
const nearestBlock = ${kernel};
const out = new Int32Array(w.out);
nearestBlock(new Float32Array(w.base), w.baseCount, new Float32Array(w.queries), w.dimension, w.qFrom, w.qTo, w.depth,
  out.subarray(w.qFrom * w.depth, w.qTo * w.depth));
parentPort.postMessage('done');
`;

/** Exact `depth` nearest neighbours of every query (ids, nearest first, ties by id). */
export async function groundTruth(
  base: FloatVectors,
  queries: FloatVectors,
  depth: number,
  options: GroundTruthOptions = {},
): Promise<IntVectors> {
  if (base.dimension !== queries.dimension)
    throw new RangeError(`dimension mismatch: base ${base.dimension}, queries ${queries.dimension}`);
  if (depth < 1 || depth > base.count)
    throw new RangeError(`depth ${depth} must be within 1..${base.count} (the base size)`);
  const workers = Math.max(1, Math.min(options.workers ?? os.availableParallelism(), queries.count));
  if (workers === 1) {
    const values = new Int32Array(queries.count * depth);
    nearestBlock(base.values, base.count, queries.values, base.dimension, 0, queries.count, depth, values);
    return { file: '(brute force)', count: queries.count, dimension: depth, values };
  }
  const out = new SharedArrayBuffer(queries.count * depth * 4);
  const baseShared = shared(base.values).buffer;
  const queriesShared = shared(queries.values).buffer;
  const source = WORKER_SOURCE(nearestBlock.toString());
  const per = Math.ceil(queries.count / workers);
  const jobs: Promise<void>[] = [];
  for (let w = 0; w < workers; w++) {
    const qFrom = w * per;
    const qTo = Math.min(qFrom + per, queries.count);
    if (qFrom >= qTo) break;
    jobs.push(
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(source, {
          eval: true,
          workerData: {
            base: baseShared,
            baseCount: base.count,
            queries: queriesShared,
            dimension: base.dimension,
            qFrom,
            qTo,
            depth,
            out,
          },
        });
        worker.once('message', () => resolve());
        worker.once('error', reject);
        worker.once('exit', (code) =>
          code === 0 ? resolve() : reject(new Error(`ground truth worker exited with ${code}`)),
        );
      }),
    );
  }
  await Promise.all(jobs);
  return { file: '(brute force)', count: queries.count, dimension: depth, values: new Int32Array(out) };
}
