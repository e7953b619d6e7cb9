import { type ErrorDetails, EXIT, VectorstackError } from '../errors.js';

export type StoreName = 'postgres' | 'milvus' | 'redis';

/** One change bootstrap makes. `destructive` ones (dropping data) run only with --allow-recreate. */
export interface PlannedAction {
  store: StoreName;
  /** What kind of change, e.g. `apply-migration`, `create-collection`, `set-user`. */
  kind: string;
  /** The object changed: migration file, collection, user, setting. */
  target: string;
  detail: string;
  destructive: boolean;
}

/** A live object that differs from its spec in a way bootstrap will not change on its own. */
export interface Drift {
  store: StoreName;
  target: string;
  field: string;
  expected: string;
  actual: string;
  /** How to resolve it, e.g. "re-run with --allow-recreate (deletes the collection's data)". */
  resolution: string;
}

export interface StorePlan {
  store: StoreName;
  /** Version reported by the server, for capability gates and the report. */
  serverVersion: string;
  actions: PlannedAction[];
  drift: Drift[];
  warnings: string[];
}

/** Runs a plan's actions; kept apart from the plan's data so the plan serializes to stable JSON. */
export interface ExecutablePlan extends StorePlan {
  execute(action: PlannedAction): Promise<void>;
  /** Runs once after this store's actions were applied (when there were any), e.g. to wait until they take effect. */
  settle?(applied: PlannedAction[]): Promise<void>;
}

/** Exit codes: 0 in sync (or applied), 1 failed, 2 drift found that this run did not resolve. */
export const EXIT_OK = EXIT.ok;
export const EXIT_FAILED = EXIT.error;
export const EXIT_DRIFT = EXIT.drift;

/** An error bootstrap expects (bad input, missing capability, edited migration): printed without a stack. */
export class BootstrapError extends VectorstackError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, { exitCode: EXIT_FAILED, ...details });
  }
}
