import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WaitAbortError, waitFor } from '../util/poll.js';
import type { Progress } from '../util/progress.js';
import { TransferError } from './model.js';

/** A Chroma server installation: a venv holding one chromadb version (lib/setup/chroma.ts installs it). */
export interface ChromaInstallation {
  version: string;
  venv: string;
  /** How that version starts a server: 0.4.x runs its ASGI app under uvicorn, 1.x has `chroma run`. */
  server: 'uvicorn' | 'chroma-run';
}

/** Host ports this kit uses for the servers it starts (loopback only). */
export const CHROMA_PORT_RANGE = { first: 25800, last: 25899 } as const;

export interface StartChromaOptions {
  /** Persist directory the server serves (it writes to it: pass a copy, see chroma-dir.ts). */
  dataDir: string;
  /** @default the first free port in CHROMA_PORT_RANGE */
  port?: number;
  /** Give up waiting for the heartbeat after this long. @default 180000 */
  startTimeoutMs?: number;
  progress?: Progress;
  /** Also removed when the server stops, and by the watchdog when this process dies. */
  removeOnStop?: string[];
}

export interface ChromaServer {
  url: string;
  version: string;
  port: number;
  logFile: string;
  stop(): Promise<void>;
}

export class ChromaServerError extends TransferError {}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The first port of the range nobody listens on (from a random start, so parallel runs rarely race). */
export async function freePort(range: { first: number; last: number } = CHROMA_PORT_RANGE): Promise<number> {
  const size = range.last - range.first + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = range.first + ((start + i) % size);
    if (await canListen(port)) return port;
  }
  throw new ChromaServerError(
    `no free port in ${range.first}-${range.last} on 127.0.0.1 for a Chroma server`,
  );
}

function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no log)';
  const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
  return readFileSync(file, 'utf8').replace(ansi, '').trim().split('\n').slice(-lines).join('\n');
}

function argv(
  install: ChromaInstallation,
  dataDir: string,
  port: number,
): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = {
    PATH: `${path.join(install.venv, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    // 0.4.x calls its telemetry client on every operation; nothing may leave the machine anyway.
    ANONYMIZED_TELEMETRY: 'False',
    PYTHONDONTWRITEBYTECODE: '1',
  };
  if (install.server === 'uvicorn')
    return {
      command: path.join(install.venv, 'bin', 'python'),
      args: [
        '-m',
        'uvicorn',
        'chromadb.app:app',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--log-level',
        'warning',
        '--timeout-keep-alive',
        '30',
      ],
      env: { ...env, IS_PERSISTENT: 'TRUE', PERSIST_DIRECTORY: dataDir, ALLOW_RESET: 'FALSE' },
    };
  return {
    command: path.join(install.venv, 'bin', 'chroma'),
    args: ['run', '--path', dataDir, '--host', '127.0.0.1', '--port', String(port)],
    env,
  };
}

/**
 * Starts a Chroma server of `install` on 127.0.0.1 against `dataDir`, waits (bounded) for its heartbeat and returns a
 * handle whose stop() ends its process group. A watchdog process ends the server (and removes `removeOnStop`) if this
 * process dies without calling stop(), so a killed import leaves no server behind.
 */
export async function startChromaServer(
  install: ChromaInstallation,
  options: StartChromaOptions,
): Promise<ChromaServer> {
  const port = options.port ?? (await freePort());
  const logDir = mkdtempSync(path.join(os.tmpdir(), `vectorstack-chroma-log-`));
  const logFile = path.join(logDir, 'server.log');
  const fd = openSync(logFile, 'a');
  const { command, args, env } = argv(install, options.dataDir, port);
  let child: ChildProcess;
  try {
    // Own process group (detached): stop() signals the group, so uvicorn's and chroma's children end too.
    child = spawn(command, args, { cwd: logDir, env, detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new ChromaServerError(`could not start ${command}`);
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = signal ? `signal ${signal}` : `exit code ${code}`;
  });
  child.unref();
  const cleanup = [...(options.removeOnStop ?? []), logDir];
  const watchdog = spawn(
    '/bin/sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -TERM -"$2" 2>/dev/null; sleep 3; kill -KILL -"$2" 2>/dev/null; shift 2; rm -rf "$@"',
      'chroma-watchdog',
      String(process.pid),
      String(pid),
      ...cleanup,
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();

  const url = `http://127.0.0.1:${port}`;
  const heartbeat = `${url}/api/${install.server === 'uvicorn' ? 'v1' : 'v2'}/heartbeat`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {}
    await waitFor('chroma server to exit', async () => exited !== undefined || !alive(pid), {
      timeoutMs: 10_000,
      intervalMs: 100,
    }).catch(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
    });
    try {
      if (watchdog.pid) process.kill(watchdog.pid, 'SIGKILL');
    } catch {}
    for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
  };
  options.progress?.log(`chroma ${install.version}: starting on 127.0.0.1:${port} (log ${logFile})`);
  try {
    await waitFor(
      `chroma ${install.version} server on 127.0.0.1:${port}`,
      async () => {
        if (exited !== undefined)
          throw new WaitAbortError(
            `chroma ${install.version} server exited (${exited}) before answering on 127.0.0.1:${port}:\n${tail(logFile)}`,
          );
        const response = await fetch(heartbeat, { signal: AbortSignal.timeout(2000) });
        await response.text();
        return response.ok || { waiting: `HTTP ${response.status}` };
      },
      { timeoutMs: options.startTimeoutMs ?? 180_000, intervalMs: 250 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, version: install.version, port, logFile, stop };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
