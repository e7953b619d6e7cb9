import { minimist } from 'zx';
import { EXIT, UsageError, VectorstackError } from './errors.js';

export { UsageError } from './errors.js';

export interface FlagSpec {
  boolean?: string[];
  string?: string[];
  /**
   * Booleans that are on unless turned off with `--no-<flag>` (minimist makes every other boolean false when absent).
   * @default none
   */
  negatable?: string[];
  /** One line per flag, printed by --help. */
  usage: string;
}

/** Parses flags; an unknown flag is an error rather than silently ignored. */
export function parseFlags(argv: string[], spec: FlagSpec): minimist.ParsedArgs {
  const known = new Set([
    ...(spec.boolean ?? []),
    ...(spec.negatable ?? []),
    ...(spec.string ?? []),
    'help',
    'json',
  ]);
  const unknown = (flag: string) => new UsageError(`unknown flag ${flag}`, { remedy: spec.usage });
  const parsed = minimist(argv, {
    boolean: [...(spec.boolean ?? []), ...(spec.negatable ?? []), 'help', 'json'],
    string: spec.string ?? [],
    default: Object.fromEntries((spec.negatable ?? []).map((flag) => [flag, true])),
    unknown: (arg) => {
      if (arg.startsWith('-')) throw unknown(arg);
      return true;
    },
  });
  for (const key of Object.keys(parsed)) if (key !== '_' && !known.has(key)) throw unknown(`--${key}`);
  return parsed;
}

/**
 * Runs a script's main: prints an error as its message (headline and one problem per line) and its remedy, and sets
 * process.exitCode instead of exiting, so pending output is flushed. The kit's errors carry their exit code; anything
 * else is a failure (1), printed with its stack under VECTORSTACK_DEBUG.
 */
export async function runMain(main: () => Promise<number | undefined>): Promise<void> {
  try {
    const code = await main();
    if (typeof code === 'number') process.exitCode = code;
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    process.stderr.write(`error: ${err.message}\n`);
    if (error instanceof VectorstackError) {
      if (error.remedy) process.stderr.write(`${error.remedy}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.exitCode = EXIT.error;
    }
    if (process.env.VECTORSTACK_DEBUG) process.stderr.write(`${err.stack}\n`);
  }
}
