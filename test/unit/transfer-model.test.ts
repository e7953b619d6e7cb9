import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CHROMA_VERSIONS } from '../../lib/setup/chroma.js';
import { compareLayouts, layoutMismatch, readChromaLayout } from '../../lib/transfer/chroma-layout.js';
import {
  checkChromaName,
  chromaSpaceOf,
  METRICS,
  milvusCollection,
  pgTable,
  targetIdentifier,
  targetLabel,
} from '../../lib/transfer/model.js';

describe('where an imported collection lands', () => {
  it('keeps plain identifiers and makes every other Chroma name a collision-free identifier', () => {
    expect(targetIdentifier('docs_v2')).toBe('docs_v2');
    const dashed = targetIdentifier('a-b');
    const dotted = targetIdentifier('a.b');
    expect(dashed).toMatch(/^a_b_[0-9a-f]{8}$/);
    expect(dotted).toMatch(/^a_b_[0-9a-f]{8}$/);
    expect(dashed).not.toBe(dotted);
    expect(targetIdentifier('a_b')).toBe('a_b');
    // Milvus names must start with a letter or underscore.
    expect(targetIdentifier('9lives')).toMatch(/^c_9lives_[0-9a-f]{8}$/);
    expect(pgTable('my-docs')).toBe(targetIdentifier('my-docs'));
    expect(milvusCollection('my-docs')).toBe(`chroma_${targetIdentifier('my-docs')}`);
    expect(targetLabel('pgvector', 'docs')).toBe('pgvector imported."docs"');
    expect(targetLabel('milvus', 'docs')).toBe('milvus chroma_docs');
  });

  it("checks Chroma's own collection name rule", () => {
    expect(checkChromaName('abc')).toBeUndefined();
    expect(checkChromaName('t-coll.1')).toBeUndefined();
    expect(checkChromaName('ab')).toMatch(/3-63/);
    expect(checkChromaName('-abc')).toMatch(/starting and ending/);
    expect(checkChromaName('a..b')).toMatch(/'\.\.'/);
  });
});

describe('distance spaces', () => {
  it('reads hnsw:space from metadata (0.4.x) or the 1.x configuration, default l2', () => {
    expect(chromaSpaceOf('c', null)).toBe('l2');
    expect(chromaSpaceOf('c', { 'hnsw:space': 'cosine' })).toBe('cosine');
    expect(chromaSpaceOf('c', { 'hnsw:space': 'l2' }, { hnsw: { space: 'ip' } })).toBe('ip');
    expect(() => chromaSpaceOf('c', { 'hnsw:space': 'hamming' })).toThrow(
      /collection c: hnsw:space = "hamming": allowed values: l2, ip, cosine/,
    );
  });

  it('maps each space onto an operator class and a Milvus metric with the same ranking', () => {
    expect(METRICS.l2).toMatchObject({ pgOpclass: 'vector_l2_ops', pgOperator: '<->', milvusMetric: 'L2' });
    expect(METRICS.ip).toMatchObject({ pgOpclass: 'vector_ip_ops', pgOperator: '<#>', milvusMetric: 'IP' });
    expect(METRICS.cosine).toMatchObject({
      pgOpclass: 'vector_cosine_ops',
      pgOperator: '<=>',
      milvusMetric: 'COSINE',
    });
  });
});

describe('persisted directory layouts', () => {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  function directory(migrations: string[]): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vs-chroma-layout-'));
    made.push(dir);
    const db = new Database(path.join(dir, 'chroma.sqlite3'));
    db.exec('CREATE TABLE migrations (dir TEXT, version INTEGER, filename TEXT, sql TEXT, hash TEXT)');
    const insert = db.prepare('INSERT INTO migrations VALUES (?, ?, ?, ?, ?)');
    for (const m of migrations) {
      const [d, f] = m.split('/');
      insert.run(d, Number(f!.slice(0, 5)), f, '', '');
    }
    db.close();
    return dir;
  }

  it('reads the migrations a directory records and tells the two supported release lines apart', () => {
    const old = directory([...CHROMA_VERSIONS['0.4.24'].layout]);
    expect(readChromaLayout(old)).toEqual([...CHROMA_VERSIONS['0.4.24'].layout].sort());
    expect(compareLayouts(readChromaLayout(old), [...CHROMA_VERSIONS['0.4.24'].layout]).same).toBe(true);
    const against1x = compareLayouts(readChromaLayout(old), [...CHROMA_VERSIONS['1.5.9'].layout]);
    expect(against1x.same).toBe(false);
    expect(against1x.unknown).toEqual([]);
    expect(against1x.missing).toContain('sysdb/00010-collection-schema.sqlite.sql');
  });

  it('explains a directory written by a newer release and names the version that matches', () => {
    const newer = readChromaLayout(directory([...CHROMA_VERSIONS['1.5.9'].layout]));
    const error = layoutMismatch(
      '/data/chroma',
      '0.4.24',
      compareLayouts(newer, [...CHROMA_VERSIONS['0.4.24'].layout]),
      ['1.5.9'],
    );
    expect(error.message).toMatch(
      /^--from-dir \/data\/chroma was written by another Chroma version than --chroma-version 0\.4\.24/,
    );
    expect(error.message).toMatch(
      /records 10 migration\(s\) Chroma 0\.4\.24 does not know \(written by a newer release\)/,
    );
    expect(error.remedy).toContain('--chroma-version 1.5.9');
  });

  it('refuses what is not a Chroma 0.4+ directory', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'vs-chroma-layout-'));
    made.push(empty);
    expect(() => readChromaLayout(empty)).toThrow(/no chroma\.sqlite3/);
    expect(() => readChromaLayout(path.join(empty, 'nope'))).toThrow(/no such directory/);
  });
});
