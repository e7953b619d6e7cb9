import { describe, expect, it } from 'vitest';
import {
  type ChunkRow,
  type Difference,
  emptyCounts,
  type MergeCounts,
  mergeCompare,
  OutOfOrderError,
} from '../../lib/ops/consistency/merge.js';
import { readAhead } from '../../lib/ops/consistency/streams.js';

/** Pages of the given sizes (cycled) over `items`, as the stores' readers yield them. */
async function* pages<T>(items: T[], sizes: number[] = [3]): AsyncGenerator<T[]> {
  let at = 0;
  for (let i = 0; at < items.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield items.slice(at, at + size);
    at += size;
  }
}

const chunk = (id: string, embedded = true): ChunkRow => ({ id, embedded });

async function compare(
  chunks: ChunkRow[],
  vectors: string[],
  sizes: { chunks?: number[]; vectors?: number[] } = {},
): Promise<{ differences: Difference[]; counts: MergeCounts }> {
  const counts = emptyCounts();
  const differences: Difference[] = [];
  for await (const d of mergeCompare(pages(chunks, sizes.chunks), pages(vectors, sizes.vectors), counts))
    differences.push(d);
  return { differences, counts };
}

describe('merge-compare of two sorted id streams', () => {
  it('yields each difference once, in id order, and counts both sides', async () => {
    const { differences, counts } = await compare(
      [chunk('a'), chunk('b'), chunk('c', false), chunk('e'), chunk('g', false)],
      ['b', 'c', 'd', 'f', 'g', 'h'],
    );
    expect(differences).toEqual([
      { kind: 'embeddedWithoutVector', id: 'a' },
      { kind: 'vectorWithoutChunk', id: 'd' },
      { kind: 'embeddedWithoutVector', id: 'e' },
      { kind: 'vectorWithoutChunk', id: 'f' },
      { kind: 'vectorWithoutChunk', id: 'h' },
    ]);
    expect(counts).toEqual({ chunks: 5, embedded: 3, vectors: 6, matched: 3, vectorsForUnembedded: 2 });
  });

  it('does not report a chunk that is not marked embedded and has no vector', async () => {
    const { differences, counts } = await compare([chunk('a', false), chunk('b')], ['b']);
    expect(differences).toEqual([]);
    expect(counts.matched).toBe(1);
  });

  it('handles an empty side, both empty, and empty pages', async () => {
    expect((await compare([], ['x', 'y'])).differences.map((d) => d.kind)).toEqual([
      'vectorWithoutChunk',
      'vectorWithoutChunk',
    ]);
    expect((await compare([chunk('x')], [])).differences).toEqual([
      { kind: 'embeddedWithoutVector', id: 'x' },
    ]);
    expect(await compare([], [])).toEqual({ differences: [], counts: emptyCounts() });
    const { differences } = await compare([chunk('a'), chunk('b')], ['a', 'b'], { chunks: [0, 1, 0, 5] });
    expect(differences).toEqual([]);
  });

  it('gives the same answer whatever the page sizes (checked against set differences)', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 30; round++) {
      const ids = Array.from({ length: 400 }, (_, i) => `id-${String(i).padStart(4, '0')}`);
      const chunks = ids.filter(() => random() < 0.7).map((id) => chunk(id, random() < 0.8));
      const vectors = ids.filter(() => random() < 0.7);
      const sizes = {
        chunks: [1 + Math.floor(random() * 50), Math.floor(random() * 3)],
        vectors: [1 + Math.floor(random() * 50)],
      };
      const { differences, counts } = await compare(chunks, vectors, sizes);
      const inPg = new Set(chunks.map((c) => c.id));
      const inMilvus = new Set(vectors);
      const expected: Difference[] = ids.flatMap((id): Difference[] => {
        if (inMilvus.has(id) && !inPg.has(id)) return [{ kind: 'vectorWithoutChunk', id }];
        if (inPg.has(id) && !inMilvus.has(id) && chunks.find((c) => c.id === id)!.embedded)
          return [{ kind: 'embeddedWithoutVector', id }];
        return [];
      });
      expect(differences).toEqual(expected);
      expect(counts.matched).toBe(vectors.filter((id) => inPg.has(id)).length);
      expect(counts.chunks).toBe(chunks.length);
      expect(counts.vectors).toBe(vectors.length);
    }
  });

  it('stops with OutOfOrderError naming the stream and both ids, before the disordered id is compared', async () => {
    const run = (chunks: ChunkRow[], vectors: string[]) => compare(chunks, vectors);
    await expect(run([chunk('a'), chunk('c'), chunk('b')], ['a', 'b', 'c'])).rejects.toThrow(
      'postgres: ids out of order ("b" after "c")',
    );
    await expect(run([chunk('a')], ['a', 'c', 'c'])).rejects.toThrow(OutOfOrderError);
    await expect(run([chunk('a')], ['a', 'c', 'c'])).rejects.toThrow(
      'milvus: ids out of order ("c" after "c")',
    );
    // Across a page boundary too.
    const counts = emptyCounts();
    const seen: Difference[] = [];
    const merge = mergeCompare(pages([chunk('m'), chunk('n')], [2]), pages(['x', 'y', 'a'], [2]), counts, {
      chunks: 'pg',
      vectors: 'collection rag_chunks',
    });
    await expect(async () => {
      for await (const d of merge) seen.push(d);
    }).rejects.toThrow('collection rag_chunks: ids out of order ("a" after "y")');
  });

  it('holds one page of each side at a time', async () => {
    let pulled = 0;
    async function* many(): AsyncGenerator<string[]> {
      for (let p = 0; p < 1000; p++) {
        pulled++;
        yield Array.from({ length: 100 }, (_, i) => `v${String(p * 100 + i).padStart(6, '0')}`);
      }
    }
    const counts = emptyCounts();
    const merge = mergeCompare(pages([] as ChunkRow[]), many(), counts);
    for (let i = 0; i < 250; i++) await merge.next();
    // 250 differences consumed: the third page is being read, nothing beyond it.
    expect(pulled).toBe(3);
    await merge.return(undefined);
  });

  it('orders canonical uuids as PostgreSQL does (byte order of the text form)', async () => {
    const ids = [
      '0fffffff-ffff-4fff-8fff-ffffffffffff',
      '10000000-0000-4000-8000-000000000000',
      'a0000000-0000-4000-8000-000000000000',
    ];
    expect([...ids].sort()).toEqual(ids);
    const { differences } = await compare(
      ids.map((id) => chunk(id)),
      ids,
    );
    expect(differences).toEqual([]);
  });
});

describe('read-ahead', () => {
  it('yields every page in order and fetches one page ahead', async () => {
    const fetched: number[] = [];
    async function* source() {
      for (let i = 0; i < 4; i++) {
        fetched.push(i);
        yield [i];
      }
    }
    const ahead = readAhead(source());
    const first = await ahead.next();
    expect(first.value).toEqual([0]);
    await new Promise((r) => setTimeout(r, 0));
    expect(fetched).toEqual([0, 1]);
    const rest: number[][] = [];
    for await (const page of ahead) rest.push(page);
    expect(rest).toEqual([[1], [2], [3]]);
  });

  it('reports a failed fetch when its page is due, not before', async () => {
    async function* source() {
      yield [1];
      throw new Error('store went away');
    }
    const ahead = readAhead(source());
    expect((await ahead.next()).value).toEqual([1]);
    await new Promise((r) => setTimeout(r, 10));
    await expect(ahead.next()).rejects.toThrow('store went away');
  });

  it('closes the source when the consumer stops early', async () => {
    let closed = false;
    async function* source() {
      try {
        for (let i = 0; ; i++) yield [i];
      } finally {
        closed = true;
      }
    }
    for await (const page of readAhead(source())) if (page[0] === 2) break;
    expect(closed).toBe(true);
  });
});
