import { minimist } from 'zx';
import { ConfigError } from './config/load.js';

export interface FlagSpec {
  boolean?: string[];
  string?: string[];
  /** One line per flag, printed by --help. */
  usage: string;
}

export class UsageError extends Error {}

/** Parses flags; an unknown flag is an error rather than silently ignored. */
export function parseFlags(argv: string[], spec: FlagSpec): minimist.ParsedArgs {
  const known = new Set([...(spec.boolean ?? []), ...(spec.string ?? []), 'help', 'json']);
  const parsed = minimist(argv, {
    boolean: [...(spec.boolean ?? []), 'help', 'json'],
    string: spec.string ?? [],
    unknown: (arg) => {
      if (arg.startsWith('-')) throw new UsageError(`unknown flag ${arg}\n${spec.usage}`);
      return true;
    },
  });
  for (const key of Object.keys(parsed)) {
    if (key !== '_' && !known.has(key)) throw new UsageError(`unknown flag --${key}\n${spec.usage}`);
  }
  return parsed;
}

/**
 * Runs a script's main: prints errors as plain messages (with every listed problem) and sets process.exitCode
 * instead of exiting, so pending output is flushed. `exitCode` on the error picks the code (default 1).
 */
export async function runMain(main: () => Promise<number | undefined>): Promise<void> {
  try {
    const code = await main();
    if (typeof code === 'number') process.exitCode = code;
  } catch (error) {
    const err = error as Error & { problems?: string[]; remedy?: string; exitCode?: number };
    process.stderr.write(`error: ${err.message}\n`);
    // A ConfigError's message already lists its problems.
    const problems = error instanceof ConfigError ? [] : (err.problems ?? []);
    for (const problem of problems) if (problem !== err.message) process.stderr.write(`  - ${problem}\n`);
    if (err.remedy) process.stderr.write(`${err.remedy}\n`);
    if (process.env.VECTORSTACK_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = typeof err.exitCode === 'number' ? err.exitCode : 1;
  }
}
