import path from 'node:path';
import { App, type TerraformStack } from 'cdktf';
import { type LoadConfigOptions, loadConfig } from '../lib/config/load.js';
import type { VectorstackConfig } from '../lib/config/schema.js';
import { resolveImages } from '../lib/images.js';
import { stateDir } from '../lib/paths.js';
import { buildServiceSpecs } from '../lib/services/specs.js';
import { readToolchain } from '../lib/setup/toolchain-file.js';
import { buildDockerStacks, type DockerStacks } from './docker/docker-stacks.js';

export interface SynthResult {
  config: VectorstackConfig;
  app: App;
  outdir: string;
  stateDir: string;
  docker?: DockerStacks;
}

/** Loads the configuration and synthesizes the environment's stacks into `outdir` (default: the cdktf.json one). */
export function synthesize(
  options: LoadConfigOptions & {
    outdir?: string;
    config?: VectorstackConfig;
    /** Provider versions to pin (default: those of the local mirror recorded by setup, if any). */
    providerVersions?: Record<string, string>;
  },
): SynthResult {
  const config = options.config ?? loadConfig(options);
  const dir = stateDir(config.stateDir, config.environment, options.cwd);
  const outdir =
    options.outdir ?? process.env.CDKTF_OUTDIR ?? path.resolve(options.cwd ?? process.cwd(), 'cdktf.out');
  const app = new App({ outdir, skipValidation: false });
  const specs = buildServiceSpecs(config, resolveImages(config.images));
  const result: SynthResult = { config, app, outdir, stateDir: dir };
  if (config.target === 'docker') {
    result.docker = buildDockerStacks(app, { config, specs, stateDir: dir });
    const providerVersions = options.providerVersions ?? readToolchain(options.environ).providers ?? {};
    for (const stack of [result.docker.base, result.docker.services])
      pinProviderVersions(stack, providerVersions);
  } else {
    throw new Error(`target ${config.target}: the Kubernetes stack is not available yet`);
  }
  app.synth();
  return result;
}

/**
 * The prebuilt bindings pin the provider version they were generated from; a host whose providers come from the
 * local mirror pins the version it really has, so init resolves and the lock file tells the truth.
 */
export function pinProviderVersions(stack: TerraformStack, versions: Record<string, string>): void {
  for (const [name, version] of Object.entries(versions)) {
    stack.addOverride(`terraform.required_providers.${name}.version`, version);
  }
}
