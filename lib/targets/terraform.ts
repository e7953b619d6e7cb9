import { chmodSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { $, type ProcessOutput } from 'zx';
import { NotSetUpError, VectorstackError } from '../errors.js';
import { readToolchain } from '../setup/toolchain-file.js';
import type { Progress } from '../util/progress.js';

export interface TerraformCli {
  binary: string;
  flavour: 'terraform' | 'tofu';
  /** Environment for every CLI call: provider mirror config, no telemetry, no prompts. */
  env: NodeJS.ProcessEnv;
}

/** The Terraform-compatible CLI recorded by setup (or $VECTORSTACK_TF_BINARY), with its environment. */
export function terraformCli(environ: NodeJS.ProcessEnv = process.env): TerraformCli {
  const record = readToolchain(environ);
  const override = environ.VECTORSTACK_TF_BINARY;
  const binary = override ?? record.terraform?.binary;
  if (!binary) throw new NotSetUpError('no Terraform-compatible CLI recorded');
  const flavour = override ? (/tofu/.test(override) ? 'tofu' : 'terraform') : record.terraform!.flavour;
  const env: NodeJS.ProcessEnv = {
    ...environ,
    CHECKPOINT_DISABLE: '1',
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
  };
  if (record.cliConfigFile) {
    if (!existsSync(record.cliConfigFile))
      throw new NotSetUpError(`provider mirror config ${record.cliConfigFile} is missing`);
    env.TF_CLI_CONFIG_FILE = record.cliConfigFile;
  } else if (env.TF_CLI_CONFIG_FILE && !existsSync(env.TF_CLI_CONFIG_FILE)) {
    // A dangling TF_CLI_CONFIG_FILE only produces warnings on every call.
    delete env.TF_CLI_CONFIG_FILE;
  }
  return { binary, flavour, env };
}

export interface RunOptions {
  cwd: string;
  /** Extra environment, e.g. TF_VAR_* credentials: never on the command line. */
  env?: NodeJS.ProcessEnv;
  /** Stream output to stderr (progress) instead of capturing quietly. */
  verbose?: boolean;
}

/**
 * Runs the CLI with umask 077: state files hold the credentials (the provider reads them back), so they and their
 * backups are created owner-only; files an older run left readable are tightened afterwards.
 */
export async function runTerraform(
  cli: TerraformCli,
  args: string[],
  options: RunOptions,
): Promise<ProcessOutput> {
  const result = await $({
    cwd: options.cwd,
    env: { ...cli.env, ...options.env },
    quiet: !options.verbose,
    nothrow: true,
  })`sh -c ${'umask 077 && exec "$0" "$@"'} ${cli.binary} ${args}`;
  restrictStateFiles(options.cwd);
  return result;
}

/** Makes every Terraform state file (and backup) in the stack directory and its backend directory owner-only. */
export function restrictStateFiles(dir: string): void {
  const dirs = [dir, path.resolve(dir, '..', '..', '..')];
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d))
      if (/\.tfstate(\.backup|\.\d+\.backup)?$/.test(name) || name.endsWith('.tfplan'))
        chmodSync(path.join(d, name), 0o600);
  }
}

/** The CLI failed; its own last lines of error output name the resource and the cause. */
export class TerraformError extends VectorstackError {}

export function assertOk(result: ProcessOutput, what: string): void {
  if (result.exitCode === 0) return;
  const tail = (result.stderr || result.stdout).trim().split('\n').slice(-25).join('\n');
  throw new TerraformError(`${what} failed (exit ${result.exitCode})`, { problems: [tail] });
}

export async function init(cli: TerraformCli, cwd: string): Promise<void> {
  assertOk(
    await runTerraform(cli, ['init', '-input=false', '-no-color'], { cwd }),
    `${cli.flavour} init in ${cwd}`,
  );
}

/**
 * Plans with -detailed-exitcode: 0 = no changes, 2 = changes. Returns whether anything would change, and saves
 * the plan to `planFile` so apply runs exactly what was planned.
 */
export async function plan(
  cli: TerraformCli,
  cwd: string,
  options: { env?: NodeJS.ProcessEnv; destroy?: boolean; planFile: string },
): Promise<{ changes: boolean; output: string }> {
  const args = ['plan', '-input=false', '-no-color', '-detailed-exitcode', `-out=${options.planFile}`];
  if (options.destroy) args.push('-destroy');
  const result = await runTerraform(cli, args, { cwd, env: options.env });
  if (result.exitCode !== 0 && result.exitCode !== 2) assertOk(result, `${cli.flavour} plan in ${cwd}`);
  return { changes: result.exitCode === 2, output: result.stdout };
}

export async function apply(
  cli: TerraformCli,
  cwd: string,
  options: { env?: NodeJS.ProcessEnv; planFile: string },
): Promise<void> {
  const result = await runTerraform(
    cli,
    ['apply', '-input=false', '-no-color', '-auto-approve', options.planFile],
    {
      cwd,
      env: options.env,
    },
  );
  assertOk(result, `${cli.flavour} apply in ${cwd}`);
}

export interface ConvergeOptions {
  /** Directory of the synthesized stack (cdktf.out/stacks/<name>). */
  stackDir: string;
  /** Name shown in progress lines. */
  label: string;
  /** Extra environment: TF_VAR_* credentials, KUBE_CONFIG_PATH. */
  env?: NodeJS.ProcessEnv;
  /** Plan a destroy instead. @default false */
  destroy?: boolean;
  /** Plan only; apply nothing. @default false */
  planOnly?: boolean;
  /** What apply waits for, for the progress line. */
  waits?: string;
  progress: Progress;
}

export interface ConvergeResult {
  /** Whether the plan had changes (and, unless planOnly, they were applied). */
  changed: boolean;
  /** Terraform's `Plan: N to add, M to change, K to destroy.` line, or `no changes`. */
  summary: string;
}

/**
 * The one converge routine of both targets: init, plan to a file (-detailed-exitcode), print the plan's summary, apply
 * exactly that plan. A stack already in its desired state ends after the plan.
 */
export async function converge(cli: TerraformCli, options: ConvergeOptions): Promise<ConvergeResult> {
  const { stackDir: cwd, label, progress } = options;
  progress.log(`${label}: ${cli.flavour} init`);
  await init(cli, cwd);
  const planFile = path.join(cwd, options.destroy ? 'destroy.tfplan' : 'apply.tfplan');
  progress.log(`${label}: plan${options.destroy ? ' (destroy)' : ''}`);
  const planned = await plan(cli, cwd, { env: options.env, destroy: options.destroy, planFile });
  if (!planned.changes) {
    progress.log(`${label}: no changes`);
    return { changed: false, summary: 'no changes' };
  }
  const summary = /Plan: .*/.exec(planned.output)?.[0] ?? 'changes planned';
  if (options.planOnly) {
    progress.log(`${label}: ${summary}`);
    return { changed: true, summary };
  }
  progress.log(`${label}: ${summary} — applying${options.waits ? ` (${options.waits})` : ''}`);
  await progress.heartbeat(`${label}: apply`, apply(cli, cwd, { env: options.env, planFile }));
  return { changed: true, summary };
}
