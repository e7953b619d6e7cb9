import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';

export interface RunOptions {
  /** Text or bytes for stdin. */
  input?: string | Buffer;
  /** Streams this file into stdin (binary-safe, constant memory). */
  stdinFile?: string;
  /** Streams stdout into this file instead of returning it (binary-safe, constant memory). */
  stdoutFile?: string;
  /** Kills the process after this long. @default 30_000 */
  timeoutMs?: number;
}

export interface RunResult {
  exitCode: number | null;
  /** Empty when stdout went to a file. */
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a command with its arguments as an argv (never through a shell), optionally streaming stdin from and stdout to
 * files so dumps of any size pass through without being held in memory. Bounded by `timeoutMs`; never throws for a
 * non-zero exit (the caller decides what it means).
 */
export async function runProcess(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 30_000);
  const out = options.stdoutFile ? createWriteStream(options.stdoutFile, { mode: 0o600 }) : null;
  if (out) child.stdout.pipe(out);
  else child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (options.stdinFile) createReadStream(options.stdinFile).pipe(child.stdin);
  else child.stdin.end(options.input ?? '');
  child.stdin.on('error', () => {}); // a process that exits early closes its stdin
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  }).finally(() => clearTimeout(timer));
  if (out) await finished(out);
  return { exitCode, stdout, stderr, timedOut };
}
