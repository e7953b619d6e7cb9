// The comparison itself, free of I/O: two streams of ids, each in ascending order, walked side by side like the merge
// step of a merge sort. Memory is one page of each stream, whatever their length.
import { ConsistencyError } from './types.js';

/** A chunk as the PostgreSQL side reads it. */
export interface ChunkRow {
  id: string;
  /** embedding_status = 'embedded': a vector is expected in every required collection. */
  embedded: boolean;
}

export type Difference =
  /** An id Milvus holds and PostgreSQL does not. */
  | { kind: 'vectorWithoutChunk'; id: string }
  /** A chunk marked embedded without a vector in the collection. */
  | { kind: 'embeddedWithoutVector'; id: string };

/** What the merge saw, filled in as it goes (complete once the generator is exhausted). */
export interface MergeCounts {
  chunks: number;
  embedded: number;
  vectors: number;
  /** Ids on both sides. */
  matched: number;
  /** Ids on both sides whose chunk is not marked embedded (being embedded, or re-embedding): not an inconsistency. */
  vectorsForUnembedded: number;
}

export const emptyCounts = (): MergeCounts => ({
  chunks: 0,
  embedded: 0,
  vectors: 0,
  matched: 0,
  vectorsForUnembedded: 0,
});

/** A stream was not in strictly ascending order: the merge would report false differences, so it stops. */
export class OutOfOrderError extends ConsistencyError {
  constructor(stream: string, previous: string, current: string) {
    super(
      `${stream}: ids out of order (${JSON.stringify(current)} after ${JSON.stringify(previous)}); the comparison needs each side in ascending order without repeats`,
      {
        remedy:
          'ids must compare the same way in PostgreSQL (uuid order) and Milvus (byte order): canonical lower-case uuids do; token rows need fixed-length chunk ids',
      },
    );
  }
}

/**
 * A page-at-a-time reader over a stream of pages, checking that keys strictly ascend across page boundaries. Reading
 * within a page is synchronous: the merge awaits only at page boundaries, so walking a million ids allocates next to
 * nothing (a promise per id would make the garbage collector promote whole pages, and the heap grow by hundreds of MB).
 */
class Cursor<T> {
  private page: readonly T[] = [];
  private index = 0;
  private last: string | undefined;
  private finished = false;

  constructor(
    private readonly pages: AsyncIterator<readonly T[]>,
    private readonly key: (item: T) => string,
    private readonly name: string,
  ) {}

  /**
   * The current item of the page in hand, or undefined when the page is used up (then call `next`). Throws
   * OutOfOrderError when it does not sort after the previous item, before anyone compares it.
   */
  peek(): T | undefined {
    if (this.index >= this.page.length) return undefined;
    const item = this.page[this.index]!;
    if (this.last !== undefined && !(this.key(item) > this.last))
      throw new OutOfOrderError(this.name, this.last, this.key(item));
    return item;
  }

  /** Reads pages until one has an item, and returns it; undefined at the end of the stream. */
  async next(): Promise<T | undefined> {
    while (this.index >= this.page.length) {
      if (this.finished) return undefined;
      const next = await this.pages.next();
      if (next.done) {
        this.finished = true;
        return undefined;
      }
      this.page = next.value;
      this.index = 0;
    }
    return this.peek();
  }

  /** Moves past the current item (the one peek() returned and checked). */
  advance(item: T): string {
    const id = this.key(item);
    this.last = id;
    this.index++;
    return id;
  }

  async close(): Promise<void> {
    await this.pages.return?.();
  }
}

/**
 * Compares chunk ids (from PostgreSQL) with vector ids (from one Milvus collection), both in ascending order, and
 * yields each difference in id order. `counts` is filled in as the merge goes. An id out of order on either side throws
 * OutOfOrderError when it comes up, rather than producing false differences after it; differences yielded before it
 * rest on the order seen so far, so a caller repairing as it goes confirms each difference first. Ids compare as
 * JavaScript strings (UTF-16 code units): for ASCII ids the byte order Milvus sorts VARCHAR keys by, and for canonical
 * uuids PostgreSQL's uuid order.
 */
export async function* mergeCompare(
  chunks: AsyncIterable<readonly ChunkRow[]>,
  vectors: AsyncIterable<readonly string[]>,
  counts: MergeCounts,
  names: { chunks: string; vectors: string } = { chunks: 'postgres', vectors: 'milvus' },
): AsyncGenerator<Difference> {
  const left = new Cursor(chunks[Symbol.asyncIterator](), (c: ChunkRow) => c.id, names.chunks);
  const right = new Cursor(vectors[Symbol.asyncIterator](), (id: string) => id, names.vectors);
  try {
    let chunk = await left.next();
    let vector = await right.next();
    while (chunk !== undefined || vector !== undefined) {
      if (vector === undefined || (chunk !== undefined && chunk.id < vector)) {
        const c = chunk!;
        left.advance(c);
        count(counts, c);
        if (c.embedded) yield { kind: 'embeddedWithoutVector', id: detach(c.id) };
        chunk = left.peek() ?? (await left.next());
      } else if (chunk === undefined || vector < chunk.id) {
        const id = right.advance(vector);
        counts.vectors++;
        yield { kind: 'vectorWithoutChunk', id: detach(id) };
        vector = right.peek() ?? (await right.next());
      } else {
        left.advance(chunk);
        right.advance(vector);
        count(counts, chunk);
        counts.vectors++;
        counts.matched++;
        if (!chunk.embedded) counts.vectorsForUnembedded++;
        chunk = left.peek() ?? (await left.next());
        vector = right.peek() ?? (await right.next());
      }
    }
  } finally {
    await Promise.all([left.close(), right.close()]);
  }
}

/**
 * A copy of an id that holds no reference to the page it was cut from: ids sliced out of a page's text keep the whole
 * text alive, and a caller collecting differences would otherwise retain every page that had one.
 */
function detach(id: string): string {
  return Buffer.from(id, 'utf8').toString('utf8');
}

function count(counts: MergeCounts, chunk: ChunkRow): void {
  counts.chunks++;
  if (chunk.embedded) counts.embedded++;
}
