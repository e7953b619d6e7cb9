import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubernetesStackName } from '../../stacks/kubernetes/kubernetes-stack.js';
import { synthesize } from '../../stacks/synth.js';
import { loadConfig } from '../config/load.js';
import type { VectorstackConfig } from '../config/schema.js';
import { stateDir } from '../paths.js';
import { Progress } from '../util/progress.js';
import { apply, init, plan, type TerraformCli, terraformCli } from './terraform-cli.js';

export interface ClusterOptions {
  env?: string;
  cwd?: string;
  environ?: NodeJS.ProcessEnv;
  progress?: Progress;
  /** Applied over every other config layer (tests, flags). */
  config?: VectorstackConfig;
  /** Wait for rollouts and the bucket job; false for an API server without nodes. @default true */
  wait?: boolean;
}

export class ClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterError';
  }
}

export function loadClusterConfig(options: ClusterOptions): VectorstackConfig {
  const environ = options.environ ?? process.env;
  const config = options.config ?? loadConfig({ env: options.env, cwd: options.cwd, environ });
  if (config.target !== 'kubernetes') {
    throw new ClusterError(
      `environment ${config.environment} targets ${config.target}; use npm run up -- --env ${config.environment}`,
    );
  }
  return config;
}

/** The kubeconfig kubectl and the providers use: the configured file, else the first of $KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPath(config: VectorstackConfig, environ: NodeJS.ProcessEnv = process.env): string {
  const first = environ.KUBECONFIG?.split(path.delimiter).find((p) => p !== '');
  return config.kubernetes.kubeconfig ?? first ?? path.join(environ.HOME ?? os.homedir(), '.kube', 'config');
}

export interface DeployResult {
  config: VectorstackConfig;
  stack: string;
  changed: boolean;
  stackDir: string;
}

interface Workdir {
  config: VectorstackConfig;
  stack: string;
  cli: TerraformCli;
  /** The synthesized stack directory, initialized. */
  cwd: string;
  /** The providers read the kubeconfig from here, so the synthesized JSON names no path of this host. */
  env: NodeJS.ProcessEnv;
  progress: Progress;
}

/** Synthesizes the environment's cluster stack into its state directory and runs init there. */
async function prepareWorkdir(options: ClusterOptions): Promise<Workdir> {
  const progress = options.progress ?? new Progress();
  const environ = options.environ ?? process.env;
  const config = loadClusterConfig(options);
  const cli = terraformCli(environ);
  const dir = stateDir(config.stateDir, config.environment, options.cwd);
  const outdir = path.join(dir, 'cdktf.out');
  const stack = kubernetesStackName(config);
  // State sits here and holds the generated credentials: owner-only.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  progress.log(`synthesizing ${stack} (namespace ${config.kubernetes.namespace})`);
  synthesize({ config, outdir, cwd: options.cwd, environ, wait: options.wait });
  const cwd = path.join(outdir, 'stacks', stack);
  const env = { KUBE_CONFIG_PATH: kubeconfigPath(config, environ) };
  progress.log(`${stack}: ${cli.flavour} init`);
  await init(cli, cwd);
  return { config, stack, cli, cwd, env, progress };
}

/** synth → init → plan → apply of the environment's cluster stack, with the CLI setup recorded. */
export async function deployCluster(options: ClusterOptions = {}): Promise<DeployResult> {
  const { config, stack, cli, cwd, env, progress } = await prepareWorkdir(options);
  const planFile = path.join(cwd, 'deploy.tfplan');
  progress.log(`${stack}: plan`);
  const planned = await plan(cli, cwd, { env, planFile });
  if (!planned.changes) {
    progress.log(`${stack}: no changes`);
    return { config, stack, changed: false, stackDir: cwd };
  }
  const summary = /Plan: .*/.exec(planned.output)?.[0] ?? 'changes planned';
  const waits = options.wait === false ? 'no waiting for rollouts' : 'waits for rollouts and the bucket job';
  progress.log(`${stack}: ${summary} — applying (${waits})`);
  await progress.heartbeat(`${stack}: apply`, apply(cli, cwd, { env, planFile }));
  return { config, stack, changed: true, stackDir: cwd };
}

export interface DestroyResult {
  config: VectorstackConfig;
  stack: string;
  /** false when the state held nothing to destroy. */
  changed: boolean;
}

/**
 * synth → init → plan -destroy → apply of the environment's cluster stack: deletes every object it created. When the
 * stack created the namespace, the cluster's namespace controller also removes what the stack never owned in it
 * (the StatefulSets' volume claims, which they retain by design).
 */
export async function destroyCluster(options: ClusterOptions = {}): Promise<DestroyResult> {
  const { config, stack, cli, cwd, env, progress } = await prepareWorkdir(options);
  const planFile = path.join(cwd, 'destroy.tfplan');
  progress.log(`${stack}: plan -destroy`);
  const planned = await plan(cli, cwd, { env, planFile, destroy: true });
  if (!planned.changes) {
    progress.log(`${stack}: nothing to destroy`);
    return { config, stack, changed: false };
  }
  const summary = /Plan: .*/.exec(planned.output)?.[0] ?? 'destroy planned';
  progress.log(`${stack}: ${summary} — destroying`);
  await progress.heartbeat(`${stack}: destroy`, apply(cli, cwd, { env, planFile }));
  return { config, stack, changed: true };
}
