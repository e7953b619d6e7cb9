/** Exit codes every command uses: 0 ok, 1 error, 2 drift or inconsistency found (reported, not fixed). */
export const EXIT = { ok: 0, error: 1, drift: 2 } as const;

export interface ErrorDetails {
  /** Each problem on its own, a full sentence naming the field, host, port or object and what is allowed. */
  problems?: string[];
  /** What the user should do next, e.g. `run: npm run up -- --env staging`. */
  remedy?: string;
  /** Process exit code when this error ends a command. @default EXIT.error */
  exitCode?: number;
  cause?: unknown;
}

/**
 * The one error base of the kit: a headline, the problems behind it, a remedy and an exit code. The message is the
 * headline followed by one problem per line, so `error.message` alone is a complete report; the CLI prints it and the
 * remedy, and exits with `exitCode`.
 */
export class VectorstackError extends Error {
  readonly problems: string[];
  readonly remedy?: string;
  readonly exitCode: number;

  constructor(headline: string, details: ErrorDetails = {}) {
    const problems = details.problems ?? [];
    const listed = problems.filter((p) => p !== headline);
    super(listed.length > 0 ? `${headline}:\n  ${listed.join('\n  ')}` : headline, {
      cause: details.cause,
    });
    this.name = new.target.name;
    this.problems = problems.length > 0 ? problems : [headline];
    this.remedy = details.remedy;
    this.exitCode = details.exitCode ?? EXIT.error;
  }
}

/** A command line the command cannot take (unknown flag, missing value). */
export class UsageError extends VectorstackError {}

/** Something `npm run setup` provides is missing on this host. */
export class NotSetUpError extends VectorstackError {
  constructor(what: string) {
    super(what, { remedy: 'run: npm run setup' });
  }
}
