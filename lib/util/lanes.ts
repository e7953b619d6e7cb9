// Runs a few commands side by side ("lanes"), each line of their output prefixed with the lane's name, and reports
// every lane's exit code and time. Used where independent, sequential work (the Docker and the cluster integration
// files) would otherwise wait on each other.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Lane {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export interface LaneResult {
  name: string;
  exitCode: number;
  seconds: number;
}

/**
 * Starts every lane at once and resolves when all have ended (a failing lane does not stop the others: each one's
 * failures are worth reading). A lane killed by a signal counts as exit code 1.
 */
export async function runLanes(
  lanes: Lane[],
  write: (line: string) => void = console.log,
): Promise<LaneResult[]> {
  const width = Math.max(...lanes.map((l) => l.name.length));
  return Promise.all(
    lanes.map(
      (lane) =>
        new Promise<LaneResult>((resolve) => {
          const started = performance.now();
          const child = spawn(lane.command, lane.args, {
            stdio: ['ignore', 'pipe', 'pipe'],
            env: lane.env ?? process.env,
          });
          const prefix = `[${lane.name.padEnd(width)}] `;
          const pipes = [child.stdout, child.stderr].map((stream) => {
            const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
            lines.on('line', (line) => write(prefix + line));
            return new Promise<void>((done) => lines.once('close', () => done()));
          });
          let settled = false;
          const finish = (exitCode: number) => {
            if (settled) return;
            settled = true;
            void Promise.all(pipes).then(() =>
              resolve({
                name: lane.name,
                exitCode,
                seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
              }),
            );
          };
          child.once('error', (error) => {
            write(`${prefix}cannot start ${lane.command}: ${error.message}`);
            finish(1);
          });
          child.once('exit', (code) => finish(code ?? 1));
        }),
    ),
  );
}
