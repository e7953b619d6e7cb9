import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  datasetName,
  ensureSyntheticDataset,
  FILES,
  sha256File,
} from '../../lib/bench/search/dataset-cache.js';
import {
  DEFAULT_MIXTURE,
  describeMixture,
  type MixtureParams,
  mixtureShape,
  sampleMixture,
} from '../../lib/bench/search/mixture.js';
import { SeededRandom } from '../../lib/bench/search/prng.js';
import { scaleSpec } from '../../lib/bench/search/scales.js';
import { writeVecs } from '../../lib/bench/search/vecs-writer.js';
import { loadDataset } from '../../lib/verify/dataset.js';
import { readFvecs, readIvecs } from '../../lib/verify/vectors.js';

const SMALL: MixtureParams = { ...DEFAULT_MIXTURE, dimension: 8, clusters: 5, intrinsicDimension: 3 };
const sha = (values: Float32Array | Int32Array) =>
  createHash('sha256')
    .update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
    .digest('hex');

const dirs: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-search-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('seeded PRNG', () => {
  it('repeats its sequence for a seed and stream, and differs across seeds and streams', () => {
    const draw = (seed: number, stream: number) => {
      const r = new SeededRandom(seed, stream);
      return Array.from({ length: 5 }, () => r.nextUint32());
    };
    expect(draw(1, 0)).toEqual(draw(1, 0));
    expect(draw(1, 0)).not.toEqual(draw(2, 0));
    expect(draw(1, 0)).not.toEqual(draw(1, 1));
    // Pinned: a change of the generator changes every cached dataset, so it must be deliberate.
    expect(draw(20_261_203, 0)).toMatchInlineSnapshot(`
      [
        3206066379,
        3663407781,
        2317875583,
        1150109698,
        3295855849,
      ]
    `);
  });

  it('draws uniforms in [0, 1) and normals with mean ~0 and variance ~1', () => {
    const r = new SeededRandom(7);
    let sum = 0;
    let squares = 0;
    let low = 1;
    let high = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      low = Math.min(low, u);
      high = Math.max(high, u);
      const z = r.normal();
      sum += z;
      squares += z * z;
    }
    expect(low).toBeGreaterThanOrEqual(0);
    expect(high).toBeLessThan(1);
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(squares / n - 1)).toBeLessThan(0.05);
  });
});

describe('Gaussian mixture generator', () => {
  it('gives the same vectors for the same parameters, and others for another seed or stream', () => {
    const shape = mixtureShape(SMALL);
    const a = sampleMixture(SMALL, shape, 1, 50);
    const b = sampleMixture(SMALL, mixtureShape(SMALL), 1, 50);
    expect(sha(a.values)).toBe(sha(b.values));
    expect(sha(sampleMixture(SMALL, shape, 2, 50).values)).not.toBe(sha(a.values));
    const other = { ...SMALL, seed: SMALL.seed + 1 };
    expect(sha(sampleMixture(other, mixtureShape(other), 1, 50).values)).not.toBe(sha(a.values));
    // Pinned checksum of a small set: a generator change must be deliberate (it changes every cached dataset).
    expect(sha(a.values)).toMatchInlineSnapshot(
      `"7a4fdf3c194f16980e71fd23a87474a3fc9faefe06aedd80da4a8ac28af48cfe"`,
    );
  });

  it('clusters: points lie nearer their own centre than the centres lie to each other', () => {
    const p: MixtureParams = { ...SMALL, dimension: 64, clusters: 4, clusterSigma: 0.2, noiseSigma: 0.01 };
    const shape = mixtureShape(p);
    const set = sampleMixture(p, shape, 1, 200);
    const nearest = (v: Float32Array) => {
      let best = Number.POSITIVE_INFINITY;
      for (let c = 0; c < p.clusters; c++) {
        let d = 0;
        for (let m = 0; m < p.dimension; m++) d += (v[m]! - shape.centres[c * p.dimension + m]!) ** 2;
        best = Math.min(best, d);
      }
      return Math.sqrt(best);
    };
    for (let i = 0; i < set.count; i++)
      expect(nearest(set.values.subarray(i * p.dimension, (i + 1) * p.dimension))).toBeLessThan(3);
  });

  it('describes every parameter', () => {
    const text = describeMixture(DEFAULT_MIXTURE);
    for (const v of ['K=1000', '128 dims', 'rank 16', 'sigma 2', 'noise sigma 0.1', 'seed 20261203'])
      expect(text).toContain(v);
  });
});

describe('vector files', () => {
  it('writes .fvecs and .ivecs the readers read back bit for bit', () => {
    const dir = tmp();
    const floats = sampleMixture(SMALL, mixtureShape(SMALL), 1, 20_000);
    writeVecs(path.join(dir, 'a.fvecs'), floats);
    expect(sha(readFvecs(path.join(dir, 'a.fvecs')).values)).toBe(sha(floats.values));
    const ints = { file: '', count: 3, dimension: 2, values: Int32Array.from([1, 2, 3, 4, -5, 6]) };
    writeVecs(path.join(dir, 'b.ivecs'), ints);
    expect(Array.from(readIvecs(path.join(dir, 'b.ivecs')).values)).toEqual([1, 2, 3, 4, -5, 6]);
  });
});

describe('dataset cache', () => {
  const scale = { ...scaleSpec('100k'), base: 300, queries: 12, depth: 5 };

  it('generates once, then reuses the set after verifying every checksum', async () => {
    const root = tmp();
    const first = await ensureSyntheticDataset(scale, SMALL, { root, workers: 1 });
    expect(first.reused).toBe(false);
    expect(first.manifest.kind).toBe('synthetic');
    expect(first.manifest.params).toEqual(SMALL);
    for (const file of Object.values(FILES))
      expect(first.manifest.sha256[file]).toBe(await sha256File(path.join(first.dataset.dir, file)));
    const again = await ensureSyntheticDataset(scale, SMALL, { root, workers: 1 });
    expect(again.reused).toBe(true);
    expect(sha(again.dataset.base.values)).toBe(sha(first.dataset.base.values));
    expect(Array.from(again.dataset.groundTruth.values)).toEqual(
      Array.from(first.dataset.groundTruth.values),
    );
    // The directory is a TEXMEX dataset `npm run recall -- --dataset` reads.
    const asRecall = loadDataset(first.dataset.dir);
    expect(asRecall.base.count).toBe(300);
    expect(asRecall.groundTruth.dimension).toBe(5);
  });

  it('regenerates a set whose file no longer matches its checksum', async () => {
    const root = tmp();
    const first = await ensureSyntheticDataset(scale, SMALL, { root, workers: 1 });
    const file = path.join(first.dataset.dir, FILES.groundTruth);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(file, bytes);
    const again = await ensureSyntheticDataset(scale, SMALL, { root, workers: 1 });
    expect(again.reused).toBe(false);
    expect(again.regenerated).toMatch(/groundtruth\.ivecs: SHA-256 .* differs/);
    expect(await sha256File(file)).toBe(first.manifest.sha256[FILES.groundTruth]);
  });

  it('names the set after its size and every parameter', () => {
    expect(datasetName(scale, SMALL)).toMatch(/^synthetic-gmm-300-[0-9a-f]{8}$/);
    expect(datasetName(scale, { ...SMALL, noiseSigma: 0.2 })).not.toBe(datasetName(scale, SMALL));
    expect(datasetName({ ...scale, depth: 6 }, SMALL)).not.toBe(datasetName(scale, SMALL));
  });
});
