// Progress of a restore, kept in the target environment's state directory: which steps of which backup set were
// started and finished, on which target instance. A re-run of the same set into the same instance treats what it
// started itself as its own (not as data to refuse), skips what it finished, and redoes what was interrupted. The file
// is removed once a restore has been verified.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeOwnerOnly } from './files.js';

export type StepState = 'started' | 'done';

interface StateFile {
  /** The set's seal: another set, or the same directory rewritten, starts afresh. */
  seal: string;
  /** The target instance (PostgreSQL's system identifier, unique per initdb): a re-created stack starts afresh. */
  target: string;
  steps: Record<string, StepState>;
}

export class RestoreState {
  private readonly file: string;
  private state: StateFile;

  constructor(stateDir: string, seal: string, target: string) {
    this.file = path.join(stateDir, 'restore-state.json');
    let existing: StateFile | null = null;
    if (existsSync(this.file)) {
      try {
        existing = JSON.parse(readFileSync(this.file, 'utf8')) as StateFile;
      } catch {
        existing = null;
      }
    }
    this.state =
      existing?.seal === seal && existing.target === target ? existing : { seal, target, steps: {} };
  }

  /** `postgres`, `redis`, or `milvus:<database>/<collection>`. */
  get(step: string): StepState | undefined {
    return this.state.steps[step];
  }

  /** True when this restore started the step (its leftovers are not someone's data). */
  ours(step: string): boolean {
    return this.state.steps[step] !== undefined;
  }

  set(step: string, value: StepState): void {
    this.state.steps[step] = value;
    writeOwnerOnly(this.file, `${JSON.stringify(this.state, null, 2)}\n`);
  }

  /** The restore was verified: nothing is left to resume. */
  clear(): void {
    rmSync(this.file, { force: true });
  }

  get path(): string {
    return this.file;
  }
}
