import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DATASET_DIR, loadDataset } from '../../lib/verify/dataset.js';
import { encodeVecs, readFvecs, readIvecs, row, VectorFileError } from '../../lib/verify/vectors.js';
import { scratchFiles } from './helpers.js';

const file = scratchFiles('verify-readers');
const { dir } = file;

describe('.fvecs / .ivecs readers', () => {
  it('reads record count, dimension and values', () => {
    const f = readFvecs(
      file(
        'a.fvecs',
        encodeVecs(
          [
            [1, 2.5, -3],
            [4, 5, 6],
          ],
          'float32',
        ),
      ),
    );
    expect([f.count, f.dimension]).toEqual([2, 3]);
    expect(Array.from(row(f, 1))).toEqual([4, 5, 6]);
    expect(Array.from(row(f, 0))).toEqual([1, 2.5, -3]);
    const i = readIvecs(
      file(
        'a.ivecs',
        encodeVecs(
          [
            [7, 8],
            [9, 10],
            [11, 12],
          ],
          'int32',
        ),
      ),
    );
    expect([i.count, i.dimension, Array.from(row(i, 2))]).toEqual([3, 2, [11, 12]]);
  });

  it('honours a row limit', () => {
    const f = readFvecs(file('b.fvecs', encodeVecs([[1], [2], [3]], 'float32')), { limit: 2 });
    expect(f.count).toBe(2);
  });

  it('reads the published SIFT10K files with their documented counts and sanity values', () => {
    const base = readFvecs(path.join(DEFAULT_DATASET_DIR, 'siftsmall_base.fvecs'));
    const truth = readIvecs(path.join(DEFAULT_DATASET_DIR, 'siftsmall_groundtruth.ivecs'));
    expect([base.count, base.dimension, truth.count, truth.dimension]).toEqual([10_000, 128, 100, 100]);
    expect(Array.from(row(truth, 0).subarray(0, 5))).toEqual([2176, 3752, 882, 4009, 2837]);
  });

  it('a record with another dimension is refused, naming the record', () => {
    const mixed = Buffer.concat([encodeVecs([[1, 2, 3]], 'float32'), encodeVecs([[4, 5, 6]], 'float32')]);
    mixed.writeInt32LE(2, 16); // second record claims d=2 but the length still matches d=3 records
    expect(() => readFvecs(file('mixed.fvecs', mixed))).toThrow(
      /record 1 declares dimension 2, but the first record has 3/,
    );
  });

  it('a truncated file is refused with the byte counts', () => {
    const whole = encodeVecs(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      'float32',
    );
    const p = file('cut.fvecs', whole.subarray(0, whole.length - 2));
    expect(() => readFvecs(p)).toThrow(VectorFileError);
    expect(() => readFvecs(p)).toThrow(
      `${p}: truncated or corrupt: 30 bytes is not a whole number of 16-byte records (dimension 3); 1 complete record(s), then 14 stray byte(s)`,
    );
  });

  it('a missing or empty file is refused clearly', () => {
    expect(() => readFvecs(path.join(dir, 'nope.fvecs'))).toThrow(/nope\.fvecs: cannot be read \(ENOENT\)/);
    expect(() => readFvecs(file('empty.fvecs', Buffer.alloc(0)))).toThrow(/too short for a record/);
  });
});

describe('datasets', () => {
  const makeDataset = (base: number[][], queries: number[][], truth: number[][]) => {
    const d = mkdtempSync(path.join(dir, 'ds-'));
    writeFileSync(path.join(d, 'x_base.fvecs'), encodeVecs(base, 'float32'));
    writeFileSync(path.join(d, 'x_query.fvecs'), encodeVecs(queries, 'float32'));
    writeFileSync(path.join(d, 'x_groundtruth.ivecs'), encodeVecs(truth, 'int32'));
    return d;
  };

  it('a query dimension other than the base dimension is refused', () => {
    const d = makeDataset(
      [
        [0, 0],
        [1, 1],
      ],
      [[0, 0, 0]],
      [[0]],
    );
    expect(() => loadDataset(d)).toThrow(/dimension mismatch: queries have 3 components, base vectors 2/);
  });

  it('one neighbour list per query is required, and ids must exist', () => {
    expect(() => loadDataset(makeDataset([[0], [1]], [[0], [1]], [[0]]))).toThrow(
      /has 1 neighbour list\(s\) for 2 query vector\(s\)/,
    );
    expect(() => loadDataset(makeDataset([[0], [1]], [[0]], [[5]]))).toThrow(
      /lists neighbour 5, outside the 2 base vectors/,
    );
  });

  it('a base subset gets its ground truth recomputed exactly', () => {
    const d = makeDataset([[0], [10], [3], [4], [100]], [[3.4]], [[4, 2, 3, 1, 0]]);
    const ds = loadDataset(d, { baseLimit: 4 });
    expect(ds.groundTruthSource).toBe('recomputed');
    expect(Array.from(row(ds.groundTruth, 0))).toEqual([2, 3, 0, 1]);
  });

  it('recomputing SIFT10K ground truth over the full base reproduces the published lists as sets', () => {
    const published = loadDataset(DEFAULT_DATASET_DIR, { queryLimit: 3 });
    expect(published.groundTruthSource).toBe('published');
    const sub = loadDataset(DEFAULT_DATASET_DIR, { baseLimit: 9_999, queryLimit: 3 });
    expect(sub.groundTruth.dimension).toBe(100);
    // Query 0's nearest neighbours are all below id 9999, so the subset's top 5 equals the published top 5.
    expect(Array.from(row(sub.groundTruth, 0).subarray(0, 5))).toEqual([2176, 3752, 882, 4009, 2837]);
  });
});
