import { existsSync } from 'node:fs';
import { $, type ProcessOutput } from 'zx';
import { readToolchain } from '../setup/toolchain-file.js';

export interface TerraformCli {
  binary: string;
  flavour: 'terraform' | 'tofu';
  /** Environment for every CLI call: provider mirror config, no telemetry, no prompts. */
  env: NodeJS.ProcessEnv;
}

export class NotSetUpError extends Error {
  constructor(what: string) {
    super(`${what}; run: npm run setup`);
    this.name = 'NotSetUpError';
  }
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

export async function runTerraform(
  cli: TerraformCli,
  args: string[],
  options: RunOptions,
): Promise<ProcessOutput> {
  return $({
    cwd: options.cwd,
    env: { ...cli.env, ...options.env },
    quiet: !options.verbose,
    nothrow: true,
  })`${cli.binary} ${args}`;
}

/** Fails with the CLI's own last lines of error output, which name the resource and the cause. */
export function assertOk(result: ProcessOutput, what: string): void {
  if (result.exitCode === 0) return;
  const tail = (result.stderr || result.stdout).trim().split('\n').slice(-25).join('\n');
  throw new Error(`${what} failed (exit ${result.exitCode}):\n${tail}`);
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
