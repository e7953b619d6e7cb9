import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in lib/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Cache for everything setup downloads or builds: outside the repo, shared by clones, overridable. */
export function cacheDir(environ: NodeJS.ProcessEnv = process.env): string {
  if (environ.VECTORSTACK_CACHE_DIR) return path.resolve(environ.VECTORSTACK_CACHE_DIR);
  const base = environ.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'vectorstack');
}

/** The image override file `npm run setup` writes when it builds offline images. */
export function imagesFile(environ: NodeJS.ProcessEnv = process.env): string {
  return environ.VECTORSTACK_IMAGES_FILE
    ? path.resolve(environ.VECTORSTACK_IMAGES_FILE)
    : path.join(cacheDir(environ), 'images.json');
}

/** Terraform CLI configuration (provider mirror) written by setup when the public registry is unreachable. */
export function terraformCliConfigFile(environ: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(environ), 'terraform', 'cli.tfrc');
}

/** Per-environment state: credentials, Terraform state, outputs. Ignored by git. */
export function stateDir(stateRoot: string, environment: string, cwd = process.cwd()): string {
  return path.resolve(cwd, stateRoot, environment);
}

/** Where plots and JUnit files go by default: `<stateDir>/<env>/reports/` (ignored by git). */
export function reportsDir(environmentStateDir: string): string {
  const dir = path.join(environmentStateDir, 'reports');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
