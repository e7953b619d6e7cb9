import path from 'node:path';
import { App, TerraformProvider, type TerraformStack } from 'cdktf';
import { type LoadConfigOptions, loadConfig } from '../lib/config/load.js';
import type { VectorstackConfig } from '../lib/config/schema.js';
import { resolveImages } from '../lib/images.js';
import { stateDir } from '../lib/paths.js';
import { buildServiceSpecs } from '../lib/services/specs.js';
import { readToolchain } from '../lib/setup/toolchain-file.js';
import { buildDockerStacks, type DockerStacks } from './docker/docker-stacks.js';
import { buildKubernetesStack, type KubernetesStack } from './kubernetes/kubernetes-stack.js';

export interface SynthResult {
  config: VectorstackConfig;
  app: App;
  outdir: string;
  stateDir: string;
  docker?: DockerStacks;
  kubernetes?: KubernetesStack;
}

/** Loads the configuration and synthesizes the environment's stacks into `outdir` (default: the cdktf.json one). */
export function synthesize(
  options: LoadConfigOptions & {
    outdir?: string;
    config?: VectorstackConfig;
    /** Provider versions to pin (default: those of the local mirror recorded by setup, if any). */
    providerVersions?: Record<string, string>;
    /** Kubernetes: wait for rollouts and jobs during apply (false for an API server without nodes). */
    wait?: boolean;
  },
): SynthResult {
  const config = options.config ?? loadConfig(options);
  const dir = stateDir(config.stateDir, config.environment, options.cwd);
  const outdir =
    options.outdir ?? process.env.CDKTF_OUTDIR ?? path.resolve(options.cwd ?? process.cwd(), 'cdktf.out');
  const app = new App({ outdir, skipValidation: false });
  const result: SynthResult = { config, app, outdir, stateDir: dir };
  const providerVersions = options.providerVersions ?? readToolchain(options.environ).providers ?? {};
  if (config.target === 'docker') {
    const specs = buildServiceSpecs(config, resolveImages(config.images));
    result.docker = buildDockerStacks(app, { config, specs, stateDir: dir });
    for (const stack of [result.docker.base, result.docker.services])
      pinProviderVersions(stack, providerVersions);
  } else {
    // Renders the same specs with in-cluster hostnames; images exclude this host's offline tags (clusterImages).
    result.kubernetes = buildKubernetesStack(app, { config, stateDir: dir, wait: options.wait });
    // Only the providers this stack declares: an entry for another (docker) would make init look for it.
    const used = new Set(
      result.kubernetes.node
        .findAll()
        .filter((c): c is TerraformProvider => c instanceof TerraformProvider)
        .map((p) => p.terraformResourceType),
    );
    pinProviderVersions(
      result.kubernetes,
      Object.fromEntries(Object.entries(providerVersions).filter(([name]) => used.has(name))),
    );
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
