import { describe, expect, it } from 'vitest';
import { effectiveSpec, featuresFor } from '../../lib/bootstrap/milvus.js';
import { validateInputs } from '../../lib/bootstrap/validate.js';
import { describeCapabilities, type MilvusCapabilities, supports } from '../../lib/milvus/capabilities.js';
import { checkStatus, MilvusCallError, statusProblem } from '../../lib/milvus/status.js';
import { MILVUS_COLLECTIONS, milvusCollectionSpecs, tokenRowId } from '../../schemas/milvus/collections.js';
import { testConfig } from './helpers.js';

const config = testConfig('local', { embedding: { dimension: 384, metric: 'ip' } });
const specs = milvusCollectionSpecs(config, { tokenDimension: 96, tokenMetric: 'ip' });
const byName = (name: string) => specs.find((s) => s.name === name)!;

describe('collection specs of the reference data model', () => {
  it('keeps rag_chunks as it was and adds sparse, BM25 and multi-vector collections', () => {
    expect(specs.map((s) => s.name)).toEqual([
      'rag_chunks',
      'rag_chunks_sparse',
      'rag_chunks_bm25',
      'rag_chunks_multivector',
      'rag_chunk_tokens',
    ]);
    expect(byName('rag_chunks').fields.map((f) => f.name)).toEqual([
      'chunk_id',
      'embedding',
      'document_id',
      'source_type',
      'language',
      'chunk_position',
      'created_timestamp',
    ]);
    expect(byName('rag_chunks')).toMatchObject({ requires: [], optional: false });
    expect(byName('rag_chunks_sparse')).toMatchObject({ requires: ['sparseVectors'], optional: true });
    expect(byName('rag_chunks_sparse').indexes[0]).toEqual({
      field: 'sparse_embedding',
      indexType: 'SPARSE_INVERTED_INDEX',
      metric: 'IP',
    });
  });

  it('feeds the BM25 collection from chunk text through a server-side function', () => {
    const bm25 = byName('rag_chunks_bm25');
    expect(bm25.requires).toEqual(['bm25Function']);
    expect(bm25.functions).toEqual([{ name: 'bm25', type: 'BM25', input: 'text', output: 'bm25_sparse' }]);
    expect(bm25.fields.find((f) => f.name === 'text')).toMatchObject({ type: 'VarChar', analyzer: true });
    expect(bm25.fields.find((f) => f.name === 'bm25_sparse')).toMatchObject({
      type: 'SparseFloatVector',
      functionOutput: true,
    });
    expect(bm25.indexes[0]).toMatchObject({ field: 'bm25_sparse', metric: 'BM25' });
  });

  it('offers the native multi-vector type and token rows standing in where it is missing', () => {
    const native = byName('rag_chunks_multivector');
    expect(native.requires).toEqual(['structArrayVectors']);
    expect(native.fields.find((f) => f.name === 'tokens')).toMatchObject({
      type: 'ArrayOfStruct',
      structFields: [{ name: 'embedding', type: 'FloatVector', dim: 96 }],
    });
    expect(native.indexes[0]).toMatchObject({ field: 'tokens[embedding]', metric: 'MAX_SIM_IP' });
    const tokens = byName('rag_chunk_tokens');
    expect(tokens.insteadOf).toEqual({ feature: 'structArrayVectors', collection: 'rag_chunks_multivector' });
    expect(tokens.fields.find((f) => f.primaryKey)!.name).toBe('token_id');
    expect(tokens.indexes[0]).toMatchObject({ field: 'embedding', indexType: 'HNSW', metric: 'IP' });
    expect(tokenRowId('c1', 7)).toBe('c1:7');
    expect(MILVUS_COLLECTIONS.tokens).toBe(tokens.name);
  });

  it('passes bootstrap input validation (struct sub-field index, BM25 and MAX_SIM metrics)', () => {
    expect(() => validateInputs({ postgresSchema: 'public', prefix: 'x_' }, specs, [])).not.toThrow();
  });

  it('asks the server about every feature the specs use, and nothing else', () => {
    expect(featuresFor(specs).sort()).toEqual([
      'bm25Function',
      'denseHnsw',
      'scalarDefaultIndex',
      'sparseVectors',
      'structArrayVectors',
    ]);
    expect(featuresFor([byName('rag_chunks')]).sort()).toEqual(['denseHnsw', 'scalarDefaultIndex']);
  });
});

describe('specs as a server holds them', () => {
  const caps = (features: MilvusCapabilities['features']): MilvusCapabilities => ({
    version: null,
    features,
  });

  it('leaves specs alone on a server that accepts them', () => {
    const all = caps({
      denseHnsw: { supported: true, detail: '' },
      scalarDefaultIndex: { supported: true, detail: '' },
    });
    const { spec, notes } = effectiveSpec(byName('rag_chunks'), all);
    expect(spec).toEqual(byName('rag_chunks'));
    expect(notes).toEqual([]);
  });

  it('uses AUTOINDEX where HNSW is refused and an explicit scalar type where the default is', () => {
    const lite = caps({
      denseHnsw: { supported: false, detail: 'local mode only support FLAT IVF_FLAT AUTOINDEX' },
      scalarDefaultIndex: { supported: false, detail: 'index type required', value: 'INVERTED' },
    });
    const { spec, notes } = effectiveSpec(byName('rag_chunks'), lite);
    expect(spec.indexes[0]).toEqual({ field: 'embedding', indexType: 'AUTOINDEX', metric: 'IP' });
    expect(spec.indexes.slice(1).map((i) => i.indexType)).toEqual(['INVERTED', 'INVERTED', 'INVERTED']);
    expect(notes).toEqual([
      'rag_chunks.embedding: HNSW refused by this server (local mode only support FLAT IVF_FLAT AUTOINDEX): AUTOINDEX instead, M/efConstruction not applied',
    ]);
  });

  it('drops scalar indexes, with a note, where no scalar index type is accepted', () => {
    const none = caps({ scalarDefaultIndex: { supported: false, detail: 'refused' } });
    const { spec, notes } = effectiveSpec(byName('rag_chunks_sparse'), none);
    expect(spec.indexes.map((i) => i.field)).toEqual(['sparse_embedding']);
    expect(notes).toHaveLength(3);
    expect(notes[0]).toMatch(/rag_chunks_sparse\.document_id: no scalar index type accepted \(refused\)/);
  });

  it('reports capabilities, and treats an unprobed feature as missing', () => {
    const c = caps({
      sparseVectors: { supported: true, detail: 'ok' },
      structArrayVectors: { supported: false, detail: 'no struct' },
    });
    expect(supports(c, 'sparseVectors')).toBe(true);
    expect(supports(c, 'structArrayVectors')).toBe(false);
    expect(supports(c, 'bm25Function')).toBe(false);
    expect(describeCapabilities(c)).toEqual(['sparseVectors: yes', 'structArrayVectors: no (no struct)']);
  });
});

describe('milvus status', () => {
  it('treats code ≠ 0 as a failure even when error_code says Success (milvus-lite)', () => {
    expect(statusProblem({ error_code: 'Success', code: 0 })).toBeNull();
    expect(
      statusProblem({ error_code: 'Success', code: 65535, reason: 'invalid index type: HNSW, local mode: ' }),
    ).toBe('invalid index type: HNSW, local mode');
    expect(statusProblem({ error_code: 'UnexpectedError', reason: 'boom' })).toBe('boom');
  });

  it('reports an empty answer as not implemented', () => {
    expect(statusProblem(undefined)).toMatch(/not implemented/);
    const error = (() => {
      try {
        checkStatus({}, 'getVersion');
      } catch (e) {
        return e as MilvusCallError;
      }
    })();
    expect(error).toBeInstanceOf(MilvusCallError);
    expect(error!.unimplemented).toBe(true);
    expect(error!.message).toBe('milvus: getVersion: not implemented by this server (empty response)');
  });
});
