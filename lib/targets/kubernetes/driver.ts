import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Credentials } from '../../credentials.js';
import { clientServices, kubernetesStackName, objectName } from '../../deployment/names.js';
import type { Deployment } from '../../deployment/resolve.js';
import { VectorstackError } from '../../errors.js';
import { importClusterImages } from '../../localcluster/index.js';
import { SECRET_NAMES, type ServiceName } from '../../services/types.js';
import { readToolchain } from '../../setup/toolchain-file.js';
import { endpointsAt } from '../../stack/endpoints.js';
import { type ExecInService, execThrough, RunningStack } from '../../stack/running-stack.js';
import { waitFor } from '../../util/poll.js';
import { Progress } from '../../util/progress.js';
import type {
  ApplyOptions,
  ApplyResult,
  ChangeResult,
  OpenOptions,
  TargetDriver,
  WorkloadStatus,
} from '../driver.js';
import { ensureMilvusRootPassword, waitForMilvusReady } from '../milvus-root.js';
import { converge, terraformCli } from '../terraform.js';
import { type ResilientForward, resilientForward } from './forward.js';
import { Kubectl, KubectlError, kubeContext, kubeconfigPath, stopChildren } from './kubectl.js';

const LOOPBACK = '127.0.0.1';
/** Bound on an apply's wait for every workload to be ready (pulling images included). */
const READY_TIMEOUT_MS = 15 * 60_000;

interface K8sList<T> {
  items: T[];
}
export interface StatefulSet {
  metadata: { name: string; generation?: number };
  spec: { replicas?: number };
  status: {
    readyReplicas?: number;
    replicas?: number;
    updatedReplicas?: number;
    observedGeneration?: number;
  };
}
interface Job {
  metadata: { name: string };
  status: { succeeded?: number; failed?: number; active?: number };
}
export interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  status: {
    phase: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: {
      ready: boolean;
      restartCount: number;
      state: {
        waiting?: { reason: string; message?: string };
        terminated?: { reason: string; exitCode: number };
      };
    }[];
  };
}

/**
 * An environment on a Kubernetes cluster: one CDKTF stack (namespace, Secret, workloads, policies) applied with the
 * cluster's kubeconfig; kubectl reads it back (status, Secret, port-forwards to the client Services, exec).
 */
export class KubernetesDriver implements TargetDriver {
  readonly progress: Progress;
  private readonly kubectl: Kubectl;
  private readonly stack: string;

  constructor(
    readonly deployment: Deployment,
    options: { progress?: Progress } = {},
  ) {
    this.progress = options.progress ?? new Progress();
    this.kubectl = new Kubectl(deployment.config, deployment.environ);
    this.stack = kubernetesStackName(deployment.config);
  }

  private get config() {
    return this.deployment.config;
  }

  private async converge(options: {
    wait?: boolean;
    stopped?: boolean;
    destroy?: boolean;
    planOnly?: boolean;
  }) {
    const { stateDir, environ } = this.deployment;
    const cli = terraformCli(environ);
    const outdir = path.join(stateDir, 'cdktf.out');
    // State holds the generated credentials: owner-only.
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.progress.log(`synthesizing ${this.stack} (namespace ${this.config.kubernetes.namespace})`);
    // Loaded on demand: see the Docker driver's synth().
    const { synthesize } = await import('../../../stacks/synth.js');
    synthesize(this.deployment, {
      outdir,
      providerVersions: readToolchain(environ).providers,
      wait: options.wait,
      stopped: options.stopped,
    });
    return converge(cli, {
      stackDir: path.join(outdir, 'stacks', this.stack),
      label: this.stack,
      // The providers read the kubeconfig (and context) from here, so the synthesized JSON names no path of this host.
      env: {
        KUBE_CONFIG_PATH: kubeconfigPath(this.config, environ),
        ...(kubeContext(this.config) ? { KUBE_CTX: kubeContext(this.config)! } : {}),
      },
      destroy: options.destroy,
      planOnly: options.planOnly,
      waits: options.wait === false ? 'no waiting for rollouts' : 'waits for rollouts and the bucket job',
      progress: this.progress,
    });
  }

  async apply(options: ApplyOptions = {}): Promise<ApplyResult> {
    if (this.config.kubernetes.localCluster && !options.planOnly) {
      // The kit's own cluster has no registry: the images setup built on this host are imported into its containerd.
      const tags = [...new Set(this.deployment.specs.map((s) => s.image))];
      const imported = await importClusterImages(tags, {
        environ: this.deployment.environ,
        log: (line) => this.progress.log(line),
      });
      if (imported.imported.length > 0)
        this.progress.log(`local cluster: imported ${imported.imported.length} image(s) into its containerd`);
    }
    const result = await this.converge({ wait: options.wait, planOnly: options.planOnly });
    const wait = options.wait !== false && !options.planOnly;
    const notes: string[] = [];
    if (wait) {
      await this.waitReady();
      notes.push(...(await this.milvusReady()));
    }
    return {
      changed: result.changed,
      summaries: [`${this.stack}: ${result.summary}`],
      workloads: wait ? await this.status() : [],
      access: Object.entries(clientServices(this.config)).map(([service, s]) => ({
        service: service as ServiceName,
        address: `service/${s.service}:${s.port} in namespace ${this.config.kubernetes.namespace}`,
      })),
      credentialsLocation: `Secret ${objectName(this.config.project, 'credentials')} in namespace ${this.config.kubernetes.namespace}`,
      notes: wait ? notes : ['rollouts were not waited for (--no-wait)'],
    };
  }

  /** Bounded wait until every workload reports ready, naming the ones that are not and why. */
  private async waitReady(): Promise<void> {
    let reported = '';
    await waitFor(
      `${this.config.environment}: every workload ready in namespace ${this.config.kubernetes.namespace}`,
      async () => {
        const waiting = (await this.status()).filter((w) => !w.ready).map((w) => `${w.service}: ${w.state}`);
        return waiting.length === 0 || { waiting: waiting.join(', ') };
      },
      {
        timeoutMs: READY_TIMEOUT_MS,
        intervalMs: 2000,
        onWait: (observed) => {
          if (observed !== reported) this.progress.log(`waiting for ${observed}`);
          reported = observed;
        },
      },
    );
  }

  /**
   * Once Milvus's pod is ready: its root password made the generated one (a server that cannot take it from
   * configuration starts with the well-known default), then its own health API asked, through a port-forward.
   */
  private async milvusReady(): Promise<string[]> {
    if (!this.deployment.specs.some((s) => s.name === 'milvus')) return [];
    const stack = await this.open();
    try {
      const endpoint = stack.endpoint('milvus');
      const password = stack.credentials.milvus_root_password;
      const notes: string[] = [];
      if ((await ensureMilvusRootPassword(endpoint, password)) === 'rotated')
        notes.push('milvus: replaced the default root password with the generated one');
      await waitForMilvusReady(endpoint, password, { timeoutMs: READY_TIMEOUT_MS });
      return notes;
    } finally {
      await stack.close();
    }
  }

  async down(): Promise<ChangeResult> {
    const result = await this.converge({ stopped: true });
    // Scaling to zero returns before the pods have stopped; a store is down when its last pod is gone (an `up` right
    // after would otherwise find a terminating Milvus talking to an etcd that is starting again).
    let reported = '';
    await waitFor(
      `${this.config.environment}: every pod stopped in namespace ${this.config.kubernetes.namespace}`,
      async () => {
        const left = (await this.status()).filter(
          (w) => w.kind === 'statefulset' && !w.state.startsWith('stopped'),
        );
        return left.length === 0 || { waiting: left.map((w) => `${w.service}: ${w.state}`).join(', ') };
      },
      {
        timeoutMs: READY_TIMEOUT_MS,
        intervalMs: 2000,
        onWait: (observed) => {
          if (observed !== reported) this.progress.log(`waiting for ${observed}`);
          reported = observed;
        },
      },
    );
    return {
      changed: result.changed,
      summaries: [`${this.stack}: ${result.summary} (workloads scaled to zero, every pod stopped)`],
    };
  }

  async destroy(): Promise<ChangeResult> {
    const result = await this.converge({ destroy: true, wait: false });
    return { changed: result.changed, summaries: [`${this.stack}: ${result.summary}`] };
  }

  /** Each workload's readiness, read from the API server. */
  async status(): Promise<WorkloadStatus[]> {
    const ns = this.config.kubernetes.namespace;
    const namespace = await this.kubectl.getOrNull<object>('namespace', ns);
    const [sets, jobs, pods] = namespace
      ? await Promise.all([
          this.kubectl.json<K8sList<StatefulSet>>(['get', 'statefulsets']),
          this.kubectl.json<K8sList<Job>>(['get', 'jobs']),
          this.kubectl.json<K8sList<Pod>>(['get', 'pods']),
        ])
      : [{ items: [] }, { items: [] }, { items: [] }];
    return this.deployment.specs.map((spec) => {
      const name = objectName(this.config.project, spec.name);
      const podsOf = pods.items.filter(
        (p) =>
          p.metadata.labels?.['app.kubernetes.io/name'] === spec.name &&
          p.metadata.labels?.['app.kubernetes.io/instance'] === this.config.project,
      );
      if (spec.job) {
        const job = jobs.items.find((j) => j.metadata.name === name);
        if (!job)
          return { service: spec.name, kind: 'job', name, image: spec.image, ready: false, state: 'absent' };
        const done = (job.status.succeeded ?? 0) > 0;
        const state = done
          ? 'completed'
          : (job.status.active ?? 0) > 0
            ? `running${podProblem(podsOf)}`
            : `failed (${job.status.failed ?? 0} attempts)${podProblem(podsOf)}`;
        return { service: spec.name, kind: 'job', name, image: spec.image, ready: done, state };
      }
      const set = sets.items.find((s) => s.metadata.name === name);
      if (!set)
        return {
          service: spec.name,
          kind: 'statefulset',
          name,
          image: spec.image,
          ready: false,
          state: 'absent',
        };
      return {
        service: spec.name,
        kind: 'statefulset',
        name,
        image: spec.image,
        ...setReadiness(set, podsOf),
      };
    });
  }

  /** Credentials from the environment's Secret (written by apply). */
  async credentials(): Promise<Credentials> {
    const secret = objectName(this.config.project, 'credentials');
    const found = await this.kubectl.getOrNull<{ data?: Record<string, string> }>('secret', secret);
    if (!found)
      throw new VectorstackError(
        `environment ${this.config.environment} has no Secret ${secret} in namespace ${this.kubectl.namespace}`,
        { remedy: `run: npm run up -- --env ${this.config.environment}` },
      );
    const credentials = {} as Credentials;
    const missing: string[] = [];
    for (const name of SECRET_NAMES) {
      const value = found.data?.[name];
      if (value) credentials[name] = Buffer.from(value, 'base64').toString('utf8');
      else missing.push(name);
    }
    if (missing.length > 0)
      throw new VectorstackError(`Secret ${secret} lacks ${missing.join(', ')}`, {
        remedy: `run: npm run up -- --env ${this.config.environment}`,
      });
    return credentials;
  }

  async open(options: OpenOptions = {}): Promise<RunningStack> {
    const credentials = await this.credentials();
    const forwards: ResilientForward[] = [];
    const close = async () => {
      await Promise.all(forwards.map((f) => f.close()));
    };
    try {
      const ports: Partial<Record<ServiceName, { client: number }>> = {};
      const opened = Object.entries(clientServices(this.config)).map(async ([service, client]) => {
        const forward = await resilientForward({
          start: () => this.kubectl.forward(client.service, client.port, options.timeoutMs ?? 30_000),
        });
        forwards.push(forward);
        ports[service as ServiceName] = { client: forward.localPort };
      });
      const outcomes = await Promise.allSettled(opened);
      const failures = outcomes.flatMap((o) =>
        o.status === 'rejected' ? [(o.reason as Error).message] : [],
      );
      if (failures.length > 0)
        throw new KubectlError(
          `environment ${this.config.environment}: ${failures.length} store(s) cannot be reached`,
          {
            problems: failures,
            remedy: `check: npm run status -- --env ${this.config.environment}`,
          },
        );
      const exec: ExecInService = (service, argv, execOptions = {}) =>
        execThrough(
          [
            this.kubectl.binary,
            ...this.kubectl.baseArgs,
            'exec',
            '-i',
            `${objectName(this.config.project, service)}-0`,
            '-c',
            service,
            '--',
          ],
          service,
          argv,
          execOptions,
        );
      return new RunningStack(this.deployment, endpointsAt(this.config, LOOPBACK, ports), credentials, {
        exec,
        close,
        describe: `kubernetes namespace ${this.config.kubernetes.namespace}, through port-forwards`,
        ownPath: async (store) => {
          const client = clientServices(this.config)[store];
          if (!client) throw new KubectlError(`${store} has no client Service in this environment`);
          const { child, localPort } = await this.kubectl.forward(
            client.service,
            client.port,
            options.timeoutMs ?? 30_000,
          );
          return { port: localPort, close: () => stopChildren([child]) };
        },
      });
    } catch (error) {
      await close();
      throw error;
    }
  }
}

/** Why a workload's pods are not ready, in a few words: a waiting reason, a crash, an unschedulable pod. */
function podProblem(pods: Pod[]): string {
  for (const pod of pods) {
    for (const c of pod.status.containerStatuses ?? []) {
      if (c.state.waiting?.reason && c.state.waiting.reason !== 'ContainerCreating')
        return `: ${pod.metadata.name} ${c.state.waiting.reason}${c.restartCount ? ` (${c.restartCount} restarts)` : ''}`;
      if (c.state.terminated)
        return `: ${pod.metadata.name} exited ${c.state.terminated.exitCode} (${c.state.terminated.reason})`;
    }
    const unscheduled = pod.status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    if (unscheduled)
      return `: ${pod.metadata.name} ${unscheduled.reason}${unscheduled.message ? ` (${unscheduled.message})` : ''}`;
    if (pod.status.phase !== 'Running') return `: ${pod.metadata.name} ${pod.status.phase}`;
  }
  return pods.length === 0 ? ': no pod' : '';
}

/**
 * A StatefulSet is ready when its controller has seen the current spec and every wanted replica is updated and ready,
 * with no pod left over from a previous scale (a terminating pod still counts in status.replicas); stopped when it
 * wants none and has none.
 */
export function setReadiness(set: StatefulSet, pods: Pod[]): { ready: boolean; state: string } {
  const want = set.spec.replicas ?? 1;
  const have = set.status.replicas ?? 0;
  const ready = set.status.readyReplicas ?? 0;
  const updated = set.status.updatedReplicas ?? 0;
  const observed = (set.status.observedGeneration ?? 0) >= (set.metadata.generation ?? 0);
  if (want === 0)
    return have === 0 && pods.length === 0
      ? { ready: false, state: 'stopped (0 replicas)' }
      : { ready: false, state: `stopping (${Math.max(have, pods.length)} pod(s) left)` };
  if (!observed)
    return { ready: false, state: `0/${want} ready: the controller has not seen the new spec yet` };
  if (ready >= want && updated >= want && have === want)
    return { ready: true, state: `${ready}/${want} ready` };
  const detail = have > want ? `: ${have - want} old pod(s) still terminating` : podProblem(pods);
  return { ready: false, state: `${Math.min(ready, updated)}/${want} ready${detail}` };
}
