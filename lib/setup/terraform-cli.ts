import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { ensureGoBinary, type GoProgram } from './go-build.js';
import type { ToolchainRecord } from './toolchain-file.js';
import type { SetupContext, StepOutcome } from './types.js';

/** OpenTofu built from the Go module proxy when no Terraform-compatible CLI is on PATH. */
export const OPENTOFU: GoProgram = {
  name: 'tofu',
  moduleDir: 'toolchain/opentofu',
  pkg: 'github.com/opentofu/opentofu/cmd/tofu',
  version: '1.12.6',
  ldflags: '-X github.com/opentofu/opentofu/version.dev=no',
};

export async function cliVersion(binary: string): Promise<string | null> {
  const result = await $({
    quiet: true,
    nothrow: true,
    env: { ...process.env, CHECKPOINT_DISABLE: '1' },
  })`${binary} version -json`;
  if (result.exitCode !== 0) return null;
  try {
    return (JSON.parse(result.stdout) as { terraform_version: string }).terraform_version;
  } catch {
    return null;
  }
}

async function onPath(name: string): Promise<string | null> {
  const result = await $({ quiet: true, nothrow: true })`command -v ${name}`;
  return result.exitCode === 0 ? result.stdout.trim() : null;
}

/** Picks `tofu` or `terraform` from PATH; otherwise builds the pinned OpenTofu. */
export async function ensureTerraformCli(ctx: SetupContext, record: ToolchainRecord): Promise<StepOutcome> {
  if (!ctx.force.has('tofu')) {
    for (const flavour of ['tofu', 'terraform'] as const) {
      const binary = await onPath(flavour);
      const version = binary && (await cliVersion(binary));
      if (binary && version) {
        record.terraform = { binary, flavour, version };
        return { status: 'found', source: `PATH (${binary})`, version };
      }
    }
  }
  const { binary, built } = await ensureGoBinary(ctx, OPENTOFU);
  const version = await cliVersion(binary);
  if (version !== OPENTOFU.version)
    throw new Error(`${binary} reports version ${version}, expected ${OPENTOFU.version}`);
  record.terraform = { binary, flavour: 'tofu', version };
  return { status: built ? 'built' : 'found', source: 'Go module proxy', version };
}

export function writeCliConfig(file: string, mirrorDir: string, hostnames: string[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const include = hostnames.map((h) => `"${h}/*/*"`).join(', ');
  writeFileSync(
    file,
    [
      '# Written by npm run setup: providers come from the local mirror built from the Go module proxy.',
      'provider_installation {',
      '  filesystem_mirror {',
      `    path    = ${JSON.stringify(mirrorDir)}`,
      `    include = [${include}]`,
      '  }',
      '  direct {',
      `    exclude = [${include}]`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
}
