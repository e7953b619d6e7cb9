import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Credentials, ensureCredentials, readCredentials, secretsAsTfVars } from '../../credentials.js';
import { dockerContainerName, dockerLabels, dockerStackNames } from '../../deployment/names.js';
import type { Deployment } from '../../deployment/resolve.js';
import { VectorstackError } from '../../errors.js';
import type { ServiceName } from '../../services/types.js';
import { readToolchain } from '../../setup/toolchain-file.js';
import { endpointsAt, publishedPorts, withClientTls } from '../../stack/endpoints.js';
import { type ExecInService, execThrough, RunningStack } from '../../stack/running-stack.js';
import { clientCaFile, ensureTls } from '../../tls/pki.js';
import { WaitTimeoutError, waitFor } from '../../util/poll.js';
import { Progress } from '../../util/progress.js';
import type {
  ApplyOptions,
  ApplyResult,
  ChangeResult,
  OpenOptions,
  TargetDriver,
  WorkloadStatus,
} from '../driver.js';
import { ensureMilvusRootPassword, milvusHealthReasons, waitForMilvusReady } from '../milvus-root.js';
import { converge, type TerraformCli, terraformCli } from '../terraform.js';
import { type ContainerState, dockerAnswers, listStackContainers } from './containers.js';
import { diagnoseContainers, servicesTerraformGaveUpOn } from './diagnose.js';
import { findPortConflicts } from './ports.js';
import {
  type DockerObject,
  describeObjects,
  labelledObjects,
  objectsInState,
  removalCommands,
  removeObjects,
  strays,
} from './strays.js';

/** The Docker environment cannot be brought to the requested state; nothing was half-created. */
export class DockerTargetError extends VectorstackError {}

/** The local stack on this host's Docker engine: two CDKTF stacks (base: network and volumes; services: containers). */
export class DockerDriver implements TargetDriver {
  readonly progress: Progress;
  private readonly stacks: { base: string; services: string };

  constructor(
    readonly deployment: Deployment,
    options: { progress?: Progress } = {},
  ) {
    this.progress = options.progress ?? new Progress();
    this.stacks = dockerStackNames(deployment.config);
  }

  private get config() {
    return this.deployment.config;
  }

  private async requireEngine(): Promise<void> {
    if (!(await dockerAnswers()))
      throw new DockerTargetError('Docker is not running (docker info failed)', {
        remedy: 'start it, or run: npm run setup',
      });
  }

  /** Synthesizes both stacks into the state directory; returns the CLI and each stack's directory. */
  private async synth(): Promise<{ cli: TerraformCli; dir: (stack: string) => string }> {
    const cli = terraformCli(this.deployment.environ);
    const outdir = path.join(this.deployment.stateDir, 'cdktf.out');
    mkdirSync(this.deployment.stateDir, { recursive: true, mode: 0o700 });
    // Loaded here, not at start-up: the CDKTF bindings cost every command ~3 s and ~170 MB, and only plan/apply/down
    // need them (docs/benchmarks.md, command start-up).
    const { synthesize } = await import('../../../stacks/synth.js');
    synthesize(this.deployment, {
      outdir,
      providerVersions: readToolchain(this.deployment.environ).providers,
    });
    return { cli, dir: (stack) => path.join(outdir, 'stacks', stack) };
  }

  async apply(options: ApplyOptions = {}): Promise<ApplyResult> {
    await this.requireEngine();
    const { config, specs, stateDir } = this.deployment;
    const before = await this.containers();
    const owned = new Set(before.filter((c) => c.running).flatMap((c) => c.ports));
    const conflicts = await findPortConflicts(specs, config.docker.bindAddress, owned);
    if (conflicts.length > 0)
      throw new DockerTargetError('published ports are taken', { problems: conflicts.map((c) => c.message) });
    await this.refuseStrays();

    const notes: string[] = [];
    const credentialsFile = path.join(stateDir, 'credentials.json');
    let credentials: Credentials;
    if (options.planOnly) credentials = readCredentialsOrPlaceholders(stateDir, config.environment);
    else {
      const ensured = ensureCredentials(stateDir);
      credentials = ensured.credentials;
      if (ensured.created.length > 0)
        this.progress.log(
          `generated ${ensured.created.length} credential(s) in ${credentialsFile} (mode 0600)`,
        );
    }
    // TLS material (tls.enabled): generated once into the state directory, re-issued only when a certificate expires
    // soon, names other hosts or was signed by another CA; the containers get it at creation.
    const tls = ensureTls(this.deployment);
    if (tls && tls.generated.length > 0)
      notes.push(
        `tls: ${tls.generated.map((g) => (g === 'ca' ? 'a private CA' : `${g}'s certificate`)).join(', ')} written to ${tls.dir} (mode 0600); clients trust ${tls.caFile}`,
      );
    this.progress.log(`synthesizing ${this.stacks.base} and ${this.stacks.services}`);
    const { cli, dir } = await this.synth();
    const env = secretsAsTfVars(credentials);
    const results = [];
    for (const stack of [this.stacks.base, this.stacks.services])
      results.push(
        await this.diagnosed(
          converge(cli, {
            stackDir: dir(stack),
            label: stack,
            env,
            planOnly: options.planOnly,
            waits: "waits for each container's health check",
            progress: this.progress,
          }),
          (error) => /failed to be in healthy state/.test(error.message),
        ),
      );
    const result: ApplyResult = {
      changed: results.some((r) => r.changed),
      summaries: results.map((r, i) => `${[this.stacks.base, this.stacks.services][i]}: ${r.summary}`),
      workloads: [],
      access: this.access(),
      credentialsLocation: `${credentialsFile} (mode 0600)`,
      notes,
    };
    if (options.planOnly) return result;

    result.workloads = await this.diagnosed(this.waitReady(), (error) => error instanceof WaitTimeoutError);
    const endpoints = withClientTls(
      endpointsAt(config, config.docker.bindAddress, publishedPorts(specs)),
      clientCaFile(this.deployment),
    );
    if (endpoints.milvus) {
      const outcome = await ensureMilvusRootPassword(endpoints.milvus, credentials.milvus_root_password);
      if (outcome === 'rotated')
        notes.push('milvus: replaced the default root password with the generated one');
      let reported = false;
      const waited = await waitForMilvusReady(endpoints.milvus, credentials.milvus_root_password, {
        timeoutMs: config.docker.healthTimeoutSeconds * 1000,
        onWait: (reasons) => {
          if (!reported)
            this.progress.log(`milvus: waiting for every component to report healthy (${reasons})`);
          reported = true;
        },
      });
      if (reported) this.progress.log(`milvus: healthy after ${(waited / 1000).toFixed(1)} s`);
    } else if (config.milvus.enabled) {
      notes.push(
        'milvus: not published on this host (milvus.hostPort is null); root password left to the server',
      );
    }
    result.outputsFile = path.join(stateDir, 'outputs.json');
    writeFileSync(result.outputsFile, `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });
    return result;
  }

  /**
   * Waits (bounded by docker.healthTimeoutSeconds) until every server's health check passes: after a crash the
   * engine restarts a container that then needs its start period, and its dependants recover after it.
   */
  private async waitReady(): Promise<WorkloadStatus[]> {
    let reported = '';
    return waitFor(
      `${this.config.environment}: every container healthy`,
      async () => {
        // Container health only: Milvus's own health API is asked once its root password is the generated one.
        const workloads = this.containerStatus(await this.containers());
        const waiting = workloads.filter((w) => !w.ready).map((w) => `${w.service}: ${w.state}`);
        if (waiting.length === 0) return workloads;
        return { waiting: waiting.join(', ') };
      },
      {
        timeoutMs: this.config.docker.healthTimeoutSeconds * 1000,
        intervalMs: 1000,
        onWait: (observed) => {
          if (observed !== reported) this.progress.log(`waiting for ${observed}`);
          reported = observed;
        },
      },
    );
  }

  private access() {
    const { config, specs } = this.deployment;
    return specs
      .filter((s) => !s.job)
      .map((spec) => {
        const port = spec.ports[0]?.hostPort;
        return {
          service: spec.name,
          address: port ? `${config.docker.bindAddress}:${port}` : 'private network only',
        };
      });
  }

  async down(): Promise<ChangeResult> {
    await this.requireEngine();
    const credentials = readCredentials(this.deployment.stateDir, this.config.environment);
    const { cli, dir } = await this.synth();
    const result = await converge(cli, {
      stackDir: dir(this.stacks.services),
      label: this.stacks.services,
      env: secretsAsTfVars(credentials),
      destroy: true,
      progress: this.progress,
    });
    return { changed: result.changed, summaries: [`${this.stacks.services}: ${result.summary}`] };
  }

  async destroy(): Promise<ChangeResult> {
    await this.requireEngine();
    let credentials: Credentials | null = null;
    try {
      credentials = readCredentials(this.deployment.stateDir, this.config.environment);
    } catch {
      // Never brought up (or its credentials are gone): no services stack state can exist.
    }
    const { cli, dir } = await this.synth();
    // Variables are required to plan even a destroy; placeholders do for an empty state.
    const env = secretsAsTfVars(credentials ?? readCredentialsOrPlaceholders(null, this.config.environment));
    const summaries: string[] = [];
    let changed = false;
    for (const stack of [this.stacks.services, this.stacks.base]) {
      const result = await converge(cli, {
        stackDir: dir(stack),
        label: stack,
        env,
        destroy: true,
        progress: this.progress,
      });
      changed ||= result.changed;
      summaries.push(`${stack}: ${result.summary}`);
    }
    // What no state records (a run killed before its state was written, a state directory deleted) goes too.
    const left = await this.strays();
    if (left.length > 0) {
      this.progress.log(`removing objects no state records: ${describeObjects(left)}`);
      await removeObjects(left);
      changed = true;
      summaries.push(`not in any state, removed: ${describeObjects(left)}`);
    }
    return { changed, summaries };
  }

  /** Where Terraform keeps each stack's state (stacks/docker/docker-stacks.ts: a local backend in the state dir). */
  private stateFiles(): string[] {
    return [this.stacks.base, this.stacks.services].map((s) =>
      path.join(this.deployment.stateDir, `${s}.tfstate`),
    );
  }

  /** Objects carrying this environment's labels that neither state file records. */
  private async strays(): Promise<DockerObject[]> {
    const known = this.stateFiles().flatMap((f) => objectsInState(f));
    return strays(await labelledObjects(dockerLabels(this.config)), known);
  }

  /**
   * Containers and networks with this environment's names that the state does not record make Terraform's create
   * fail halfway (`network with name ... already exists`); this names them first. Stray volumes are not in the way:
   * Docker hands back an existing volume, so `up` adopts the data in them.
   */
  private async refuseStrays(): Promise<void> {
    const inTheWay = (await this.strays()).filter((o) => o.kind !== 'volume');
    if (inTheWay.length === 0) return;
    const { project, environment } = this.config;
    throw new DockerTargetError(
      `project ${project}, environment ${environment}: Docker objects with this environment's labels are not in its state (${this.deployment.stateDir})`,
      {
        problems: inTheWay.map(
          (o) =>
            `${o.kind} ${o.name} is labelled vectorstack.project=${project}, vectorstack.environment=${environment} but no state file records it`,
        ),
        remedy:
          `if a run whose state directory is gone left them: npm run destroy -- --env ${environment} --volumes --yes ` +
          `(removes them and this environment's volumes), or remove only them to keep the volumes for the next up: ` +
          `${removalCommands(inTheWay)}; if another directory deployed them, run the command there or choose another project name`,
      },
    );
  }

  /**
   * Runs a step that waits for the containers' health checks; when it fails because one never passed, the error says
   * why, from the engine (state, failed checks, restarts, what the check printed, the log's tail).
   */
  private async diagnosed<T>(step: Promise<T>, isHealthWait: (error: Error) => boolean): Promise<T> {
    try {
      return await step;
    } catch (error) {
      if (!(error instanceof Error) || !isHealthWait(error)) throw error;
      const seconds = this.config.docker.healthTimeoutSeconds;
      throw new DockerTargetError(
        `${this.config.environment}: not every container passed its health check within docker.healthTimeoutSeconds (${seconds} s)`,
        {
          problems: await diagnoseContainers(dockerLabels(this.config), {
            services: this.deployment.specs.map((s) => s.name),
            gaveUpOn: servicesTerraformGaveUpOn(error.message),
          }),
          remedy:
            `read the whole log with docker logs NAME; run up again once the cause is fixed (a container that never ` +
            `became healthy is replaced); on a slow or busy host raise docker.healthTimeoutSeconds (now ${seconds})`,
          cause: error,
        },
      );
    }
  }

  private containers(): Promise<ContainerState[]> {
    return listStackContainers(dockerLabels(this.config));
  }

  async status(): Promise<WorkloadStatus[]> {
    await this.requireEngine();
    const containers = await this.containers();
    const workloads = this.containerStatus(containers);
    return this.withMilvusHealth(workloads);
  }

  /**
   * A healthy Milvus container is reported ready only when Milvus's own health API says every component is healthy
   * (its readiness check proves the proxy serves; this proves the coordinators and nodes do too).
   */
  private async withMilvusHealth(workloads: WorkloadStatus[]): Promise<WorkloadStatus[]> {
    const milvus = workloads.find((w) => w.service === 'milvus');
    const port = this.deployment.specs.find((s) => s.name === 'milvus')?.ports[0]?.hostPort;
    if (!milvus?.ready || !port) return workloads;
    let credentials: Credentials;
    try {
      credentials = await this.credentials();
    } catch {
      return workloads;
    }
    const reasons = await milvusHealthReasons(
      withClientTls(
        {
          environment: this.config.environment,
          milvus: { host: this.config.docker.bindAddress, port, user: 'root', metricsPort: null },
        },
        clientCaFile(this.deployment),
      ).milvus!,
      credentials.milvus_root_password,
    );
    if (reasons === null) return workloads;
    return workloads.map((w) =>
      w === milvus ? { ...w, ready: false, state: `not serving: ${reasons}` } : w,
    );
  }

  private containerStatus(containers: ContainerState[]): WorkloadStatus[] {
    return this.deployment.specs.map((spec) => {
      const c = containers.find((x) => x.service === spec.name);
      const name = dockerContainerName(this.config, spec.name);
      if (!c)
        return {
          service: spec.name,
          kind: 'container',
          name,
          image: spec.image,
          ready: false,
          state: 'absent',
        };
      const ready = spec.job ? c.exitCode === 0 : c.running && c.health === 'healthy';
      const state = spec.job
        ? c.running
          ? 'running'
          : c.exitCode === 0
            ? 'completed'
            : `failed (exit ${c.exitCode})`
        : c.health;
      return { service: spec.name, kind: 'container', name: c.name, image: spec.image, ready, state };
    });
  }

  async credentials(): Promise<Credentials> {
    return readCredentials(this.deployment.stateDir, this.config.environment);
  }

  async open(_options: OpenOptions = {}): Promise<RunningStack> {
    await this.requireEngine();
    const { config, specs } = this.deployment;
    const credentials = await this.credentials();
    const containers = await this.containers();
    if (containers.length === 0)
      throw new DockerTargetError(`environment ${config.environment} is not up (no containers)`, {
        remedy: `run: npm run up -- --env ${config.environment}`,
      });
    const exec: ExecInService = (service: ServiceName, argv, options = {}) =>
      execThrough(['docker', 'exec', '-i', dockerContainerName(config, service)], service, argv, options);
    return new RunningStack(
      this.deployment,
      endpointsAt(config, config.docker.bindAddress, publishedPorts(specs)),
      credentials,
      { exec, close: async () => {}, describe: `docker, project ${config.project}` },
    );
  }
}

/** For a plan before the first `up`, or a destroy without state: values Terraform needs but never uses. */
function readCredentialsOrPlaceholders(dir: string | null, environment: string): Credentials {
  if (dir) {
    try {
      return readCredentials(dir, environment);
    } catch {}
  }
  return new Proxy({} as Credentials, { get: () => 'not-yet-generated' });
}
