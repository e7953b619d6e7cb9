import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { hashStrings } from './hash.js';
import type { SetupContext } from './types.js';

/** A Go program built from the module proxy through a pinned wrapper module (go.mod + go.sum in toolchain/). */
export interface GoProgram {
  /** Short name, used for the cached binary and --force. */
  name: string;
  /** Wrapper module directory relative to the repo (e.g. toolchain/opentofu). */
  moduleDir: string;
  /** Package to build, e.g. github.com/opentofu/opentofu/cmd/tofu. */
  pkg: string;
  version: string;
  /** Extra -ldflags (version stamping). */
  ldflags?: string;
  /** Build tags. */
  tags?: string;
}

export function goEnv(ctx: SetupContext): NodeJS.ProcessEnv {
  const goDir = path.join(ctx.cacheDir, 'go');
  return {
    ...ctx.environ,
    GOMODCACHE: path.join(goDir, 'mod'),
    GOCACHE: path.join(goDir, 'cache'),
    // go.sum pins every module; readonly makes a missing or altered sum an error instead of a silent update.
    GOFLAGS: '-mod=readonly',
    CGO_ENABLED: '0',
    GOTOOLCHAIN: 'local',
  };
}

/** Cached binary path: changes whenever go.mod, go.sum, the flags or the Go version change. */
export async function goBinaryPath(ctx: SetupContext, program: GoProgram): Promise<string> {
  const moduleDir = path.join(ctx.repoRoot, program.moduleDir);
  const goVersion = (await $({ quiet: true, env: goEnv(ctx) })`go env GOVERSION`).stdout.trim();
  const key = hashStrings(
    readFileSync(path.join(moduleDir, 'go.mod'), 'utf8'),
    readFileSync(path.join(moduleDir, 'go.sum'), 'utf8'),
    program.pkg,
    program.ldflags ?? '',
    program.tags ?? '',
    goVersion,
  ).slice(0, 12);
  return path.join(ctx.cacheDir, 'bin', `${program.name}-${program.version}-${key}`);
}

/** Builds (or finds) the binary; returns its path and whether it was built now. */
export async function ensureGoBinary(
  ctx: SetupContext,
  program: GoProgram,
): Promise<{ binary: string; built: boolean }> {
  if (!(await $({ quiet: true, nothrow: true })`go version`).ok) {
    throw new Error(
      `${program.name}: no Go toolchain on PATH; install Go (Debian: apt-get install golang-go) and re-run`,
    );
  }
  const binary = await goBinaryPath(ctx, program);
  if (existsSync(binary) && !ctx.force.has(program.name)) return { binary, built: false };
  if (ctx.checkOnly) throw new Error(`${program.name} is not built`);
  mkdirSync(path.dirname(binary), { recursive: true });
  const partial = `${binary}.partial`;
  const args = ['build', '-trimpath', `-ldflags=-s -w ${program.ldflags ?? ''}`.trim(), '-o', partial];
  if (program.tags) args.push(`-tags=${program.tags}`);
  args.push(program.pkg);
  ctx.progress.log(`${program.name}: go ${args.join(' ')}`);
  await ctx.progress.heartbeat(
    `${program.name}: go build`,
    $({ cwd: path.join(ctx.repoRoot, program.moduleDir), env: goEnv(ctx), quiet: true })`go ${args}`,
  );
  // Rename last: an interrupted build never leaves a binary that looks complete.
  renameSync(partial, binary);
  return { binary, built: true };
}
