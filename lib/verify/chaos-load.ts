// Bookkeeping of the chaos test's mixed load: bounded writer loops that reconnect after a failure, a ledger of which
// writes each store acknowledged (and when), which of them a store's documented durability guarantee covers, and the
// per-kill recovery table. No I/O of its own: the stores are reached through the writers the caller passes in.
import { setTimeout as delay } from 'node:timers/promises';

/** One write as the client saw it: `acked` only when the store answered success before the time-out. */
export interface WriteRecord {
  store: string;
  /** Ids of the rows or keys the write carried (one write may carry a batch). */
  ids: string[];
  startedAt: number;
  endedAt: number;
  acked: boolean;
  /** Why it was not acknowledged (error message, or the time-out). */
  error?: string;
}

/** What a writer loop talks to: connect, write a batch of ids, drop the connection after a failure. */
export interface StoreWriter {
  /** Opens (or reopens) the connection; called before the first write and after every failure. */
  open(): Promise<void>;
  /** Writes every id in one acknowledged operation (a commit, an insert call, a pipeline of SETs). */
  write(ids: string[]): Promise<void>;
  /** Drops the connection; must not throw. */
  close(): Promise<void>;
}

/** A write that neither succeeded nor failed in time: the store may or may not have applied it. */
export class WriteTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  const controller = new AbortController();
  const timeout = delay(ms, undefined, { signal: controller.signal }).then(
    () => {
      throw new WriteTimeoutError(ms);
    },
    () => undefined as never, // aborted: the work settled first
  );
  // The work may still settle after a time-out: its result is ignored, its rejection must not go unhandled.
  work.catch(() => {});
  try {
    return await Promise.race([work, timeout]);
  } finally {
    controller.abort();
  }
}

/** Every write of every loop, in the order the answers came. */
export class AckLedger {
  readonly records: WriteRecord[] = [];

  add(record: WriteRecord): void {
    this.records.push(record);
  }

  /** Ids the store acknowledged, optionally only those acknowledged in [from, to]. */
  acked(store: string, window: { from?: number; to?: number } = {}): string[] {
    const from = window.from ?? Number.NEGATIVE_INFINITY;
    const to = window.to ?? Number.POSITIVE_INFINITY;
    return this.records
      .filter((r) => r.store === store && r.acked && r.endedAt >= from && r.endedAt <= to)
      .flatMap((r) => r.ids);
  }

  /**
   * Writes and ids per outcome, and the distinct errors with how often each occurred; `since` (a length of
   * `records` taken earlier) limits it to the records added after that point.
   */
  summary(
    store: string,
    since = 0,
  ): { acked: number; unacked: number; writes: number; errors: Map<string, number> } {
    const errors = new Map<string, number>();
    let acked = 0;
    let unacked = 0;
    let writes = 0;
    for (const r of this.records.slice(since)) {
      if (r.store !== store) continue;
      writes++;
      if (r.acked) acked += r.ids.length;
      else {
        unacked += r.ids.length;
        const key = normalizeError(r.error ?? 'unknown');
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
    return { acked, unacked, writes, errors };
  }
}

/**
 * The longest time in [from, to] during which the store acknowledged nothing (the edges count: no acknowledgement
 * at all in the period gives to - from). The figure of unavailability a client saw.
 */
export function longestAckGap(ledger: AckLedger, store: string, from: number, to: number): number {
  const times = ledger.records
    .filter((r) => r.store === store && r.acked && r.endedAt >= from && r.endedAt <= to)
    .map((r) => r.endedAt)
    .sort((a, b) => a - b);
  let longest = 0;
  let previous = from;
  for (const t of [...times, to]) {
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return longest;
}

/** Error messages with their varying parts (numbers, addresses) folded, so equal failures count as one. */
export function normalizeError(message: string): string {
  return message
    .split('\n')[0]!
    .replace(/\b\d+(\.\d+)*(:\d+)?(ms)?\b/g, 'N')
    .slice(0, 120);
}

/** A period in which a store's documented guarantee allows acknowledged writes to be lost. */
export interface LossWindow {
  store: string;
  from: number;
  to: number;
  reason: string;
}

/**
 * The ids a store must still hold: every acknowledged id, less those acknowledged inside one of the store's loss
 * windows (those are reported, never asserted either way).
 */
export function requiredIds(
  ledger: AckLedger,
  store: string,
  windows: LossWindow[],
): { required: string[]; exempt: string[] } {
  const mine = windows.filter((w) => w.store === store);
  const required: string[] = [];
  const exempt: string[] = [];
  for (const r of ledger.records) {
    if (r.store !== store || !r.acked) continue;
    const inWindow = mine.some((w) => r.endedAt >= w.from && r.endedAt <= w.to);
    (inWindow ? exempt : required).push(...r.ids);
  }
  return { required, exempt };
}

/** Ids of `expected` not in `found`, in the order of `expected`. */
export function missingIds(expected: Iterable<string>, found: Iterable<string>): string[] {
  const present = new Set(found);
  return [...expected].filter((id) => !present.has(id));
}

/** Splits ids into batches (for `IN (...)` queries, MGET and Milvus `in` filters). */
export function batches<T>(items: T[], size: number): T[][] {
  if (size < 1) throw new Error(`batch size must be at least 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * How long before a kill of the Redis process an acknowledged write may be lost, by `appendfsync` policy (a kill of
 * the process, not of the host: what reached the kernel with write(2) survives in the page cache).
 * - `always`: the AOF is written and fsynced before the reply: nothing.
 * - `everysec`: the AOF buffer is normally written before the reply, but while a background fsync is still running
 *   Redis postpones that write (and replies) for up to 2 s ("Asynchronous AOF fsync is taking too long"): the
 *   documented "one second of writes", two in the worst case. 2 s.
 * - `no`: no documented guarantee: null (nothing is asserted).
 * AOF off: null.
 */
export function redisLossWindowMs(appendonly: string, appendfsync: string): number | null {
  if (appendonly !== 'yes') return null;
  if (appendfsync === 'always') return 0;
  if (appendfsync === 'everysec') return 2000;
  return null;
}

export interface WriterLoopOptions {
  store: string;
  /** Prefix of every id this loop writes (unique per run, so reruns never collide). */
  idPrefix: string;
  /** Ids per write. @default 1 */
  batchSize?: number;
  /** Pause between writes. @default 50 */
  intervalMs?: number;
  /** Pause after a failed write before reconnecting. @default 500 */
  failureBackoffMs?: number;
  /** A write (or a reconnect) that takes longer is given up (recorded as not acknowledged). @default 15000 */
  timeoutMs?: number;
  /** Bound on the writes of one loop, whatever happens. */
  maxWrites: number;
  /** Bound on the loop's running time, whatever happens. */
  maxDurationMs: number;
  /** @default Date.now */
  now?: () => number;
  /** @default timers/promises setTimeout */
  sleep?: (ms: number) => Promise<unknown>;
}

/**
 * One bounded writer: writes batches of fresh ids until stopped, until maxWrites or until maxDurationMs, recording
 * each outcome in the ledger. After a failure it drops the connection and reopens it before the next write.
 */
export class WriterLoop {
  private stopped = false;
  private running: Promise<void> | undefined;
  private seq = 0;
  private writes = 0;

  constructor(
    private readonly writer: StoreWriter,
    private readonly ledger: AckLedger,
    private readonly options: WriterLoopOptions,
  ) {}

  /** Starts the loop (once). */
  start(): this {
    if (this.running) throw new Error(`${this.options.store}: writer loop already started`);
    this.running = this.run();
    return this;
  }

  /** Asks the loop to stop after the write in flight, waits for it, and closes the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /** Resolves when the loop ended by itself (bounds reached) or after stop(). */
  get done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  get writesDone(): number {
    return this.writes;
  }

  private nextIds(): string[] {
    const size = this.options.batchSize ?? 1;
    return Array.from({ length: size }, () => `${this.options.idPrefix}-${this.seq++}`);
  }

  private async run(): Promise<void> {
    const o = this.options;
    const now = o.now ?? Date.now;
    const sleep = o.sleep ?? ((ms: number) => delay(ms));
    const timeoutMs = o.timeoutMs ?? 15_000;
    const started = now();
    let open = false;
    try {
      while (!this.stopped && this.writes < o.maxWrites && now() - started < o.maxDurationMs) {
        const ids = this.nextIds();
        const startedAt = now();
        this.writes++;
        try {
          if (!open) {
            await withTimeout(this.writer.open(), timeoutMs);
            open = true;
          }
          await withTimeout(this.writer.write(ids), timeoutMs);
          this.ledger.add({ store: o.store, ids, startedAt, endedAt: now(), acked: true });
          await sleep(o.intervalMs ?? 50);
        } catch (error) {
          this.ledger.add({
            store: o.store,
            ids,
            startedAt,
            endedAt: now(),
            acked: false,
            error: (error as Error)?.message ?? String(error),
          });
          open = false;
          await this.writer.close().catch(() => {});
          await sleep(o.failureBackoffMs ?? 500);
        }
      }
    } finally {
      await this.writer.close().catch(() => {});
    }
  }
}

/** One kill and its recovery, for the table in docs/security.md. */
export interface KillOutcome {
  service: string;
  /** How the container came back: restarted by the engine's restart policy before `up` ran, or by `up`. */
  cameBack: string;
  /** Wall time of `up` (from its start to its exit 0), the setup check and tsx's start included. */
  upMs: number;
  /** Per store: the longest time in the round (kill to end of `up`) without an acknowledged write. */
  gapsMs: Record<string, number>;
  /** Per store: ids acknowledged before the kill / acknowledged in all so far / found after recovery. */
  stores: { store: string; ackedBeforeKill: number; ackedTotal: number; found: number; exempt: number }[];
  /** Writes per store that were not acknowledged during this round. */
  failedWrites: Record<string, number>;
}

/** A Markdown table of the kills: recovery time of `up` and what each store kept. */
export function formatKillTable(outcomes: KillOutcome[]): string {
  const stores = [...new Set(outcomes.flatMap((o) => o.stores.map((s) => s.store)))];
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const header = [
    'killed',
    'came back by',
    '`up` exit 0 after',
    `longest wait for an ack (${stores.join(' / ')})`,
    ...stores.map((s) => `${s}: acked / found (exempt)`),
    'writes refused in the round',
  ];
  const rows = outcomes.map((o) => [
    o.service,
    o.cameBack,
    seconds(o.upMs),
    stores.map((s) => (o.gapsMs[s] === undefined ? '-' : seconds(o.gapsMs[s]!))).join(' / '),
    ...stores.map((name) => {
      const s = o.stores.find((x) => x.store === name);
      if (!s) return '-';
      return `${s.ackedTotal} / ${s.found}${s.exempt > 0 ? ` (${s.exempt})` : ''}`;
    }),
    Object.entries(o.failedWrites)
      .filter(([, n]) => n > 0)
      .map(([store, n]) => `${store} ${n}`)
      .join(', ') || 'none',
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
