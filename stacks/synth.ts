import path from 'node:path';
import { App } from 'cdktf';
import { type LoadConfigOptions, loadConfig } from '../lib/config/load.js';
import type { VectorstackConfig } from '../lib/config/schema.js';
import { resolveImages } from '../lib/images.js';
import { stateDir } from '../lib/paths.js';
import { buildServiceSpecs } from '../lib/services/specs.js';
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
  options: LoadConfigOptions & { outdir?: string; config?: VectorstackConfig },
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
  } else {
    throw new Error(`target ${config.target}: the Kubernetes stack is not available yet`);
  }
  app.synth();
  return result;
}
