import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { GoProgram } from './go-build.js';

/** The version a wrapper go.mod requires for a module. */
export function requiredVersion(goModText: string, modulePath: string): string {
  const escaped = modulePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(goModText);
  if (!match) throw new Error(`go.mod does not require ${modulePath}`);
  return match[1]!;
}

/**
 * MinIO and mc stamp their version through -X flags (upstream's buildscripts/gen-ldflags.go). The module proxy
 * serves them as pseudo-versions (v0.0.0-<UTC time>-<commit>), which carry the commit time and hash; a build that
 * is not a tagged release calls itself DEVELOPMENT.<time>, as upstream's own development builds do.
 */
export function minioStyleProgram(
  repoRoot: string,
  name: 'minio' | 'mc',
): GoProgram & { releaseTag: string } {
  const modulePath = `github.com/minio/${name}`;
  const moduleDir = `toolchain/${name}`;
  const version = requiredVersion(readFileSync(path.join(repoRoot, moduleDir, 'go.mod'), 'utf8'), modulePath);
  const m = /^v0\.0\.0-(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})-([0-9a-f]{12})$/.exec(version);
  if (!m) throw new Error(`${modulePath} ${version}: expected a pseudo-version v0.0.0-<time>-<commit>`);
  const [, y, mo, d, h, mi, s, commit] = m;
  const rfc = `${y}-${mo}-${d}T${h}:${mi}:${s}Z`;
  const releaseTag = `DEVELOPMENT.${rfc.replaceAll(':', '-')}`;
  const x = `${modulePath}/cmd`;
  return {
    name,
    moduleDir,
    pkg: modulePath,
    version: releaseTag,
    releaseTag,
    ldflags: [
      `-X ${x}.Version=${rfc}`,
      `-X ${x}.ReleaseTag=${releaseTag}`,
      `-X ${x}.CopyrightYear=${y}`,
      `-X ${x}.CommitID=${commit}`,
      `-X ${x}.ShortCommitID=${commit}`,
    ].join(' '),
  };
}
