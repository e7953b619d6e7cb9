// The synthetic dataset's distribution: a mixture of Gaussian clusters of low intrinsic dimension in a higher
// dimensional space, the shape real embeddings and SIFT descriptors have (a few dozen effective directions per
// neighbourhood), rather than an isotropic Gaussian, whose neighbours are all about equally far and which no ANN index
// handles well.
import type { FloatVectors } from '../../verify/vectors.js';
import { SeededRandom } from './prng.js';

/** Every parameter of the distribution; reports print them all, and the dataset cache is keyed by them. */
export interface MixtureParams {
  /** Components per vector. */
  dimension: number;
  /** Number of clusters K; each vector picks one uniformly. */
  clusters: number;
  /** Directions each cluster spreads along (its rank r); the rest is isotropic noise. */
  intrinsicDimension: number;
  /** Standard deviation of each centre component around the origin (centres ~ N(0, centreSigma² I)). */
  centreSigma: number;
  /** Standard deviation along each of a cluster's r directions (each direction has unit length on average). */
  clusterSigma: number;
  /** Standard deviation of the isotropic noise added to every component. */
  noiseSigma: number;
  /** Seed of the PRNG (xoshiro128**): centres and directions use stream 0, base vectors 1, queries 2. */
  seed: number;
}

/** The parameters the bench uses at every scale. */
export const DEFAULT_MIXTURE: MixtureParams = {
  dimension: 128,
  clusters: 1000,
  intrinsicDimension: 16,
  centreSigma: 1,
  clusterSigma: 2,
  noiseSigma: 0.1,
  seed: 20_261_203,
};

export const STREAMS = { shape: 0, base: 1, queries: 2 } as const;

/** Centres (K x d) and each cluster's directions (K x r x d), drawn from the shape stream. */
export interface MixtureShape {
  centres: Float64Array;
  directions: Float64Array;
}

export function mixtureShape(p: MixtureParams): MixtureShape {
  const random = new SeededRandom(p.seed, STREAMS.shape);
  const { dimension: d, clusters: k, intrinsicDimension: r } = p;
  const centres = new Float64Array(k * d);
  for (let i = 0; i < centres.length; i++) centres[i] = p.centreSigma * random.normal();
  // Entries N(0, 1/d): each direction has squared length 1 on average.
  const directions = new Float64Array(k * r * d);
  const scale = 1 / Math.sqrt(d);
  for (let i = 0; i < directions.length; i++) directions[i] = scale * random.normal();
  return { centres, directions };
}

/**
 * `count` vectors from the mixture: x = centre_c + clusterSigma * A_c z + noiseSigma * e with c uniform in [0, K),
 * z ~ N(0, I_r), e ~ N(0, I_d). Deterministic for (params, stream, count). `into` lets the caller supply the storage
 * (a SharedArrayBuffer view for worker threads).
 */
export function sampleMixture(
  p: MixtureParams,
  shape: MixtureShape,
  stream: number,
  count: number,
  into: Float32Array = new Float32Array(count * p.dimension),
): FloatVectors {
  const { dimension: d, intrinsicDimension: r } = p;
  if (into.length !== count * d)
    throw new RangeError(`storage holds ${into.length} values, ${count} x ${d} needed`);
  const random = new SeededRandom(p.seed, stream);
  const z = new Float64Array(r);
  const x = new Float64Array(d);
  for (let i = 0; i < count; i++) {
    const c = random.below(p.clusters);
    for (let j = 0; j < r; j++) z[j] = p.clusterSigma * random.normal();
    const centre = c * d;
    for (let m = 0; m < d; m++) x[m] = shape.centres[centre + m]! + p.noiseSigma * random.normal();
    for (let j = 0; j < r; j++) {
      const zj = z[j]!;
      const direction = (c * r + j) * d;
      for (let m = 0; m < d; m++) x[m] = x[m]! + zj * shape.directions[direction + m]!;
    }
    into.set(x, i * d);
  }
  return { file: `(synthetic stream ${stream})`, count, dimension: d, values: into };
}

/** One line naming the distribution and every parameter, for reports. */
export function describeMixture(p: MixtureParams): string {
  return (
    `synthetic: mixture of K=${p.clusters} Gaussian clusters in ${p.dimension} dims, each of rank ` +
    `${p.intrinsicDimension} (sigma ${p.clusterSigma} along its directions) plus isotropic noise sigma ` +
    `${p.noiseSigma}; centres ~ N(0, ${p.centreSigma}^2 I); xoshiro128** seed ${p.seed}`
  );
}
