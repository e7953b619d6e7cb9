import { createHash } from 'node:crypto';
import { Container, type ContainerConfig } from '@cdktf/provider-docker/lib/container/index.js';
import { Image } from '@cdktf/provider-docker/lib/image/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { renderTemplate, type SecretName, type ServiceSpec, tlsFileOf } from '../../lib/services/types.js';
import type { TlsMaterial } from '../../lib/tls/pki.js';

export interface DockerServiceProps {
  /** The service to run, as rendered from the configuration. */
  readonly spec: ServiceSpec;
  /** Docker network the container joins; on it the container answers to the service's name. */
  readonly networkName: string;
  /** Prefix of container and volume names, e.g. `vectorstack-local`. */
  readonly namePrefix: string;
  /** Terraform expression for each generated credential (e.g. a sensitive variable). */
  readonly secret: (name: SecretName) => string;
  /** Address published ports bind to. @default '127.0.0.1' */
  readonly bindAddress?: string;
  /** Allow a non-loopback bind address. @default false */
  readonly allowNonLoopbackBind?: boolean;
  /** Containers that must be healthy (or finished, for jobs) before this one is created. @default [] */
  readonly dependsOn?: ITerraformDependable[];
  /** Seconds Terraform waits for the container to report healthy. @default 300 */
  readonly healthTimeoutSeconds?: number;
  /** Extra labels on the container. @default {} */
  readonly labels?: Record<string, string>;
  /** The stack's TLS material; required when the spec refers to TLS files. @default null */
  readonly tls?: TlsMaterial | null;
}

const LOOPBACK = new Set(['127.0.0.1', '::1']);

/** Seconds as Go prints a time.Duration (90 -> "1m30s"): the provider reads durations back in that form. */
export function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Volume name for a service's volume: shared by the volume's creator (the base stack) and its user. */
export function dockerVolumeName(namePrefix: string, service: string, volume: string): string {
  return `${namePrefix}-${service}-${volume}`;
}

/**
 * One service as a Docker container: pinned image, health check, loopback-only published ports, named volumes,
 * restart policy. Terraform waits for health before creating what depends on it, which orders start-up by health.
 */
export class DockerService extends Construct {
  readonly container: Container;
  readonly containerName: string;

  constructor(scope: Construct, id: string, props: DockerServiceProps) {
    super(scope, id);
    const { spec } = props;
    const bindAddress = props.bindAddress ?? '127.0.0.1';
    if (!LOOPBACK.has(bindAddress) && !props.allowNonLoopbackBind) {
      throw new Error(
        `DockerService ${spec.name}: bindAddress ${bindAddress} is not loopback; set allowNonLoopbackBind: true to publish beyond this host`,
      );
    }
    const healthTimeoutSeconds = props.healthTimeoutSeconds ?? 300;
    if (healthTimeoutSeconds < 10)
      throw new Error(`DockerService ${spec.name}: healthTimeoutSeconds must be at least 10`);
    if (!spec.job && !spec.healthCheck)
      throw new Error(`DockerService ${spec.name}: spec.healthCheck is required for a server`);
    if (!/^[a-z][a-z0-9-]*$/.test(props.namePrefix)) {
      throw new Error(
        `DockerService ${spec.name}: namePrefix "${props.namePrefix}" must match ^[a-z][a-z0-9-]*$`,
      );
    }
    this.containerName = `${props.namePrefix}-${spec.name}`;

    const image = new Image(this, 'image', { name: spec.image, keepLocally: true });
    const render = (template: Parameters<typeof renderTemplate>[0]) => renderTemplate(template, props.secret);

    const config: ContainerConfig = {
      name: this.containerName,
      hostname: spec.name,
      image: image.imageId,
      entrypoint: spec.entrypoint,
      command: spec.command?.map(render),
      env: Object.entries(spec.env).map(([key, value]) => `${key}=${render(value)}`),
      networksAdvanced: [{ name: props.networkName, aliases: [spec.name] }],
      ports: spec.ports
        .filter((port) => port.hostPort !== null)
        .map((port) => ({
          internal: port.containerPort,
          external: port.hostPort!,
          ip: bindAddress,
          protocol: 'tcp',
        })),
      volumes: spec.volumes.map((volume) => ({
        volumeName: dockerVolumeName(props.namePrefix, spec.name, volume.name),
        containerPath: volume.containerPath,
      })),
      upload: spec.files.map((file) => {
        const tls = tlsFileOf(file.content);
        if (!tls) return { file: file.containerPath, content: render(file.content) };
        // TLS files are uploaded from the state directory: neither the JSON nor the state holds a key. Read-only and
        // readable by the server's own (non-root) user, the only one in the container; the servers that check a key's
        // mode (PostgreSQL) start from a 0600 copy of their own (TLS_PRIVATE_DIR).
        const source = tlsSource(props, tls);
        return {
          file: file.containerPath,
          source: source.file,
          sourceHash: createHash('sha256').update(source.content).digest('hex'),
          permissions: '0444',
        };
      }),
      memory: spec.resources.memoryMb,
      shmSize: spec.sharedMemoryMb,
      // No swap: a database that swaps is slower than one that is told it is out of memory.
      memorySwap: spec.resources.memoryMb,
      // Docker reports CPUs back with one decimal; write them the same way or every plan shows a replacement.
      cpus: (spec.resources.cpuMillis / 1000).toFixed(1),
      labels: Object.entries({ ...props.labels, 'vectorstack.service': spec.name }).map(([label, value]) => ({
        label,
        value,
      })),
      dependsOn: props.dependsOn,
      // Without an entrypoint of its own the container runs the image's, which the provider reads back into state.
      lifecycle: spec.entrypoint ? undefined : { ignoreChanges: ['entrypoint'] },
      // Bounded logs: a laptop's disk is not a log store.
      logDriver: 'json-file',
      logOpts: { 'max-size': '10m', 'max-file': '3' },
      ...(spec.job
        ? // A job runs once to completion; Terraform attaches and fails the apply if it exits non-zero.
          { mustRun: false, attach: true, logs: true, restart: 'no' }
        : {
            mustRun: true,
            restart: 'unless-stopped',
            wait: true,
            waitTimeout: healthTimeoutSeconds,
            healthcheck: {
              test: ['CMD', ...spec.healthCheck!.command],
              interval: goDuration(spec.healthCheck!.intervalSeconds),
              timeout: goDuration(spec.healthCheck!.timeoutSeconds),
              retries: spec.healthCheck!.retries,
              startPeriod: goDuration(spec.healthCheck!.startPeriodSeconds),
            },
          }),
    };
    this.container = new Container(this, 'container', config);
    // Readable resource addresses (docker_container.postgres) for plans, state and `-target`.
    this.container.overrideLogicalId(spec.name);
  }
}

/** The host file (and its content, for the change hash) of a spec's TLS file reference. */
function tlsSource(
  props: DockerServiceProps,
  ref: { service: string; part: 'cert' | 'key' | 'ca' },
): { file: string; content: string } {
  const material = props.tls;
  if (!material) throw new Error(`DockerService ${props.spec.name}: TLS files need the stack's TLS material`);
  if (ref.part === 'ca') return { file: material.caFile, content: material.caCert };
  const server = material.servers[ref.service as keyof TlsMaterial['servers']];
  if (!server) throw new Error(`DockerService ${props.spec.name}: no TLS certificate for ${ref.service}`);
  return ref.part === 'cert'
    ? { file: server.certFile, content: server.cert }
    : { file: server.keyFile, content: server.key };
}
