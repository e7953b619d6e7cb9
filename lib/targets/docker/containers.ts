import { $ } from 'zx';

export interface ContainerState {
  name: string;
  service: string;
  running: boolean;
  /** healthy | unhealthy | starting | none (no health check) | exited ... */
  health: string;
  image: string;
  ports: number[];
  /** Exit code of a stopped container (a finished job: 0). */
  exitCode: number | null;
}

/** `docker … ls/ps` filters matching every one of `labels`. */
export function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).flatMap(([key, value]) => ['--filter', `label=${key}=${value}`]);
}

/** A container's name without the leading slash `docker inspect` reports. */
export const containerName = (c: { Name: string }) => c.Name.replace(/^\//, '');

/** `docker inspect` of every container carrying all of `labels` (lib/deployment/names.ts dockerLabels). */
export async function inspectStackContainers(labels: Record<string, string>): Promise<DockerInspect[]> {
  const ids = (await $({ quiet: true })`docker ps -aq ${labelFilters(labels)}`).stdout
    .split('\n')
    .filter(Boolean);
  if (ids.length === 0) return [];
  return JSON.parse((await $({ quiet: true })`docker inspect ${ids}`).stdout) as DockerInspect[];
}

/** The stack's containers, found by their labels. */
export async function listStackContainers(labels: Record<string, string>): Promise<ContainerState[]> {
  return (await inspectStackContainers(labels)).map((c) => ({
    name: containerName(c),
    service: c.Config.Labels['vectorstack.service'] ?? '?',
    running: c.State.Running,
    health: c.State.Running ? (c.State.Health?.Status ?? 'none') : c.State.Status,
    image: c.Config.Image,
    ports: Object.values(c.HostConfig.PortBindings ?? {})
      .flat()
      .map((b) => Number(b.HostPort))
      .filter((p) => p > 0),
    exitCode: c.State.Running ? null : c.State.ExitCode,
  }));
}

/** The fields of `docker inspect` the kit reads. */
export interface DockerInspect {
  Name: string;
  RestartCount: number;
  Config: { Image: string; Labels: Record<string, string> };
  State: {
    Running: boolean;
    Status: string;
    ExitCode: number;
    OOMKilled: boolean;
    Error?: string;
    Health?: { Status: string; FailingStreak: number; Log?: { ExitCode: number; Output: string }[] | null };
  };
  HostConfig: { PortBindings?: Record<string, { HostIp: string; HostPort: string }[]> };
}

export async function dockerAnswers(): Promise<boolean> {
  const result = await $({
    quiet: true,
    nothrow: true,
  })`docker info --format ${'{{.ServerVersion}}'}`.timeout('15s');
  return result.exitCode === 0;
}
