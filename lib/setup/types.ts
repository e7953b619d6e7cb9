import { VectorstackError } from '../errors.js';
import type { Progress } from '../util/progress.js';

export type StepStatus =
  | 'found'
  | 'built'
  | 'pulled'
  | 'installed'
  | 'started'
  | 'written'
  | 'missing'
  | 'failed'
  | 'skipped';

export interface StepOutcome {
  status: StepStatus;
  /** Where the component comes from: PATH, apt, go proxy, PyPI, registry ... */
  source: string;
  version: string;
  /** What to do about a failure, or a note on a success. */
  detail?: string;
}

export interface StepResult extends StepOutcome {
  component: string;
  seconds: number;
}

export interface SetupContext {
  cacheDir: string;
  repoRoot: string;
  /** Report only: find what is there, build nothing, mark the rest `missing`. */
  checkOnly: boolean;
  /** Components to rebuild even when cached (e.g. `tofu`, `image:postgres`). */
  force: Set<string>;
  /** Build offline images even when the public ones could be pulled. */
  offline: boolean;
  progress: Progress;
  environ: NodeJS.ProcessEnv;
}

/** A setup step cannot do its work here; `remedy` holds the exact steps for the user to take. */
export class SetupError extends VectorstackError {
  constructor(message: string, remedy?: string, problems?: string[]) {
    super(message, { remedy, problems });
  }
}
