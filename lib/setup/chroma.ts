import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { cacheDir, REPO_ROOT } from '../paths.js';
import { type ChromaLayout, readChromaLayout } from '../transfer/chroma-layout.js';
import { type ChromaInstallation, startChromaServer } from '../transfer/chroma-server.js';
import { Progress } from '../util/progress.js';
import { sha256File } from './hash.js';
import { SetupError, type StepOutcome } from './types.js';

/**
 * Chroma server versions the kit can run to read a persisted directory or to test against: each a venv under
 * `<cache>/chroma/<version>/`, installed from PyPI with every package pinned by sha256
 * (`lib/setup/chroma/requirements-<version>.txt`, wheels for CPython 3.11 on manylinux x86_64). `layout` is the set of
 * schema migrations the version records in a directory it creates (chroma-layout.ts): what tells which version wrote a
 * directory. Setup checks it against the installed server.
 */
const LAYOUT_0_4 = [
  'embeddings_queue/00001-embeddings.sqlite.sql',
  'metadb/00001-embedding-metadata.sqlite.sql',
  'metadb/00002-embedding-metadata.sqlite.sql',
  'metadb/00003-full-text-tokenize.sqlite.sql',
  'sysdb/00001-collections.sqlite.sql',
  'sysdb/00002-segments.sqlite.sql',
  'sysdb/00003-collection-dimension.sqlite.sql',
  'sysdb/00004-tenants-databases.sqlite.sql',
];

export const CHROMA_VERSIONS = {
  '0.4.24': { server: 'uvicorn', layout: LAYOUT_0_4 },
  '1.5.9': {
    server: 'chroma-run',
    layout: [
      ...LAYOUT_0_4,
      'embeddings_queue/00002-embeddings-queue-config.sqlite.sql',
      'metadb/00004-metadata-indices.sqlite.sql',
      'metadb/00005-max-seq-id-int.sqlite.sql',
      'metadb/00006-metadata-array-support.sqlite.sql',
      'sysdb/00005-remove-topic.sqlite.sql',
      'sysdb/00006-collection-segment-metadata.sqlite.sql',
      'sysdb/00007-collection-config.sqlite.sql',
      'sysdb/00008-maintenance-log.sqlite.sql',
      'sysdb/00009-segment-collection-not-null.sqlite.sql',
      'sysdb/00010-collection-schema.sqlite.sql',
    ].sort(),
  },
} as const satisfies Record<string, { server: ChromaInstallation['server']; layout: ChromaLayout }>;
export type ChromaVersion = keyof typeof CHROMA_VERSIONS;
export const CHROMA_VERSION_NAMES = Object.keys(CHROMA_VERSIONS) as ChromaVersion[];

export function isChromaVersion(value: string): value is ChromaVersion {
  return Object.hasOwn(CHROMA_VERSIONS, value);
}

export function chromaRequirements(version: ChromaVersion): string {
  return path.join(REPO_ROOT, 'lib', 'setup', 'chroma', `requirements-${version}.txt`);
}

function chromaHome(version: ChromaVersion, environ: NodeJS.ProcessEnv): string {
  return path.join(cacheDir(environ), 'chroma', version);
}

/** What a finished install records (`install.json`); its absence means the venv is incomplete. */
export interface ChromaInstallRecord extends ChromaInstallation {
  requirementsSha256: string;
  python: string;
  installSeconds: number;
}

/** The finished install of `version` whose pins equal the requirements file, or undefined. */
export async function findChromaInstall(
  version: ChromaVersion,
  environ: NodeJS.ProcessEnv = process.env,
): Promise<ChromaInstallRecord | undefined> {
  const file = path.join(chromaHome(version, environ), 'install.json');
  if (!existsSync(file)) return undefined;
  const record = JSON.parse(readFileSync(file, 'utf8')) as ChromaInstallRecord;
  if (record.requirementsSha256 !== (await sha256File(chromaRequirements(version)))) return undefined;
  return record;
}

/** A CPython 3.11 with venv: the pinned wheels are built for it (Debian bookworm's /usr/bin/python3 first). */
async function findPython(): Promise<string> {
  const tried: string[] = [];
  for (const candidate of ['/usr/bin/python3.11', '/usr/bin/python3', 'python3.11', 'python3']) {
    const probe = await $({
      quiet: true,
      nothrow: true,
    })`${candidate} -c ${'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2])'}`;
    const version = probe.stdout.trim();
    if (probe.exitCode === 0 && version === '3.11') return candidate;
    tried.push(`${candidate}: ${probe.exitCode === 0 ? `Python ${version}` : 'unusable'}`);
  }
  throw new SetupError(
    `chroma: no CPython 3.11 with the venv module (${tried.join('; ')})`,
    'install it: apt-get install -y python3 python3-venv (Debian bookworm ships 3.11)',
  );
}

export interface EnsureChromaOptions {
  environ?: NodeJS.ProcessEnv;
  progress?: Progress;
  checkOnly?: boolean;
  force?: boolean;
}

/**
 * Installs `version` into its venv unless a finished install with the same pins is there, then records the layout it
 * writes (by starting it once on an empty directory, which also proves the install works).
 */
export async function ensureChromaInstall(
  version: ChromaVersion,
  options: EnsureChromaOptions = {},
): Promise<{ install: ChromaInstallRecord; built: boolean }> {
  const environ = options.environ ?? process.env;
  const progress = options.progress ?? new Progress(undefined, false);
  if (!options.force) {
    const found = await findChromaInstall(version, environ);
    if (found) return { install: found, built: false };
  }
  if (options.checkOnly) throw new Error(`chroma ${version}: not installed`);
  const started = Date.now();
  const home = chromaHome(version, environ);
  const venv = path.join(home, 'venv');
  const requirements = chromaRequirements(version);
  // A venv holds absolute paths, so it is built in place; install.json, written last, marks it complete.
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  const python = await findPython();
  progress.log(`chroma ${version}: creating venv with ${python}`);
  await $({ quiet: true })`${python} -m venv ${venv}`;
  progress.log(`chroma ${version}: pip install (hash-pinned, ${requirements})`);
  await progress.heartbeat(
    `chroma ${version}: pip install`,
    $({
      quiet: true,
      env: { ...environ, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    })`${path.join(venv, 'bin', 'pip')} install --no-input --no-deps --require-hashes --only-binary=:all: -r ${requirements}`.timeout(
      '1800s',
    ),
  );
  const installation: ChromaInstallation = { version, venv, server: CHROMA_VERSIONS[version].server };
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'vectorstack-chroma-probe-'));
  try {
    const server = await startChromaServer(installation, { dataDir: scratch, progress });
    await server.stop();
    const layout = readChromaLayout(scratch);
    const expected: readonly string[] = CHROMA_VERSIONS[version].layout;
    if (layout.join('\n') !== [...expected].sort().join('\n'))
      throw new SetupError(
        `chroma ${version}: a new directory records migrations ${layout.join(', ')}; CHROMA_VERSIONS in lib/setup/chroma.ts says ${expected.join(', ')}`,
        'update the layout in lib/setup/chroma.ts to what this version writes',
      );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const install: ChromaInstallRecord = {
    ...installation,
    requirementsSha256: await sha256File(requirements),
    python,
    installSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
  writeFileSync(path.join(home, 'install.json'), `${JSON.stringify(install, null, 2)}\n`);
  return { install, built: true };
}

/** Setup step `chroma`: every version of CHROMA_VERSIONS (for the tests; the import command installs on demand). */
export async function ensureChromaServers(ctx: {
  environ: NodeJS.ProcessEnv;
  progress: Progress;
  checkOnly: boolean;
  force: Set<string>;
}): Promise<StepOutcome> {
  let built = false;
  const seconds: string[] = [];
  for (const version of CHROMA_VERSION_NAMES) {
    const outcome = await ensureChromaInstall(version, {
      environ: ctx.environ,
      progress: ctx.progress,
      checkOnly: ctx.checkOnly,
      force: ctx.force.has('chroma') || ctx.force.has(`chroma:${version}`),
    });
    built ||= outcome.built;
    if (outcome.built) seconds.push(`${version} ${outcome.install.installSeconds}s`);
  }
  return {
    status: built ? 'installed' : 'found',
    source: 'PyPI (hash-pinned)',
    version: CHROMA_VERSION_NAMES.join(', '),
    detail: seconds.length > 0 ? `installed ${seconds.join(', ')}` : undefined,
  };
}
