import path from 'node:path';
import { Network } from '@cdktf/provider-docker/lib/network/index.js';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider/index.js';
import { Volume } from '@cdktf/provider-docker/lib/volume/index.js';
import { LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } from 'cdktf';
import type { Construct } from 'constructs';
import { dockerLabels, dockerNamePrefix, dockerStackNames } from '../../lib/deployment/names.js';
import type { Deployment } from '../../lib/deployment/resolve.js';
import { SECRET_NAMES, type SecretName, type ServiceName } from '../../lib/services/types.js';
import { ensureTls, type TlsMaterial } from '../../lib/tls/pki.js';
import { DockerService, dockerVolumeName } from './docker-service.js';

export interface DockerStackProps {
  /** The resolved deployment: configuration, images, specs, state directory. */
  readonly deployment: Deployment;
  /**
   * The stack's TLS material (tls.enabled): uploaded into each TLS store's container from the state directory (the
   * synthesized JSON and the state name the files, never their content). @default ensureTls(deployment)
   */
  readonly tls?: TlsMaterial | null;
}

/**
 * Network and named volumes: the part of the local stack that outlives `down`. Only `destroy --volumes` removes it.
 */
export class DockerBaseStack extends TerraformStack {
  readonly network: Network;

  constructor(scope: Construct, id: string, props: DockerStackProps) {
    super(scope, id);
    const { config, specs, stateDir } = props.deployment;
    const prefix = dockerNamePrefix(config);
    new LocalBackend(this, { path: path.join(stateDir, `${id}.tfstate`) });
    new DockerProvider(this, 'docker', {});
    const labels = Object.entries(dockerLabels(config)).map(([label, value]) => ({ label, value }));
    this.network = new Network(this, 'network', { name: prefix, driver: 'bridge', labels });
    for (const spec of specs) {
      for (const volume of spec.volumes) {
        new Volume(this, `${spec.name}-${volume.name}`, {
          name: dockerVolumeName(prefix, spec.name, volume.name),
          labels,
        });
      }
    }
  }
}

/** The containers. `down` destroys this stack alone, so data volumes survive. */
export class DockerServicesStack extends TerraformStack {
  readonly services = new Map<ServiceName, DockerService>();

  constructor(scope: Construct, id: string, props: DockerStackProps) {
    super(scope, id);
    const { config, specs, stateDir } = props.deployment;
    const prefix = dockerNamePrefix(config);
    new LocalBackend(this, { path: path.join(stateDir, `${id}.tfstate`) });
    new DockerProvider(this, 'docker', {});

    // Credentials arrive as sensitive variables (TF_VAR_*), so the synthesized JSON never holds one.
    const variables = new Map<SecretName, TerraformVariable>();
    for (const name of SECRET_NAMES) {
      variables.set(
        name,
        new TerraformVariable(this, name, { type: 'string', sensitive: true, nullable: false }),
      );
    }
    const secret = (name: SecretName) => variables.get(name)!.stringValue;
    const tls = props.tls !== undefined ? props.tls : ensureTls(props.deployment);

    for (const spec of specs) {
      const dependsOn = spec.dependsOn.map((dep) => {
        const service = this.services.get(dep);
        if (!service)
          throw new Error(`service ${spec.name} depends on ${dep}, which is not defined before it`);
        return service.container;
      });
      const service = new DockerService(this, spec.name, {
        spec,
        networkName: prefix,
        namePrefix: prefix,
        secret,
        tls,
        bindAddress: config.docker.bindAddress,
        allowNonLoopbackBind: config.docker.publishBeyondLoopback,
        dependsOn,
        healthTimeoutSeconds: config.docker.healthTimeoutSeconds,
        labels: dockerLabels(config),
      });
      this.services.set(spec.name, service);
      if (!spec.job) new TerraformOutput(this, `${spec.name}_container`, { value: service.containerName });
    }
  }
}

export interface DockerStacks {
  base: DockerBaseStack;
  services: DockerServicesStack;
}

export function buildDockerStacks(scope: Construct, props: DockerStackProps): DockerStacks {
  const names = dockerStackNames(props.deployment.config);
  const base = new DockerBaseStack(scope, names.base, props);
  const services = new DockerServicesStack(scope, names.services, props);
  services.addDependency(base);
  return { base, services };
}
