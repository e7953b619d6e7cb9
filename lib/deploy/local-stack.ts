import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dockerStackNames } from '../../stacks/docker/docker-stacks.js';
import { synthesize } from '../../stacks/synth.js';
import { loadConfig } from '../config/load.js';
import type { VectorstackConfig } from '../config/schema.js';
import { type Credentials, ensureCredentials, readCredentials, secretsAsTfVars } from '../credentials.js';
import { ProblemsError } from '../errors.js';
import { resolveImages } from '../images.js';
import { stateDir } from '../paths.js';
import { buildServiceSpecs } from '../services/specs.js';
import type { ServiceSpec } from '../services/types.js';
import { Progress } from '../util/progress.js';
import { type ContainerState, dockerAnswers, listStackContainers } from './docker-state.js';
import { ensureMilvusRootPassword, waitForMilvusReady } from './milvus.js';
import { buildConnectionInfo, type ConnectionInfo } from './outputs.js';
import { findPortConflicts } from './ports.js';
import { apply, init, plan, type TerraformCli, terraformCli } from './terraform-cli.js';

/** The stack cannot be brought to the requested state; nothing was half-created. */
export class StackError extends ProblemsError {}

export interface StackOptions {
  env?: string;
  cwd?: string;
  environ?: NodeJS.ProcessEnv;
  progress?: Progress;
  /** Used by tests and flags; applied over every other config layer. */
  config?: VectorstackConfig;
}

interface Prepared {
  config: VectorstackConfig;
  specs: ServiceSpec[];
  dir: string;
  outdir: string;
  cli: TerraformCli;
  progress: Progress;
  stacks: { base: string; services: string };
}

async function prepare(options: StackOptions): Promise<Prepared> {
  const progress = options.progress ?? new Progress();
  const environ = options.environ ?? process.env;
  const config = options.config ?? loadConfig({ env: options.env, cwd: options.cwd, environ });
  if (config.target !== 'docker') {
    throw new StackError(
      `environment ${config.environment} targets ${config.target}; use npm run deploy -- --env ${config.environment}`,
    );
  }
  if (!(await dockerAnswers())) {
    throw new StackError('Docker is not running (docker info failed); start it or run: npm run setup');
  }
  const cli = terraformCli(environ);
  const dir = stateDir(config.stateDir, config.environment, options.cwd);
  const specs = buildServiceSpecs(config, resolveImages(config.images));
  return {
    config,
    specs,
    dir,
    outdir: path.join(dir, 'cdktf.out'),
    cli,
    progress,
    stacks: dockerStackNames(config),
  };
}

function stackDir(p: Prepared, stack: string): string {
  return path.join(p.outdir, 'stacks', stack);
}

/** Synthesizes, then plans and applies one stack; returns whether it changed anything. */
async function converge(
  p: Prepared,
  stack: string,
  env: NodeJS.ProcessEnv,
  destroy = false,
): Promise<boolean> {
  const cwd = stackDir(p, stack);
  p.progress.log(`${stack}: ${p.cli.flavour} init`);
  await init(p.cli, cwd);
  const planFile = path.join(cwd, destroy ? 'destroy.tfplan' : 'up.tfplan');
  p.progress.log(`${stack}: plan${destroy ? ' (destroy)' : ''}`);
  const planned = await plan(p.cli, cwd, { env, destroy, planFile });
  if (!planned.changes) {
    p.progress.log(`${stack}: no changes`);
    return false;
  }
  const summary = /Plan: .*/.exec(planned.output)?.[0] ?? 'changes planned';
  p.progress.log(`${stack}: ${summary} — applying (waits for each container's health check)`);
  await p.progress.heartbeat(`${stack}: apply`, apply(p.cli, cwd, { env, planFile }));
  return true;
}

function portField(service: string, port: string): string {
  const fields: Record<string, string> = {
    'postgres.postgres': 'postgres.hostPort',
    'etcd.client': 'etcd.hostPort',
    'minio.s3': 'minio.hostPort',
    'minio.console': 'minio.consoleHostPort',
    'milvus.grpc': 'milvus.hostPort',
    'milvus.metrics': 'milvus.metricsHostPort',
    'redis.redis': 'redis.hostPort',
  };
  return fields[`${service}.${port}`] ?? `${service}.${port}`;
}

export interface UpResult {
  config: VectorstackConfig;
  /** The rendered specs (image tags as configured, not the engine's image ids). */
  specs: ServiceSpec[];
  changed: boolean;
  containers: ContainerState[];
  connection: ConnectionInfo;
  outputsFile: string;
  credentialsFile: string;
  credentials: Credentials;
}

/**
 * Brings the local stack to the configured state: checks ports, generates credentials on first use, synthesizes,
 * applies the base stack (network, volumes) and the services stack, then confirms every container is healthy.
 */
export async function up(options: StackOptions = {}): Promise<UpResult> {
  const p = await prepare(options);
  const before = await listStackContainers(p.config.project, p.config.environment);
  const owned = new Set(before.filter((c) => c.running).flatMap((c) => c.ports));
  const conflicts = await findPortConflicts(p.specs, p.config.docker.bindAddress, owned, portField);
  if (conflicts.length > 0)
    throw new StackError(
      'published ports are taken',
      conflicts.map((c) => c.message),
    );

  const { credentials, created } = ensureCredentials(p.dir);
  if (created.length > 0)
    p.progress.log(
      `generated ${created.length} credential(s) in ${path.join(p.dir, 'credentials.json')} (mode 0600)`,
    );
  p.progress.log(`synthesizing ${p.stacks.base} and ${p.stacks.services}`);
  synthesize({ config: p.config, outdir: p.outdir, cwd: options.cwd });

  const env = secretsAsTfVars(credentials);
  const baseChanged = await converge(p, p.stacks.base, env);
  const servicesChanged = await converge(p, p.stacks.services, env);

  const containers = await listStackContainers(p.config.project, p.config.environment);
  const unhealthy = p.specs
    .filter((s) => !s.job)
    .flatMap((spec) => {
      const c = containers.find((x) => x.service === spec.name);
      if (!c) return [`${spec.name}: no container`];
      return c.health === 'healthy' ? [] : [`${spec.name}: ${c.health}`];
    });
  if (unhealthy.length > 0) throw new StackError('services are not healthy', unhealthy);

  const connection = buildConnectionInfo(p.config, p.specs);
  if (connection.milvus) {
    const outcome = await ensureMilvusRootPassword(connection.milvus, credentials.milvus_root_password);
    if (outcome === 'rotated') {
      p.progress.log('milvus: replaced the default root password with the generated one');
    }
    let reported = false;
    const waited = await waitForMilvusReady(connection.milvus, credentials.milvus_root_password, {
      timeoutMs: p.config.docker.healthTimeoutSeconds * 1000,
      onWait: (reasons) => {
        if (!reported) p.progress.log(`milvus: waiting for all components to report healthy (${reasons})`);
        reported = true;
      },
    });
    if (reported) p.progress.log(`milvus: healthy after ${(waited / 1000).toFixed(1)} s`);
  } else if (p.config.milvus.enabled) {
    p.progress.log(
      'milvus: not published on this host (milvus.hostPort is null); root password left to the server',
    );
  }
  const outputsFile = path.join(p.dir, 'outputs.json');
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  writeFileSync(outputsFile, `${JSON.stringify(connection, null, 2)}\n`);
  return {
    config: p.config,
    changed: baseChanged || servicesChanged,
    containers,
    connection,
    outputsFile,
    credentialsFile: path.join(p.dir, 'credentials.json'),
    credentials,
    specs: p.specs,
  };
}

function requireCredentials(p: Prepared): Credentials {
  const credentials = readCredentials(p.dir);
  if (!credentials)
    throw new StackError(
      `no credentials in ${p.dir}: the ${p.config.environment} stack was never brought up`,
    );
  return credentials;
}

/** Removes the containers; network and data volumes stay, so the next `up` finds the data again. */
export async function down(options: StackOptions = {}): Promise<{ changed: boolean }> {
  const p = await prepare(options);
  const credentials = requireCredentials(p);
  synthesize({ config: p.config, outdir: p.outdir, cwd: options.cwd });
  const changed = await converge(p, p.stacks.services, secretsAsTfVars(credentials), true);
  return { changed };
}

/** Removes containers, network and volumes: all data is lost. The caller asks for explicit consent first. */
export async function destroyAll(options: StackOptions = {}): Promise<{ changed: boolean }> {
  const p = await prepare(options);
  const credentials = readCredentials(p.dir);
  synthesize({ config: p.config, outdir: p.outdir, cwd: options.cwd });
  // Variables are required to plan even a destroy; without the file no services were ever created by this state.
  const env = credentials ? secretsAsTfVars(credentials) : {};
  const servicesChanged = credentials ? await converge(p, p.stacks.services, env, true) : false;
  const baseChanged = await converge(p, p.stacks.base, env, true);
  return { changed: servicesChanged || baseChanged };
}

export async function status(
  options: StackOptions = {},
): Promise<{ config: VectorstackConfig; specs: ServiceSpec[]; containers: ContainerState[] }> {
  const config =
    options.config ?? loadConfig({ env: options.env, cwd: options.cwd, environ: options.environ });
  if (!(await dockerAnswers()))
    throw new StackError('Docker is not running (docker info failed); start it or run: npm run setup');
  const specs = buildServiceSpecs(config, resolveImages(config.images));
  return { config, specs, containers: await listStackContainers(config.project, config.environment) };
}
