import type { LoadConfigOptions } from '../config/load.js';
import { type Deployment, loadDeployment } from '../deployment/resolve.js';
import type { RunningStack } from '../stack/running-stack.js';
import type { Progress } from '../util/progress.js';
import { DockerDriver } from './docker/driver.js';
import type { OpenOptions, TargetDriver } from './driver.js';
import { KubernetesDriver } from './kubernetes/driver.js';

/** The driver of a deployment's target: `--env staging` picks the cluster driver, `local` the Docker one. */
export function driverFor(deployment: Deployment, options: { progress?: Progress } = {}): TargetDriver {
  return deployment.target === 'docker'
    ? new DockerDriver(deployment, options)
    : new KubernetesDriver(deployment, options);
}

/** Loads the configuration of `env` and opens its running stack: what every command after `up` starts with. */
export function openStack(
  options: LoadConfigOptions & OpenOptions & { progress?: Progress } = {},
): Promise<RunningStack> {
  return driverFor(loadDeployment(options), options).open(options);
}

export type { TargetDriver } from './driver.js';
