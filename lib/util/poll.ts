import { setTimeout as sleep } from 'node:timers/promises';
import { VectorstackError } from '../errors.js';

/** What a probe returns to say "not yet" with a reason (shown by onWait and in the timeout error). */
export interface Waiting {
  waiting: string;
}

export interface WaitOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between probes. @default 500 */
  intervalMs?: number;
  /** Called after each unsuccessful probe with what it observed and the time elapsed (for progress output). */
  onWait?: (lastState: string, elapsedMs: number) => void;
}

/** The wait ran out of time: names what was awaited, the elapsed time and the last observed state. */
export class WaitTimeoutError extends VectorstackError {
  constructor(
    readonly what: string,
    readonly elapsedMs: number,
    readonly lastState: string,
  ) {
    super(`${what}: not done after ${(elapsedMs / 1000).toFixed(1)}s; last observed: ${lastState}`);
  }
}

/** Thrown by a probe to stop waiting at once (the awaited thing can no longer happen, e.g. its process exited). */
export class WaitAbortError extends VectorstackError {}

function isWaiting(value: unknown): value is Waiting {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.keys(value).length === 1 &&
    typeof (value as Waiting).waiting === 'string'
  );
}

/**
 * Polls `probe` until it returns a result, and returns that result. `undefined`, `false` and `{ waiting: reason }`
 * mean "not yet" (the reason is the observed state); a probe that throws also counts as "not yet" with the error's
 * message, unless it throws one of the kit's own errors (WaitAbortError or any VectorstackError: a decided failure,
 * such as a refused request), which ends the wait at once. Bounded: after `timeoutMs` it throws a
 * WaitTimeoutError naming `what`, the elapsed time and the last observed state.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | Waiting | undefined | false>,
  { timeoutMs, intervalMs = 500, onWait }: WaitOptions,
): Promise<T> {
  const started = Date.now();
  let lastState = 'never probed';
  for (;;) {
    try {
      const value = await probe();
      if (isWaiting(value)) lastState = value.waiting;
      else if (value === undefined) lastState = 'not yet';
      else if (value === false) lastState = 'false';
      else return value as T;
    } catch (error) {
      if (error instanceof VectorstackError) throw error;
      lastState = error instanceof Error ? error.message : String(error);
    }
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) throw new WaitTimeoutError(what, elapsed, lastState);
    onWait?.(lastState, elapsed);
    await sleep(Math.min(intervalMs, Math.max(0, timeoutMs - elapsed)));
  }
}
