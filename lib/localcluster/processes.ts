import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../util/poll.js';
import { LocalClusterError } from './errors.js';
import type { ClusterLayout } from './layout.js';

/** A host process of the cluster (containerd, kube-apiserver, kubelet ...): detached, with a pidfile and a log. */
export interface ProcessSpec {
  name: string;
  binary: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function pidFile(layout: ClusterLayout, name: string): string {
  return path.join(layout.pidsDir, `${name}.pid`);
}

export function logFile(layout: ClusterLayout, name: string): string {
  return path.join(layout.logsDir, `${name}.log`);
}

function cmdline(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/** Whether `pid` is alive and still runs `binary` (a pidfile can outlive its process and the pid be reused). */
export function runs(pid: number, binary: string): boolean {
  const argv = cmdline(pid);
  if (!argv || argv.length === 0) return false;
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    if (state === 'Z') return false;
  } catch {
    return false;
  }
  return argv[0] === binary;
}

/** The recorded process's pid when it is alive and still the recorded binary. */
export function runningPid(layout: ClusterLayout, name: string): number | null {
  const file = pidFile(layout, name);
  if (!existsSync(file)) return null;
  const [pidText, binary] = readFileSync(file, 'utf8').split('\n');
  const pid = Number(pidText);
  return Number.isInteger(pid) && pid > 0 && binary && runs(pid, binary) ? pid : null;
}

/** Last lines of a component's log, for error messages. */
export function logTail(layout: ClusterLayout, name: string, lines = 15): string {
  const file = logFile(layout, name);
  if (!existsSync(file)) return `(no log at ${file})`;
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Starts the process detached from this one (own session, stdin closed, output appended to its log), so it keeps
 * running after the CLI exits; records pid and binary in its pidfile. Returns the pid. Does nothing if it runs.
 */
export function startDetached(layout: ClusterLayout, spec: ProcessSpec): { pid: number; started: boolean } {
  const existing = runningPid(layout, spec.name);
  if (existing) return { pid: existing, started: false };
  mkdirSync(layout.logsDir, { recursive: true });
  mkdirSync(layout.pidsDir, { recursive: true });
  const out = openSync(logFile(layout, spec.name), 'a');
  try {
    const child = spawn(spec.binary, spec.args, {
      cwd: spec.cwd ?? layout.stateDir,
      detached: true,
      stdio: ['ignore', out, out],
      env: spec.env ?? { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    if (!child.pid) throw new Error(`${spec.name}: could not start ${spec.binary}`);
    child.unref();
    writeFileSync(pidFile(layout, spec.name), `${child.pid}\n${spec.binary}\n`);
    return { pid: child.pid, started: true };
  } finally {
    closeSync(out);
  }
}

/** SIGTERM, a bounded wait, then SIGKILL. Removes the pidfile. Returns whether a process was running. */
export async function stopProcess(layout: ClusterLayout, name: string, graceMs = 10_000): Promise<boolean> {
  const pid = runningPid(layout, name);
  rmSync(pidFile(layout, name), { force: true });
  if (!pid) return false;
  await killPid(pid, graceMs);
  return true;
}

/** Terminates one process by its id: SIGTERM, wait up to graceMs, then SIGKILL and wait for it to be gone. */
export async function killPid(pid: number, graceMs = 10_000): Promise<void> {
  const gone = () => {
    const argv = cmdline(pid);
    if (!argv) return true;
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z';
    } catch {
      return true;
    }
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (!gone() && Date.now() < deadline) await sleep(200);
  if (gone()) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitFor(`process ${pid} to exit after SIGKILL`, async () => gone() || undefined, {
    timeoutMs: 10_000,
    intervalMs: 100,
  });
}

/** Pids of processes whose command line contains `needle` (to find containerd's shims by their socket address). */
export function pidsWithArgument(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirNumeric('/proc')) {
    const argv = cmdline(entry);
    if (argv?.some((a) => a.includes(needle))) pids.push(entry);
  }
  return pids;
}

function readdirNumeric(dir: string): number[] {
  try {
    return readdirSync(dir)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
  } catch {
    return [];
  }
}

/**
 * Runs `work` holding the cluster's lock file (`<runDir>.lock`, holding the holder's pid): one `up` or `down` at a
 * time. A lock left by a process that is gone is taken over.
 */
export async function withClusterLock<T>(layout: ClusterLayout, work: () => Promise<T>): Promise<T> {
  const lock = `${layout.runDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch {
      const holder = Number(readFileSync(lock, 'utf8').trim());
      if (holder && holder !== process.pid && cmdline(holder))
        throw new LocalClusterError(
          'cluster',
          `another up or down (pid ${holder}) holds ${lock}`,
          `wait for it to finish, or remove ${lock} if that process is not a cluster command`,
        );
      rmSync(lock, { force: true });
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}
