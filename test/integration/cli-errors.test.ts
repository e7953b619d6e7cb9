import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.js';

const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

/** Runs a script as a user would; returns its exit code and output. */
function run(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  prefix: string[] = [],
  cwd?: string,
) {
  const [command, ...rest] = [...prefix, tsx, path.join(REPO_ROOT, 'scripts', script), ...args];
  const result = spawnSync(command!, rest, {
    cwd: cwd ?? mkdtempSync(path.join(os.tmpdir(), 'vs-cli-')),
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('bad input to the commands', () => {
  it('up with an unknown environment names it and the allowed ones, exit 1', () => {
    const { code, stderr } = run('up.ts', ['--env', 'prod']);
    expect(code).toBe(1);
    expect(stderr).toContain(
      'environment = "prod": unknown environment; allowed: local, staging, production',
    );
  });

  it('up with an unknown flag prints the usage, exit 1', () => {
    const { code, stderr } = run('up.ts', ['--bogus']);
    expect(code).toBe(1);
    expect(stderr).toContain('unknown flag --bogus');
    expect(stderr).toContain('usage: npm run up');
  });

  it('up without a Docker engine says so and what to do, exit 1', () => {
    const { code, stderr } = run('up.ts', [], { DOCKER_HOST: 'unix:///tmp/vectorstack-no-such-docker.sock' });
    expect(code).toBe(1);
    expect(stderr).toContain(
      'docker engine: failed (no Docker engine answers at DOCKER_HOST=unix:///tmp/vectorstack-no-such-docker.sock)',
    );
    expect(stderr).toContain('unset DOCKER_HOST so that setup starts one on unix:///var/run/docker.sock');
  });

  it('deploy (up without host preparation) without a Docker engine names what is missing, exit 1', () => {
    const { code, stderr } = run('up.ts', ['--no-prepare'], {
      DOCKER_HOST: 'unix:///tmp/vectorstack-no-such-docker.sock',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('docker engine: missing (no Docker engine answers)');
    expect(stderr).toContain('run: npm run setup');
  });

  it('destroy refuses without both --volumes and --yes, and touches nothing', () => {
    const { code, stderr } = run('destroy.ts', ['--volumes']);
    expect(code).toBe(1);
    expect(stderr).toContain('refusing to destroy: this deletes all data; pass both --volumes and --yes');
  });

  it('setup as a non-root user without a Docker engine gives the manual steps, exit 1', () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'vs-nobody-'));
    mkdirSync(path.join(home, 'cache'));
    spawnSync('chmod', ['-R', '777', home]);
    const { code, stdout, stderr } = run(
      'setup.ts',
      ['--only', 'docker'],
      {
        HOME: home,
        VECTORSTACK_CACHE_DIR: path.join(home, 'cache'),
        DOCKER_HOST: 'unix:///tmp/vectorstack-no-such-docker.sock',
      },
      ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
      home,
    );
    expect(code).toBe(1);
    expect(stdout).toMatch(/docker engine\s+│.*failed/);
    expect(stderr).toContain('setup is not running as root, so setup cannot install one');
    expect(stderr).toContain('apt-get install -y docker.io');
  });
});
