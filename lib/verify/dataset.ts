import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../paths.js';
import { exactNeighbours } from './recall-math.js';
import { type FloatVectors, type IntVectors, readFvecs, readIvecs, row, VectorFileError } from './vectors.js';

/** SIFT10K, shared by every checkout next to the repo; never copied into it. */
export const DEFAULT_DATASET_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'datasets', 'sift10k');

/** An ANN evaluation set: base vectors, queries and each query's exact neighbours (nearest first, by L2). */
export interface Dataset {
  dir: string;
  base: FloatVectors;
  queries: FloatVectors;
  groundTruth: IntVectors;
  /** `published`: the file's lists; `recomputed`: exact search over a base subset (the file's lists do not apply). */
  groundTruthSource: 'published' | 'recomputed';
}

export interface DatasetOptions {
  /** Use only the first N base vectors; the ground truth is then recomputed exactly over them. */
  baseLimit?: number;
  /** Use only the first N queries. */
  queryLimit?: number;
}

/** The one file in `dir` whose name ends with `suffix` (siftsmall_base.fvecs, base.fvecs, ...). */
function findFile(dir: string, suffix: string): string {
  const matches = readdirSync(dir).filter((name) => name.endsWith(suffix));
  if (matches.length !== 1)
    throw new VectorFileError(
      dir,
      matches.length === 0
        ? `no *${suffix} file (a dataset needs *base.fvecs, *query.fvecs and *groundtruth.ivecs)`
        : `several *${suffix} files (${matches.join(', ')}): keep one`,
    );
  return path.join(dir, matches[0]!);
}

export function loadDataset(dir: string, options: DatasetOptions = {}): Dataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new VectorFileError(dir, 'dataset directory does not exist');
  const base = readFvecs(findFile(dir, 'base.fvecs'), { limit: options.baseLimit });
  const queries = readFvecs(findFile(dir, 'query.fvecs'), { limit: options.queryLimit });
  if (base.dimension !== queries.dimension)
    throw new VectorFileError(
      queries.file,
      `dimension mismatch: queries have ${queries.dimension} components, base vectors ${base.dimension}`,
    );
  const truthFile = findFile(dir, 'groundtruth.ivecs');
  const published = readIvecs(truthFile, { limit: options.queryLimit });
  if (published.count !== queries.count)
    throw new VectorFileError(
      truthFile,
      `has ${published.count} neighbour list(s) for ${queries.count} query vector(s): one list per query is needed`,
    );
  const subset =
    options.baseLimit !== undefined && options.baseLimit < countRecords(base.file, base.dimension);
  if (subset) {
    const depth = Math.min(published.dimension, base.count);
    return {
      dir,
      base,
      queries,
      groundTruth: exactGroundTruth(base, queries, depth),
      groundTruthSource: 'recomputed',
    };
  }
  for (let i = 0; i < published.values.length; i++) {
    const id = published.values[i]!;
    if (id < 0 || id >= base.count)
      throw new VectorFileError(
        truthFile,
        `query ${Math.floor(i / published.dimension)} lists neighbour ${id}, outside the ${base.count} base vectors`,
      );
  }
  return { dir, base, queries, groundTruth: published, groundTruthSource: 'published' };
}

function countRecords(file: string, dimension: number): number {
  return statSync(file).size / (4 + 4 * dimension);
}

/** Exact `depth` nearest neighbours of every query by brute force (float64 squared L2; ties broken by id). */
export function exactGroundTruth(base: FloatVectors, queries: FloatVectors, depth: number): IntVectors {
  const values = new Int32Array(queries.count * depth);
  for (let q = 0; q < queries.count; q++) {
    const ids = exactNeighbours(base, row(queries, q), depth).map((n) => n.id);
    values.set(ids, q * depth);
  }
  return { file: '(recomputed)', count: queries.count, dimension: depth, values };
}
