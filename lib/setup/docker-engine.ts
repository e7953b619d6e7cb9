import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { waitFor } from '../util/poll.js';
import { type SetupContext, SetupError, type StepOutcome } from './types.js';

/** The engine's server version, or null when no engine answers. */
export async function dockerServerVersion(): Promise<string | null> {
  const result = await $({
    nothrow: true,
    quiet: true,
  })`docker version --format ${'{{.Server.Version}}'}`.timeout('20s');
  return result.exitCode === 0 ? result.stdout.trim() : null;
}

export const DOCKER_MANUAL_STEPS = [
  'Install and start a Docker engine, then re-run npm run setup:',
  '  Debian/Ubuntu (as root):  apt-get update && apt-get install -y docker.io && (dockerd > /var/log/dockerd.log 2>&1 &)',
  '  with systemd:             systemctl enable --now docker',
  '  as a normal user:         ask an administrator to add you to the docker group (then log in again)',
].join('\n');

function isDebianLike(): boolean {
  return existsSync('/etc/debian_version') && existsSync('/usr/bin/apt-get');
}

/**
 * Makes a Docker engine answer: uses a running one; otherwise, on Debian/Ubuntu as root, installs the distribution's
 * engine and starts dockerd in the background (no systemd needed), logging to the cache directory.
 */
/** Where dockerd listens unless told otherwise (and where setup starts it). */
const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

export async function ensureDockerEngine(ctx: SetupContext): Promise<StepOutcome> {
  const running = await dockerServerVersion();
  if (running) return { status: 'found', source: 'running engine', version: running };
  if (ctx.checkOnly)
    return { status: 'missing', source: '-', version: '-', detail: 'no Docker engine answers' };

  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !isDebianLike()) {
    const why = !isRoot ? 'setup is not running as root' : 'this host has no apt-get (not Debian/Ubuntu)';
    throw new SetupError(
      `no Docker engine answers and ${why}, so setup cannot install one`,
      DOCKER_MANUAL_STEPS,
    );
  }
  // An engine named by DOCKER_HOST elsewhere than the default socket is not one setup can start.
  const host = ctx.environ.DOCKER_HOST;
  if (host && host !== DEFAULT_DOCKER_HOST)
    throw new SetupError(
      `no Docker engine answers at DOCKER_HOST=${host}`,
      `start the engine DOCKER_HOST names, or unset DOCKER_HOST so that setup starts one on ${DEFAULT_DOCKER_HOST}`,
    );
  const installed = await $({ nothrow: true, quiet: true })`command -v dockerd`;
  let source = 'host dockerd';
  if (installed.exitCode !== 0) {
    ctx.progress.log('docker: installing the distribution engine (apt-get install docker.io)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await $({ quiet: true, env })`apt-get update -q`;
    await $({ quiet: true, env })`apt-get install -y -q docker.io`;
    source = 'apt docker.io';
  }
  const logDir = path.join(ctx.cacheDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'dockerd.log');
  ctx.progress.log(`docker: starting dockerd in the background (log: ${logFile})`);
  const log = openSync(logFile, 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  // Bounded wait for the socket; dockerd is usually up within a few seconds.
  const version = await waitFor('dockerd answering', async () => (await dockerServerVersion()) ?? undefined, {
    timeoutMs: 60_000,
    intervalMs: 1000,
  }).catch(() => {
    throw new SetupError('dockerd did not answer within 60 s', `see ${logFile}\n${DOCKER_MANUAL_STEPS}`);
  });
  return {
    status: source === 'apt docker.io' ? 'installed' : 'started',
    source,
    version,
    detail: `dockerd log ${logFile}`,
  };
}
