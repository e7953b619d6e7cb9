import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import type { Credentials } from '../credentials.js';
import { renderTemplate, type ServiceSpec } from '../services/types.js';
import { WaitAbortError, waitFor } from '../util/poll.js';

/**
 * The baseline `npm run bench:up` compares against: the same service specs started with plain `docker run`, in
 * dependency order, each waited for by its health check, as a hand-written script would.
 */
export async function dockerRunBaseline(
  specs: ServiceSpec[],
  credentials: Credentials,
  prefix: string,
  bindAddress: string,
  healthTimeoutMs: number,
): Promise<void> {
  await $({ quiet: true })`docker network create ${prefix}`;
  for (const spec of specs) {
    const render = (t: Parameters<typeof renderTemplate>[0]) =>
      renderTemplate(t, (name) => credentials[name]);
    const args = [
      '--name',
      `${prefix}-${spec.name}`,
      '--network',
      prefix,
      '--network-alias',
      spec.name,
      '--hostname',
      spec.name,
    ];
    for (const [key, value] of Object.entries(spec.env)) args.push('-e', `${key}=${render(value)}`);
    for (const port of spec.ports) {
      if (port.hostPort !== null) args.push('-p', `${bindAddress}:${port.hostPort}:${port.containerPort}`);
    }
    if (spec.sharedMemoryMb) args.push('--shm-size', `${spec.sharedMemoryMb}m`);
    for (const volume of spec.volumes)
      args.push('-v', `${prefix}-${spec.name}-${volume.name}:${volume.containerPath}`);
    for (const file of spec.files) {
      // As a script would: the file on the host, 0644 so the container's user reads it, mounted read-only.
      const host = path.join(
        mkdtempSync(path.join(os.tmpdir(), `${prefix}-`)),
        path.basename(file.containerPath),
      );
      writeFileSync(host, render(file.content), { mode: 0o644 });
      args.push('-v', `${host}:${file.containerPath}:ro`);
    }
    if (spec.entrypoint) args.push('--entrypoint', spec.entrypoint[0]!);
    const command = [...(spec.entrypoint?.slice(1) ?? []), ...(spec.command ?? []).map(render)];
    if (spec.job) {
      await $({ quiet: true })`docker run --rm ${args} ${spec.image} ${command}`;
      continue;
    }
    const hc = spec.healthCheck!;
    args.push(
      '--health-cmd',
      // docker run takes the shell form; an `sh -c SCRIPT` check is its script.
      hc.command[0] === 'sh' && hc.command[1] === '-c' ? hc.command[2]! : hc.command.join(' '),
      '--health-interval',
      `${hc.intervalSeconds}s`,
      '--health-timeout',
      `${hc.timeoutSeconds}s`,
      '--health-retries',
      String(hc.retries),
      '--health-start-period',
      `${hc.startPeriodSeconds}s`,
    );
    await $({ quiet: true })`docker run -d ${args} ${spec.image} ${command}`;
    await waitHealthy(`${prefix}-${spec.name}`, healthTimeoutMs);
  }
}

/** What a hand-written script does: poll `docker inspect` every 250 ms until the health check passes. */
async function waitHealthy(container: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `${container} healthy`,
    async () => {
      const status = (
        await $({ quiet: true })`docker inspect --format ${'{{.State.Health.Status}}'} ${container}`
      ).stdout.trim();
      if (status === 'unhealthy') throw new WaitAbortError(`${container} became unhealthy`);
      return status === 'healthy' || { waiting: status };
    },
    { timeoutMs, intervalMs: 250 },
  );
}

export async function removeBaseline(specs: ServiceSpec[], prefix: string): Promise<void> {
  const containers = specs.map((s) => `${prefix}-${s.name}`);
  await $({ quiet: true, nothrow: true })`docker rm -f ${containers}`;
  const volumes = specs.flatMap((s) => s.volumes.map((v) => `${prefix}-${s.name}-${v.name}`));
  if (volumes.length > 0) await $({ quiet: true, nothrow: true })`docker volume rm ${volumes}`;
  await $({ quiet: true, nothrow: true })`docker network rm ${prefix}`;
}
