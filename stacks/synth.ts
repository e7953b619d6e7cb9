import { App, TerraformProvider, type TerraformStack } from 'cdktf';
import type { Deployment } from '../lib/deployment/resolve.js';
import { buildDockerStacks, type DockerStacks } from './docker/docker-stacks.js';
import { buildKubernetesStack, type KubernetesStack } from './kubernetes/kubernetes-stack.js';

export interface SynthOptions {
  /** Directory the Terraform JSON is written to. */
  outdir: string;
  /** Provider versions to pin: those of the local mirror setup built, if any. @default {} (the bindings' versions) */
  providerVersions?: Record<string, string>;
  /** Kubernetes: wait for rollouts and jobs during apply (false for an API server without nodes). @default true */
  wait?: boolean;
  /** Kubernetes: render the workloads scaled to zero (`down`). @default false */
  stopped?: boolean;
}

export interface SynthResult {
  app: App;
  outdir: string;
  /** Stack names in apply order. */
  stacks: string[];
  docker?: DockerStacks;
  kubernetes?: KubernetesStack;
}

/** Renders a resolved deployment as its target's CDKTF stacks and writes their JSON to `outdir`. */
export function synthesize(deployment: Deployment, options: SynthOptions): SynthResult {
  const app = new App({ outdir: options.outdir, skipValidation: false });
  const versions = options.providerVersions ?? {};
  const result: SynthResult = { app, outdir: options.outdir, stacks: [] };
  if (deployment.target === 'docker') {
    result.docker = buildDockerStacks(app, { deployment });
    for (const stack of [result.docker.base, result.docker.services]) pinProviderVersions(stack, versions);
  } else {
    result.kubernetes = buildKubernetesStack(app, {
      deployment,
      wait: options.wait,
      stopped: options.stopped,
    });
    pinProviderVersions(result.kubernetes, versions);
  }
  result.stacks = app.node.children.map((c) => c.node.id);
  app.synth();
  return result;
}

/**
 * The prebuilt bindings pin the provider version they were generated from; a host whose providers come from the
 * local mirror pins the version it really has, so init resolves and the lock file tells the truth. Only providers the
 * stack declares are pinned: an entry for another would make init look for it.
 */
export function pinProviderVersions(stack: TerraformStack, versions: Record<string, string>): void {
  const used = new Set(
    stack.node
      .findAll()
      .filter((c): c is TerraformProvider => c instanceof TerraformProvider)
      .map((p) => p.terraformResourceType),
  );
  for (const [name, version] of Object.entries(versions)) {
    if (used.has(name)) stack.addOverride(`terraform.required_providers.${name}.version`, version);
  }
}
