import { existsSync, linkSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PROVIDER_NAMES, PROVIDERS, type ProviderName } from '../providers.js';
import { ensureGoBinary, type GoProgram } from './go-build.js';
import { writeCliConfig } from './terraform-cli.js';
import type { ToolchainRecord } from './toolchain-file.js';
import type { SetupContext, StepOutcome } from './types.js';

/** Hostnames both CLIs resolve provider addresses against; the mirror serves each. */
export const REGISTRY_HOSTNAMES = ['registry.terraform.io', 'registry.opentofu.org'];

/**
 * How each provider is built from the Go module proxy. The proxy serves one version of each provider module, newer
 * than the bindings' version; `version` is that real version, stamped into the binary as upstream's release does.
 */
export const PROVIDER_BUILDS: Record<ProviderName, GoProgram> = {
  docker: {
    name: 'terraform-provider-docker',
    moduleDir: 'toolchain/providers/docker',
    pkg: 'github.com/terraform-providers/terraform-provider-docker',
    version: '4.6.0',
    ldflags: '-X main.version=4.6.0 -X main.commit=96d331c98ff4',
  },
  kubernetes: {
    name: 'terraform-provider-kubernetes',
    moduleDir: 'toolchain/providers/kubernetes',
    pkg: 'github.com/hashicorp/terraform-provider-kubernetes',
    version: '3.2.1',
    ldflags: '-X main.Version=3.2.1',
  },
  helm: {
    name: 'terraform-provider-helm',
    moduleDir: 'toolchain/providers/helm',
    pkg: 'github.com/hashicorp/terraform-provider-helm',
    version: '3.2.0',
    ldflags: '-X main.Version=3.2.0',
  },
  random: {
    name: 'terraform-provider-random',
    moduleDir: 'toolchain/providers/random',
    pkg: 'github.com/terraform-providers/terraform-provider-random',
    version: '3.9.0',
  },
};

/** Whether the public provider registry answers (a bounded probe; no answer means build locally). */
async function registryReachable(): Promise<boolean> {
  try {
    const response = await fetch(`https://${REGISTRY_HOSTNAMES[0]}/.well-known/terraform.json`, {
      signal: AbortSignal.timeout(5000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Providers: from the public registry when it answers; otherwise built from the Go module proxy into an unpacked
 * filesystem mirror, with a CLI config (TF_CLI_CONFIG_FILE) that points both terraform and tofu at it.
 */
export async function ensureProviders(
  ctx: SetupContext,
  record: ToolchainRecord,
  names: ProviderName[] = PROVIDER_NAMES,
): Promise<StepOutcome> {
  const mirrorWanted = ctx.offline || record.cliConfigFile !== undefined || !(await registryReachable());
  if (!mirrorWanted) {
    delete record.cliConfigFile;
    delete record.providers;
    return { status: 'found', source: 'public registry', version: 'binding versions' };
  }
  const mirrorDir = path.join(ctx.cacheDir, 'terraform', 'mirror');
  const versions: Record<string, string> = {};
  let built = 0;
  for (const name of names) {
    const program = PROVIDER_BUILDS[name];
    const { binary, built: fresh } = await ensureGoBinary(ctx, program);
    if (fresh) built++;
    const { namespace, type } = PROVIDERS[name];
    for (const host of REGISTRY_HOSTNAMES) {
      const dir = path.join(mirrorDir, host, namespace, type, program.version, 'linux_amd64');
      const target = path.join(dir, `terraform-provider-${type}_v${program.version}`);
      mkdirSync(dir, { recursive: true });
      // Hard link: the mirror costs no space, and a rebuilt binary replaces the entry atomically enough for a setup run.
      if (existsSync(target)) rmSync(target);
      linkSync(binary, target);
    }
    versions[name] = program.version;
  }
  const cliConfigFile = path.join(ctx.cacheDir, 'terraform', 'cli.tfrc');
  writeCliConfig(cliConfigFile, mirrorDir, REGISTRY_HOSTNAMES);
  record.cliConfigFile = cliConfigFile;
  // Providers built by an earlier run for another target stay recorded.
  record.providers = { ...record.providers, ...versions };
  const summary = names.map((n) => `${n} ${versions[n]}`).join(', ');
  return {
    status: built > 0 ? 'built' : 'found',
    source: 'Go module proxy (local mirror)',
    version: summary,
  };
}
