import type { Credentials } from '../credentials.js';
import type { Deployment } from '../deployment/resolve.js';
import type { ServiceName } from '../services/types.js';
import type { RunningStack } from '../stack/running-stack.js';
import type { Progress } from '../util/progress.js';

/** One workload of a running environment, as its orchestrator reports it. */
export interface WorkloadStatus {
  service: ServiceName;
  /** container, statefulset or job */
  kind: 'container' | 'statefulset' | 'job';
  /** The container's or the workload's name. */
  name: string;
  /** The configured image (not the engine's image id). */
  image: string;
  /** Ready to serve (servers) or completed (jobs). */
  ready: boolean;
  /** What the orchestrator says, e.g. `healthy`, `starting`, `1/1 ready`, `0/1 ready: CrashLoopBackOff`, `absent`. */
  state: string;
}

/** Where a user reaches a store after `up`, in words fit for a table. */
export interface AccessPoint {
  service: ServiceName;
  /** `127.0.0.1:15432`, or `service/vectorstack-postgres:5432 in namespace x (port-forward)`. */
  address: string;
}

export interface ApplyOptions {
  /** Plan only: report what would change, change nothing. @default false */
  planOnly?: boolean;
  /** Kubernetes: wait for rollouts and the bucket job (false for an API server without nodes). @default true */
  wait?: boolean;
}

export interface ApplyResult {
  changed: boolean;
  /** One line per stack: Terraform's plan summary or `no changes`. */
  summaries: string[];
  /** Readiness after the apply (empty for a plan or when not waiting). */
  workloads: WorkloadStatus[];
  access: AccessPoint[];
  /** Where the credentials live: a 0600 file or a Secret. */
  credentialsLocation: string;
  /** Docker: connection details written for other tools (no secrets). */
  outputsFile?: string;
  /** Lines worth telling the user (a rotated password, a skipped wait). */
  notes: string[];
}

export interface ChangeResult {
  changed: boolean;
  summaries: string[];
}

export interface OpenOptions {
  /** Bound on reaching the stores (port-forwards, container lookup). @default 30_000 */
  timeoutMs?: number;
}

/**
 * What every command needs from a target, whatever it is: converge the environment, stop it keeping its data, remove
 * it, report its workloads, and open one handle on the running stores.
 */
export interface TargetDriver {
  readonly deployment: Deployment;
  readonly progress: Progress;
  /** Brings the environment to its configured state and waits (bounded) until every service is ready. */
  apply(options?: ApplyOptions): Promise<ApplyResult>;
  /** Stops the services and keeps every byte of data (Docker: containers removed; Kubernetes: scaled to zero). */
  down(): Promise<ChangeResult>;
  /** Removes everything the environment created, data included. The command asks for consent first. */
  destroy(): Promise<ChangeResult>;
  status(): Promise<WorkloadStatus[]>;
  /** The credentials `apply` created (a 0600 file, or the cluster Secret); creates none. */
  credentials(): Promise<Credentials>;
  /** One handle on the running stores: endpoints, credentials, clients, close(). */
  open(options?: OpenOptions): Promise<RunningStack>;
}
