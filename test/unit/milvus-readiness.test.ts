import { describe, expect, it } from 'vitest';
import { type IndexProgress, indexBuildVerdict, MilvusIndexBuildError } from '../../lib/milvus/readiness.js';

const index = (over: Partial<IndexProgress> = {}): IndexProgress => ({
  index_name: 'dense',
  state: 'Finished',
  indexed_rows: '1000',
  total_rows: '1000',
  pending_index_rows: '0',
  ...over,
});

describe('indexBuildVerdict', () => {
  it('is done only when every index is Finished over every flushed row and at least the rows inserted', () => {
    expect(indexBuildVerdict('c', [index(), index({ index_name: 'sparse' })], { rows: 1000 })).toBe(true);
    expect(indexBuildVerdict('c', [index(), index({ index_name: 'sparse', state: 'InProgress' })])).toEqual({
      waiting: 'sparse InProgress, 1000 of 1000 rows indexed',
    });
    // A merged segment being indexed again: Finished, but rows pending.
    expect(indexBuildVerdict('c', [index({ pending_index_rows: '400', indexed_rows: '600' })])).toEqual({
      waiting: 'dense Finished, 600 of 1000 rows indexed',
    });
    expect(indexBuildVerdict('c', [index({ indexed_rows: '600', pending_index_rows: undefined })])).not.toBe(
      true,
    );
    // Fewer rows flushed than inserted: not yet.
    expect(indexBuildVerdict('c', [index()], { rows: 2000 })).toEqual({
      waiting: 'dense Finished, 1000 of 1000 rows indexed',
    });
  });

  it('looks at the named index only, and waits while it does not exist', () => {
    const indexes = [index(), index({ index_name: 'sparse', state: 'InProgress' })];
    expect(indexBuildVerdict('c', indexes, { index: 'dense' })).toBe(true);
    expect(indexBuildVerdict('c', indexes, { index: 'title' })).toEqual({ waiting: 'no index title yet' });
    expect(indexBuildVerdict('c', [])).toEqual({ waiting: 'no index yet' });
  });

  it('throws on a failed build, naming the collection, the index and the reason', () => {
    const failed = [
      index({ index_name: 'sparse', state: 'Failed', index_state_fail_reason: 'out of memory' }),
    ];
    expect(() => indexBuildVerdict('rag_chunks', failed)).toThrow(MilvusIndexBuildError);
    expect(() => indexBuildVerdict('rag_chunks', failed)).toThrow(
      'milvus: rag_chunks: index sparse failed: out of memory',
    );
  });
});
