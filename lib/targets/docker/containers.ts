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

/** The stack's containers, found by their labels (lib/deployment/names.ts dockerLabels). */
export async function listStackContainers(labels: Record<string, string>): Promise<ContainerState[]> {
  const filters = Object.entries(labels).flatMap(([key, value]) => ['--filter', `label=${key}=${value}`]);
  const ids = await $({ quiet: true })`docker ps -aq ${filters}`;
  const idList = ids.stdout.split('\n').filter(Boolean);
  if (idList.length === 0) return [];
  const inspected = await $({ quiet: true })`docker inspect ${idList}`;
  const raw = JSON.parse(inspected.stdout) as DockerInspect[];
  return raw.map((c) => ({
    name: c.Name.replace(/^\//, ''),
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

interface DockerInspect {
  Name: string;
  Config: { Image: string; Labels: Record<string, string> };
  State: { Running: boolean; Status: string; ExitCode: number; Health?: { Status: string } };
  HostConfig: { PortBindings?: Record<string, { HostIp: string; HostPort: string }[]> };
}

export async function dockerAnswers(): Promise<boolean> {
  const result = await $({
    quiet: true,
    nothrow: true,
  })`docker info --format ${'{{.ServerVersion}}'}`.timeout('15s');
  return result.exitCode === 0;
}
