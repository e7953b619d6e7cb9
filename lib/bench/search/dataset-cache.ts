// The synthetic dataset of one scale, generated once and cached outside the repository with its exact ground truth:
// <cache>/datasets/<name>/{base.fvecs, query.fvecs, groundtruth.ivecs, manifest.json}. The files are in the TEXMEX
// layout, so `npm run recall -- --dataset <dir>` reads them too. Every reuse verifies each file's SHA-256 against the
// manifest; a mismatch regenerates the set.
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheDir } from '../../paths.js';
import type { Progress } from '../../util/progress.js';
import type { Dataset } from '../../verify/dataset.js';
import { readFvecs, readIvecs } from '../../verify/vectors.js';
import { groundTruth } from './ground-truth.js';
import { describeMixture, type MixtureParams, mixtureShape, STREAMS, sampleMixture } from './mixture.js';
import type { ScaleSpec } from './scales.js';
import { writeVecs } from './vecs-writer.js';

export const FILES = {
  base: 'base.fvecs',
  queries: 'query.fvecs',
  groundTruth: 'groundtruth.ivecs',
} as const;

export interface DatasetManifest {
  format: 1;
  name: string;
  kind: 'synthetic';
  distribution: string;
  params: MixtureParams;
  base: number;
  queries: number;
  dimension: number;
  depth: number;
  /** SHA-256 (hex) of each file. */
  sha256: Record<string, string>;
  generateSeconds: number;
  groundTruthSeconds: number;
  groundTruthWorkers: number;
}

export interface CachedDataset {
  dataset: Dataset;
  manifest: DatasetManifest;
  /** True when the cached files were used (checksums verified); false when generated in this run. */
  reused: boolean;
  /** Why the cache was not used, when it was not. */
  regenerated?: string;
}

export interface DatasetCacheOptions {
  /** @default <cacheDir()>/datasets */
  root?: string;
  /** Ground truth worker threads. @default os.availableParallelism() */
  workers?: number;
  progress?: Progress;
}

/** What identifies a set: scale sizes and every distribution parameter. */
function identity(scale: Pick<ScaleSpec, 'base' | 'queries' | 'depth'>, params: MixtureParams) {
  return { base: scale.base, queries: scale.queries, depth: scale.depth, params };
}

/** `synthetic-gmm-<base>-<8 hex of the identity>`: a change of any parameter is another directory. */
export function datasetName(
  scale: Pick<ScaleSpec, 'base' | 'queries' | 'depth'>,
  params: MixtureParams,
): string {
  const hash = createHash('sha256')
    .update(JSON.stringify(identity(scale, params)))
    .digest('hex');
  return `synthetic-gmm-${scale.base}-${hash.slice(0, 8)}`;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function verify(dir: string, name: string, params: MixtureParams, scale: ScaleSpec) {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) return { problem: 'not cached yet' };
  let manifest: DatasetManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as DatasetManifest;
  } catch (error) {
    return { problem: `manifest.json unreadable (${(error as Error).message})` };
  }
  if (
    manifest.name !== name ||
    JSON.stringify(identity(manifest, manifest.params)) !== JSON.stringify(identity(scale, params))
  )
    return { problem: 'manifest describes other parameters' };
  for (const file of Object.values(FILES)) {
    const full = path.join(dir, file);
    if (!existsSync(full)) return { problem: `${file} missing` };
    const actual = await sha256File(full);
    if (actual !== manifest.sha256[file])
      return { problem: `${file}: SHA-256 ${actual.slice(0, 12)}… differs from the manifest's` };
  }
  return { manifest };
}

function read(dir: string): Dataset {
  return {
    dir,
    base: readFvecs(path.join(dir, FILES.base)),
    queries: readFvecs(path.join(dir, FILES.queries)),
    groundTruth: readIvecs(path.join(dir, FILES.groundTruth)),
    groundTruthSource: 'recomputed',
  };
}

/** The cached set of this scale and distribution, verified, or a freshly generated one. */
export async function ensureSyntheticDataset(
  scale: ScaleSpec,
  params: MixtureParams,
  options: DatasetCacheOptions = {},
): Promise<CachedDataset> {
  const root = options.root ?? path.join(cacheDir(), 'datasets');
  const name = datasetName(scale, params);
  const dir = path.join(root, name);
  const checked = await verify(dir, name, params, scale);
  if (checked.manifest) {
    options.progress?.log(`dataset ${name}: cached, checksums verified`);
    return { dataset: read(dir), manifest: checked.manifest, reused: true };
  }
  options.progress?.log(`dataset ${name}: generating (${checked.problem})`);
  let begun = performance.now();
  const shape = mixtureShape(params);
  // Shared memory: the ground truth workers read the vectors without copying them.
  const values = (count: number) => new Float32Array(new SharedArrayBuffer(count * params.dimension * 4));
  const base = sampleMixture(params, shape, STREAMS.base, scale.base, values(scale.base));
  const queries = sampleMixture(params, shape, STREAMS.queries, scale.queries, values(scale.queries));
  const generateSeconds = (performance.now() - begun) / 1000;
  options.progress?.log(
    `dataset ${name}: ${scale.base} base + ${scale.queries} query vectors in ${generateSeconds.toFixed(1)}s; exact ground truth (depth ${scale.depth})`,
  );
  begun = performance.now();
  const workers = options.workers ?? os.availableParallelism();
  const truth = await groundTruth(base, queries, scale.depth, { workers });
  const groundTruthSeconds = (performance.now() - begun) / 1000;
  options.progress?.log(
    `dataset ${name}: ground truth in ${groundTruthSeconds.toFixed(1)}s (${workers} worker(s))`,
  );
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeVecs(path.join(staging, FILES.base), base);
  writeVecs(path.join(staging, FILES.queries), queries);
  writeVecs(path.join(staging, FILES.groundTruth), truth);
  const sha256: Record<string, string> = {};
  for (const file of Object.values(FILES)) sha256[file] = await sha256File(path.join(staging, file));
  const manifest: DatasetManifest = {
    format: 1,
    name,
    kind: 'synthetic',
    distribution: describeMixture(params),
    params,
    base: scale.base,
    queries: scale.queries,
    dimension: params.dimension,
    depth: scale.depth,
    sha256,
    generateSeconds,
    groundTruthSeconds,
    groundTruthWorkers: workers,
  };
  writeFileSync(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return {
    dataset: { dir, base, queries, groundTruth: truth, groundTruthSource: 'recomputed' },
    manifest,
    reused: false,
    regenerated: checked.problem,
  };
}
