import { describe, expect, it } from 'vitest';
import {
  AckLedger,
  batches,
  formatKillTable,
  longestAckGap,
  missingIds,
  normalizeError,
  redisLossWindowMs,
  requiredIds,
  type StoreWriter,
  WriterLoop,
} from '../../lib/verify/chaos-load.js';

/** A store that fails (or hangs) while `down` says so, and remembers what it acknowledged. */
class FakeStore implements StoreWriter {
  readonly stored: string[] = [];
  opens = 0;
  closes = 0;
  down = false;
  hang = false;

  async open(): Promise<void> {
    this.opens++;
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:25351');
  }

  async write(ids: string[]): Promise<void> {
    if (this.hang) return new Promise(() => {});
    if (this.down) throw new Error('Connection terminated unexpectedly');
    this.stored.push(...ids);
  }

  async close(): Promise<void> {
    this.closes++;
  }
}

const noSleep = async () => {};

describe('WriterLoop', () => {
  it('writes batches of fresh ids up to maxWrites and records each as acknowledged', async () => {
    const store = new FakeStore();
    const ledger = new AckLedger();
    await new WriterLoop(store, ledger, {
      store: 'pg',
      idPrefix: 'run1',
      batchSize: 2,
      maxWrites: 3,
      maxDurationMs: 60_000,
      sleep: noSleep,
    })
      .start()
      .done.then(() => {});
    expect(store.stored).toEqual(['run1-0', 'run1-1', 'run1-2', 'run1-3', 'run1-4', 'run1-5']);
    expect(ledger.acked('pg')).toEqual(store.stored);
    expect(store.opens).toBe(1);
    expect(store.closes).toBe(1); // closed when the loop ends
  });

  it('records failures as not acknowledged, reconnects after each, and resumes when the store is back', async () => {
    const store = new FakeStore();
    const ledger = new AckLedger();
    let writes = 0;
    const loop = new WriterLoop(store, ledger, {
      store: 'redis',
      idPrefix: 'k',
      maxWrites: 6,
      maxDurationMs: 60_000,
      sleep: async () => {
        writes++;
        store.down = writes >= 2 && writes < 4; // down for the 3rd and 4th write
      },
    });
    await loop.start().done;
    expect(ledger.records.map((r) => r.acked)).toEqual([true, true, false, false, true, true]);
    expect(store.stored).toEqual(['k-0', 'k-1', 'k-4', 'k-5']);
    expect(ledger.acked('redis')).toEqual(store.stored);
    // The first failure is the write on the open connection, the second a refused reconnect.
    expect(ledger.records[2]!.error).toBe('Connection terminated unexpectedly');
    expect(ledger.records[3]!.error).toMatch(/ECONNREFUSED/);
    expect(store.opens).toBe(3);
    const summary = ledger.summary('redis');
    expect(summary).toMatchObject({ acked: 4, unacked: 2, writes: 6 });
    expect([...summary.errors.keys()]).toEqual([
      'Connection terminated unexpectedly',
      'connect ECONNREFUSED N',
    ]);
  });

  it('gives up a write that does not answer in time and does not count it as acknowledged', async () => {
    const store = new FakeStore();
    store.hang = true;
    const ledger = new AckLedger();
    await new WriterLoop(store, ledger, {
      store: 'milvus',
      idPrefix: 'm',
      maxWrites: 2,
      maxDurationMs: 60_000,
      timeoutMs: 20,
      sleep: noSleep,
    }).start().done;
    expect(ledger.records.map((r) => [r.acked, r.error])).toEqual([
      [false, 'no answer within 20 ms'],
      [false, 'no answer within 20 ms'],
    ]);
    expect(ledger.acked('milvus')).toEqual([]);
  });

  it('is bounded by its running time and stops on request', async () => {
    const store = new FakeStore();
    const ledger = new AckLedger();
    let clock = 0;
    await new WriterLoop(store, ledger, {
      store: 'pg',
      idPrefix: 'p',
      maxWrites: 1_000_000,
      maxDurationMs: 1000,
      now: () => clock,
      sleep: async () => {
        clock += 100;
      },
    }).start().done;
    expect(store.stored.length).toBe(10);

    const endless = new WriterLoop(new FakeStore(), new AckLedger(), {
      store: 'pg',
      idPrefix: 'q',
      maxWrites: 1_000_000,
      maxDurationMs: 3_600_000,
      intervalMs: 1,
    }).start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await endless.stop();
    const count = endless.writesDone;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(endless.writesDone).toBe(count);
    expect(() => endless.start()).toThrow(/already started/);
  });
});

describe('ledger and guarantees', () => {
  const ledger = new AckLedger();
  ledger.add({ store: 'redis', ids: ['a'], startedAt: 0, endedAt: 100, acked: true });
  ledger.add({ store: 'redis', ids: ['b', 'c'], startedAt: 100, endedAt: 900, acked: true });
  ledger.add({ store: 'redis', ids: ['d'], startedAt: 900, endedAt: 1000, acked: false, error: 'x' });
  ledger.add({ store: 'redis', ids: ['e'], startedAt: 1000, endedAt: 1500, acked: true });
  ledger.add({ store: 'pg', ids: ['p'], startedAt: 0, endedAt: 950, acked: true });

  it('selects acknowledged ids by store and time', () => {
    expect(ledger.acked('redis')).toEqual(['a', 'b', 'c', 'e']);
    expect(ledger.acked('redis', { to: 1000 })).toEqual(['a', 'b', 'c']);
    expect(ledger.acked('redis', { from: 500, to: 1000 })).toEqual(['b', 'c']);
  });

  it("exempts only the store's own loss windows", () => {
    const windows = [{ store: 'redis', from: 800, to: 1000, reason: 'everysec' }];
    expect(requiredIds(ledger, 'redis', windows)).toEqual({ required: ['a', 'e'], exempt: ['b', 'c'] });
    expect(requiredIds(ledger, 'pg', windows)).toEqual({ required: ['p'], exempt: [] });
  });

  it('finds missing ids and batches', () => {
    expect(missingIds(['a', 'b', 'c'], new Set(['b']))).toEqual(['a', 'c']);
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(() => batches([1], 0)).toThrow(/at least 1/);
  });

  it('derives the Redis loss window from its persistence settings', () => {
    expect(redisLossWindowMs('yes', 'always')).toBe(0);
    expect(redisLossWindowMs('yes', 'everysec')).toBe(2000);
    expect(redisLossWindowMs('yes', 'no')).toBeNull();
    expect(redisLossWindowMs('no', 'always')).toBeNull();
  });

  it('folds the varying parts of errors', () => {
    expect(normalizeError('connect ECONNREFUSED 127.0.0.1:25351\nstack')).toBe('connect ECONNREFUSED N');
    expect(normalizeError('UNAVAILABLE (retried 3 times, 153ms)')).toBe('UNAVAILABLE (retried N times, N)');
  });

  it('counts errors since a point and measures the longest period without an acknowledgement', () => {
    expect(ledger.summary('redis', 3)).toMatchObject({ acked: 1, unacked: 0, writes: 1 });
    expect(longestAckGap(ledger, 'redis', 0, 2000)).toBe(800); // 100 -> 900
    expect(longestAckGap(ledger, 'redis', 950, 2000)).toBe(550); // 950 -> 1500
    expect(longestAckGap(ledger, 'redis', 1600, 2000)).toBe(400); // nothing acknowledged in the period
  });
});

describe('formatKillTable', () => {
  it('renders one row per kill with recovery time, counts and refused writes', () => {
    expect(
      formatKillTable([
        {
          service: 'etcd',
          cameBack: 'up',
          upMs: 41_234,
          gapsMs: { postgres: 40, redis: 12_050 },
          stores: [
            { store: 'postgres', ackedBeforeKill: 90, ackedTotal: 100, found: 100, exempt: 0 },
            { store: 'redis', ackedBeforeKill: 90, ackedTotal: 100, found: 99, exempt: 3 },
          ],
          failedWrites: { postgres: 0, redis: 2 },
        },
      ]),
    ).toBe(
      [
        '| killed | came back by | `up` exit 0 after | longest wait for an ack (postgres / redis) | postgres: acked / found (exempt) | redis: acked / found (exempt) | writes refused in the round |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        '| etcd | up | 41.2 s | 0.0 s / 12.1 s | 100 / 100 | 100 / 99 (3) | redis 2 |',
      ].join('\n'),
    );
  });
});
