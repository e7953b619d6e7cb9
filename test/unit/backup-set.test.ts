import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileEntry, ownerOnlyDir, writeOwnerOnly } from '../../lib/ops/backup/files.js';
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  readBackupSet,
  type UnsealedManifest,
  writeManifest,
} from '../../lib/ops/backup/manifest.js';
import { parseToc } from '../../lib/ops/backup/postgres.js';
import { meanRecall, recallDifferences, samplePositions, score, TopK } from '../../lib/ops/backup/recall.js';
import { parseKeyspace } from '../../lib/ops/backup/redis.js';
import { RowFileWriter, readRowFile } from '../../lib/ops/backup/row-file.js';
import { canonicalJson, compareVersions } from '../../lib/ops/backup/types.js';

async function sampleSet() {
  const dir = ownerOnlyDir(path.join(mkdtempSync(path.join(os.tmpdir(), 'vs-unit-set-')), 'set'));
  const data = path.join(dir, 'redis', 'dump.rdb');
  writeOwnerOnly(data, Buffer.from('REDIS0012 payload'));
  const manifest: UnsealedManifest = {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    id: '20261202T000000Z',
    startedAt: '2026-12-02T00:00:00.000Z',
    completedAt: '2026-12-02T00:00:01.000Z',
    environment: 'local',
    project: 'vectorstack',
    target: 'docker',
    kit: { version: '0.1.0', node: 'v20', milvusSdk: '2.6.17' },
    images: { redis: 'redis:8.0.2' },
    stores: {
      redis: {
        serverVersion: '8.0.2',
        rdb: 'redis/dump.rdb',
        savedAt: '2026-12-02T00:00:00.000Z',
        usedMemoryBytes: 1000,
        aclUsers: ['default'],
        digest: 'v1',
        databases: [{ db: 0, keys: 1, digest: 'ab'.repeat(20) }],
      },
    },
    files: [await fileEntry(dir, data)],
  };
  writeManifest(dir, manifest);
  return { dir, data };
}

describe('backup set files', () => {
  it('writes owner-only files and a sealed manifest that reads back', async () => {
    const { dir, data } = await sampleSet();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(data).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, MANIFEST_FILE)).mode & 0o777).toBe(0o600);
    const read = await readBackupSet(dir);
    expect(read.files[0]).toMatchObject({ path: 'redis/dump.rdb', bytes: 17 });
  });

  it('refuses an edited manifest, a truncated or altered file, and a missing manifest, naming the file', async () => {
    const edited = await sampleSet();
    const file = path.join(edited.dir, MANIFEST_FILE);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"keys": 1', '"keys": 2'));
    await expect(readBackupSet(edited.dir)).rejects.toThrow(/edited after the backup/);

    const truncated = await sampleSet();
    truncateSync(truncated.data, 5);
    await expect(readBackupSet(truncated.dir)).rejects.toThrow(
      `${truncated.data}: 5 bytes, the manifest says 17: truncated`,
    );

    const altered = await sampleSet();
    writeFileSync(altered.data, Buffer.from('REDIS0012 PAYLOAD'));
    await expect(readBackupSet(altered.dir)).rejects.toThrow(/SHA-256 .* differs from the manifest's/);

    const empty = ownerOnlyDir(mkdtempSync(path.join(os.tmpdir(), 'vs-unit-empty-')));
    await expect(readBackupSet(empty)).rejects.toThrow(`${MANIFEST_FILE} is missing`);
  });
});

describe('row files', () => {
  it('round-trip scalars, JSON, the dynamic field and float32 vectors bit for bit', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vs-unit-rows-')), 'all.rows');
    const columns = [{ name: 'v', kind: 'float' as const, dim: 3 }];
    const writer = new RowFileWriter(file, columns);
    const third = Math.fround(1 / 3);
    writer.write([
      { id: '9007199254740993', v: [third, -0, 1e-30], j: { b: 1, a: [1, 2] }, $meta: { x: 'y' } },
      { id: '2', v: [1, 2, 3], j: null, $meta: {} },
    ]);
    writer.write([{ id: '3', v: [4, 5, 6], j: { c: true }, $meta: { z: 1 } }]);
    writer.close();
    const frames = [...readRowFile(file, columns)];
    expect(frames.map((f) => f.length)).toEqual([2, 1]);
    expect(frames[0]![0]).toEqual({
      id: '9007199254740993',
      v: [third, -0, Math.fround(1e-30)],
      j: { b: 1, a: [1, 2] },
      $meta: { x: 'y' },
    });
    expect(Object.is((frames[0]![0]!.v as number[])[1], -0)).toBe(true);
    truncateSync(file, statSync(file).size - 2);
    expect(() => [...readRowFile(file, columns)]).toThrow(/truncated/);
  });
});

describe('recall of a sampled query set', () => {
  it('keeps the k best with ties going to the earlier key', () => {
    const top = new TopK(2);
    top.offer('a', 1);
    top.offer('b', 3);
    top.offer('c', 3);
    top.offer('d', 2);
    expect(top.ids()).toEqual(['b', 'c']);
    expect(score('L2', [0, 0], [3, 4])).toBe(-25);
    expect(score('IP', [1, 2], [3, 4])).toBe(11);
    expect(score('COSINE', [1, 0], [0, 2])).toBe(0);
    expect(samplePositions(10, 4)).toEqual([0, 2, 5, 7]);
    expect(samplePositions(2, 4)).toEqual([0, 1]);
  });

  it('is the mean of |found ∩ exact| / k; a drop beyond the tolerance is reported, a rise is not', () => {
    const samples = [
      { id: '1', vectorSha256: '', exact: ['1', '2'], found: ['1', '3'] },
      { id: '2', vectorSha256: '', exact: ['2', '1'], found: ['1', '2'] },
    ];
    expect(meanRecall(samples, 2)).toBe(0.75);
    const before = { target: 't', index: 'i', metric: 'L2', searchParams: {}, k: 2, samples, recall: 0.75 };
    expect(recallDifferences(before, samples, 0)).toEqual([]);
    const worse = samples.map((s) => ({ ...s, found: ['9', '8'] }));
    expect(recallDifferences(before, worse, 0.01)[0]).toMatch(
      /recall@2 0\.0000 after restore, 0\.7500 at backup/,
    );
    const better = samples.map((s) => ({ ...s, found: s.exact }));
    expect(recallDifferences(before, better, 0)).toEqual([]);
  });
});

describe('parsers and helpers', () => {
  it('reads pg_restore listings, INFO keyspace, versions and canonical JSON', () => {
    const toc = parseToc(
      ';\n; Archive created\n3791; 1262 16384 DATABASE - rag postgres\n2; 3079 16392 EXTENSION - vector \n224; 1259 16851 TABLE public api_keys vectorstack_owner\n3785; 0 16851 TABLE DATA public api_keys vectorstack_owner\n',
    );
    expect(toc.map((e) => e.kind)).toEqual(['DATABASE', 'EXTENSION', 'TABLE', 'TABLE DATA']);
    expect(parseKeyspace('# Keyspace\r\ndb0:keys=7,expires=1,avg_ttl=0\r\ndb3:keys=2,expires=0\r\n')).toEqual(
      [
        { db: 0, keys: 7 },
        { db: 3, keys: 2 },
      ],
    );
    expect(compareVersions('v2.3.5-lite', '2.3.10')).toBeLessThan(0);
    expect(compareVersions('17.12 (Debian 17.12-0+deb13u1)', '17.12')).toBe(0);
    expect(compareVersions('8.0.2', '7.4.1')).toBeGreaterThan(0);
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });
});
