import { describe, expect, it } from 'vitest';
import { indexSettings } from '../../lib/milvus/index-settings.js';

describe("an index's settings as describeIndex reports them", () => {
  it('Milvus 2.3: build parameters nested as JSON under params come out flat, as strings', () => {
    expect(
      indexSettings([
        { key: 'index_type', value: 'HNSW' },
        { key: 'metric_type', value: 'COSINE' },
        { key: 'params', value: '{"M":16,"efConstruction":64}' },
      ]),
    ).toEqual({ index_type: 'HNSW', metric_type: 'COSINE', M: '16', efConstruction: '64' });
  });

  it('later versions: already flat, numbers as strings', () => {
    expect(
      indexSettings([
        { key: 'index_type', value: 'IVF_FLAT' },
        { key: 'metric_type', value: 'L2' },
        { key: 'nlist', value: 128 },
      ]),
    ).toEqual({ index_type: 'IVF_FLAT', metric_type: 'L2', nlist: '128' });
  });
});
