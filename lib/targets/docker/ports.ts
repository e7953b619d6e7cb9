import net from 'node:net';
import type { ServiceSpec } from '../../services/types.js';

export interface PortConflict {
  service: string;
  port: string;
  hostPort: number;
  message: string;
}

/** True when nothing listens on address:port (we can bind it ourselves). */
export function isPortFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Published ports that something other than this stack holds. `ownedPorts` are ports the stack's own containers
 * publish already (a re-run of `up`); those are not conflicts.
 */
export async function findPortConflicts(
  specs: ServiceSpec[],
  bindAddress: string,
  ownedPorts: Set<number>,
): Promise<PortConflict[]> {
  const conflicts: PortConflict[] = [];
  for (const spec of specs) {
    for (const port of spec.ports) {
      if (port.hostPort === null || ownedPorts.has(port.hostPort)) continue;
      if (await isPortFree(bindAddress, port.hostPort)) continue;
      const field = port.hostPortField ?? `${spec.name}.${port.name}`;
      conflicts.push({
        service: spec.name,
        port: port.name,
        hostPort: port.hostPort,
        message: `${bindAddress}:${port.hostPort} (${field}) is already in use by another process; free it or choose another port with ${field} in the config file or ${envVariableFor(field)}`,
      });
    }
  }
  return conflicts;
}

/** postgres.hostPort -> VECTORSTACK_POSTGRES_HOST_PORT: the variable that overrides a config field. */
export function envVariableFor(field: string): string {
  return `VECTORSTACK_${field
    .split('.')
    .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_')}`;
}
