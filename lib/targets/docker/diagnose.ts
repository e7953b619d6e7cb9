import { $ } from 'zx';
import { containerName, type DockerInspect, inspectStackContainers } from './containers.js';

/** What a diagnosis reads of `docker inspect`. */
export type InspectedContainer = Pick<DockerInspect, 'Name' | 'RestartCount' | 'State'> & {
  Config: Pick<DockerInspect['Config'], 'Labels'>;
};

/** Log lines shown per container: enough for a panic or a refused connection, short enough to read. */
export const LOG_TAIL_LINES = 12;
const MAX_LINE = 300;

const clip = (line: string) => (line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line);

/**
 * One problem line per container that is not ready: its state, failed health checks, restarts, an OOM kill, what its
 * last health check printed and the tail of its log. Containers that are healthy (or finished jobs) are left out.
 */
export function describeUnready(
  container: InspectedContainer,
  logTail: string,
  { gaveUpOn = false } = {},
): string | null {
  const { State: state } = container;
  const name = containerName(container);
  const service = container.Config.Labels['vectorstack.service'] ?? name;
  const health = state.Health;
  if (state.Running && (!health || health.Status === 'healthy')) {
    if (!gaveUpOn) return null;
    // Terraform stopped waiting on it, and it passed since: the wait was shorter than its start-up.
    return `${service} (${name}): healthy now, but not within the wait (restarted ${container.RestartCount} time(s))`;
  }
  if (!state.Running && state.ExitCode === 0 && !health) return null; // a finished job
  const facts = [
    state.Running
      ? `${health!.Status}${health!.FailingStreak > 0 ? ` after ${health!.FailingStreak} failed check(s) in a row` : ''}`
      : `${state.Status} (exit ${state.ExitCode})`,
    `restarted ${container.RestartCount} time(s)`,
  ];
  if (state.OOMKilled) facts.push('killed for lack of memory (OOM)');
  if (state.Error) facts.push(`engine error: ${state.Error}`);
  const lastCheck = health?.Log?.at(-1);
  if (lastCheck && lastCheck.ExitCode !== 0) {
    const said = lastCheck.Output.trim().split('\n').filter(Boolean).map(clip).join(' / ');
    facts.push(`last health check exit ${lastCheck.ExitCode}${said ? `: ${said}` : ' and printed nothing'}`);
  }
  const lines = logTail.trimEnd().split('\n').filter(Boolean).slice(-LOG_TAIL_LINES).map(clip);
  const log =
    lines.length > 0 ? `\n    last log lines:\n      ${lines.join('\n      ')}` : '\n    its log is empty';
  return `${service} (${name}): ${facts.join('; ')}${log}`;
}

/** The services whose containers Terraform reports it gave up waiting on (`with docker_container.NAME`). */
export function servicesTerraformGaveUpOn(terraformOutput: string): string[] {
  return [...new Set([...terraformOutput.matchAll(/with docker_container\.([\w-]+)/g)].map((m) => m[1]!))];
}

/**
 * Why the stack's containers are not ready, read from the engine: for a failed health wait, so the error says what the
 * servers said instead of only "failed to be in healthy state". Never throws: a diagnosis that cannot be made is
 * reported as such.
 */
export async function diagnoseContainers(
  labels: Record<string, string>,
  { services = [], gaveUpOn = [] }: { services?: string[]; gaveUpOn?: string[] } = {},
): Promise<string[]> {
  try {
    const inspected = await inspectStackContainers(labels);
    if (inspected.length === 0) return ['no container of this environment exists'];
    const found: string[] = [];
    for (const container of inspected) {
      const logs = await $({
        quiet: true,
        nothrow: true,
      })`docker logs --tail ${LOG_TAIL_LINES} ${containerName(container)}`;
      const service = container.Config.Labels['vectorstack.service'] ?? '';
      const described = describeUnready(container, `${logs.stdout}${logs.stderr}`, {
        gaveUpOn: gaveUpOn.includes(service),
      });
      if (described) found.push(described);
    }
    const present = new Set(inspected.map((c) => c.Config.Labels['vectorstack.service']));
    const absent = services.filter((s) => !present.has(s));
    if (absent.length > 0) found.push(`not created (the apply stopped before them): ${absent.join(', ')}`);
    return found;
  } catch (error) {
    return [`could not read the containers' state: ${(error as Error).message.split('\n')[0]}`];
  }
}
