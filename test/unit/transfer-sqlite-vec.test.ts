import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { describe, expect, it } from 'vitest';
import {
  CollectionProfile,
  queryVector,
  sqliteVecSearch,
  storedVector,
  typedColumns,
  vec0Metric,
} from '../../lib/transfer/sqlite-vec-export.js';

const v = (...x: number[]) => Float32Array.from(x);

describe('typed metadata columns', () => {
  it('types keys every record has with one scalar type; the rest stay in the JSON column', () => {
    const p = new CollectionProfile();
    p.add({ lang: 'de', year: 2020, score: 1, ok: true, 'a key': 'x', tags: [1], sometimes: 1 }, v(1));
    p.add({ lang: 'en', year: 2021, score: 0.5, ok: false, 'a key': 'y', tags: [2] }, v(1));
    p.add({ lang: 'fr', year: 2022, score: 2, ok: true, 'a key': 3, tags: [], sometimes: null }, v(1));
    const { columns, jsonOnly } = typedColumns(p);
    expect(columns).toEqual([
      { key: 'lang', column: 'm_lang', type: 'text' },
      { key: 'ok', column: 'm_ok', type: 'boolean' },
      { key: 'score', column: 'm_score', type: 'float' },
      { key: 'year', column: 'm_year', type: 'integer' },
    ]);
    expect(jsonOnly).toEqual(['a key', 'sometimes', 'tags']);
  });

  it('stops at the 16-column limit and keeps column names unique', () => {
    const p = new CollectionProfile();
    const metadata: Record<string, number> = { 'x-y': 1, x_y: 2 };
    for (let i = 0; i < 20; i++) metadata[`k${String(i).padStart(2, '0')}`] = i;
    p.add(metadata, v(1));
    const { columns, jsonOnly } = typedColumns(p);
    expect(columns).toHaveLength(16);
    expect(jsonOnly).toHaveLength(6);
    expect(new Set(columns.map((c) => c.column)).size).toBe(16);
  });
});

describe('metrics in vec0', () => {
  it('maps l2 and cosine directly, ip on unit vectors to cosine, other ip by augmentation', () => {
    expect(vec0Metric('l2', { allUnit: false, maxNorm: 3 })).toEqual({ metric: 'l2', transform: 'none' });
    expect(vec0Metric('cosine', { allUnit: false, maxNorm: 3 })).toEqual({
      metric: 'cosine',
      transform: 'none',
    });
    expect(vec0Metric('ip', { allUnit: true, maxNorm: 1 })).toEqual({ metric: 'cosine', transform: 'none' });
    expect(vec0Metric('ip', { allUnit: false, maxNorm: 3 })).toEqual({
      metric: 'l2',
      transform: 'ip-augmented',
    });
  });

  it('ranks augmented vectors in vec0 exactly by inner product', () => {
    const db = new Database(':memory:');
    sqliteVec.load(db);
    const rows: Float32Array[] = [];
    let seed = 11;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31 - 0.5;
    };
    const profile = new CollectionProfile();
    for (let i = 0; i < 300; i++) {
      const scale = 1 + (i % 7);
      rows.push(v(rnd() * scale, rnd() * scale, rnd() * scale, rnd() * scale));
      profile.add(null, rows[i]!);
    }
    db.exec('CREATE VIRTUAL TABLE t USING vec0(id text primary key, embedding float[5] distance_metric=l2)');
    const insert = db.prepare('INSERT INTO t (id, embedding) VALUES (?, ?)');
    rows.forEach((r, i) => {
      const s = storedVector(r, 'ip-augmented', profile.maxNorm);
      insert.run(`r${i}`, Buffer.from(s.buffer));
    });
    for (let q = 0; q < 20; q++) {
      const query = v(rnd(), rnd(), rnd(), rnd());
      const dot = (r: Float32Array) => r.reduce((sum, x, j) => sum + x * query[j]!, 0);
      const expected = rows
        .map((r, i) => ({ id: `r${i}`, score: dot(r) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 10)
        .map((x) => x.id);
      expect(sqliteVecSearch(db, 't', queryVector(query, 'ip-augmented'), 10).map((h) => h.id)).toEqual(
        expected,
      );
    }
  });
});
