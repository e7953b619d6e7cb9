import net from 'node:net';
import { type RetryOptions, withRetries } from '../clients.js';
import type { RunningStack } from '../stack/running-stack.js';
import type { CheckResult } from './report.js';

/**
 * Records timed checks for one service. A failed `required` check (reachable, authenticated) turns every later check
 * of the service into a skip naming it, so a stopped service yields one clear failure instead of a cascade of
 * time-outs.
 */
export class CheckRunner {
  readonly results: CheckResult[] = [];
  private blockedBy: string | undefined;

  constructor(readonly service: string) {}

  /** Runs `check`; it returns what it found, or throws. Returns whether it passed. */
  async check(
    name: string,
    check: () => Promise<string>,
    options: { required?: boolean } = {},
  ): Promise<boolean> {
    if (this.blockedBy !== undefined) {
      this.skip(name, `not run: ${this.blockedBy} failed`);
      return false;
    }
    const started = performance.now();
    try {
      const message = await check();
      this.results.push({
        service: this.service,
        check: name,
        status: 'pass',
        ms: performance.now() - started,
        message,
      });
      return true;
    } catch (error) {
      const message = (error as Error).message || String(error);
      this.results.push({
        service: this.service,
        check: name,
        status: 'fail',
        ms: performance.now() - started,
        message,
      });
      if (options.required) this.blockedBy = name;
      return false;
    }
  }

  skip(name: string, message: string): void {
    this.results.push({ service: this.service, check: name, status: 'skip', ms: 0, message });
  }

  /** True while no required check has failed. */
  get usable(): boolean {
    return this.blockedBy === undefined;
  }
}

export interface SmokeOptions {
  /** Connection attempts per check before a service counts as unreachable. @default 3 */
  attempts?: number;
}

export type SmokeSuite = (stack: RunningStack, run: CheckRunner, retry: RetryOptions) => Promise<void>;

/** Opens and closes a TCP connection: proves something listens at host:port before any protocol is spoken. */
export function tcpConnect(host: string, port: number, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(Object.assign(new Error(`connect ETIMEDOUT ${host}:${port}`), { code: 'ETIMEDOUT' }));
    });
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

/** The standard first check of a published service. */
export async function checkReachable(
  run: CheckRunner,
  endpoint: { host: string; port: number },
  retry: RetryOptions,
): Promise<boolean> {
  return run.check(
    'reachable',
    async () => {
      await withRetries(
        run.service,
        endpoint.host,
        endpoint.port,
        () => tcpConnect(endpoint.host, endpoint.port),
        retry,
      );
      return `TCP ${endpoint.host}:${endpoint.port} accepts connections`;
    },
    { required: true },
  );
}

/** Runs every suite (one per service, in order) and returns all results. Never throws for a failing service. */
export async function runSmoke(
  stack: RunningStack,
  suites: Record<string, SmokeSuite>,
  options: SmokeOptions = {},
): Promise<CheckResult[]> {
  const retry: RetryOptions = { attempts: options.attempts ?? 3, minTimeoutMs: 200 };
  const results: CheckResult[] = [];
  for (const [service, suite] of Object.entries(suites)) {
    const run = new CheckRunner(service);
    try {
      await suite(stack, run, retry);
    } catch (error) {
      // A suite's own bug or an unexpected throw outside a check still yields a result, not a crash.
      run.results.push({ service, check: 'suite', status: 'fail', ms: 0, message: (error as Error).message });
    }
    results.push(...run.results);
  }
  return results;
}

/** Throws `message` unless `condition` holds: checks read as a list of expectations. */
export function expectThat(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
