import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SECRET_NAMES, type SecretName } from './services/types.js';

export type Credentials = Record<SecretName, string>;

export const CREDENTIALS_FILE = 'credentials.json';

/** 32 random bytes, URL-safe: usable in connection strings and MC_HOST URLs without escaping. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Returns the environment's credentials, generating any that are missing. The file is created 0600 in a 0700
 * directory; a file readable by others is refused rather than used.
 */
export function ensureCredentials(dir: string): { credentials: Credentials; created: SecretName[] } {
  const file = path.join(dir, CREDENTIALS_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let existing: Partial<Credentials> = {};
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) {
      throw new Error(
        `${file} is readable by other users (mode ${mode.toString(8)}); run: chmod 600 ${file}`,
      );
    }
    existing = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
  }
  const created: SecretName[] = [];
  const credentials = {} as Credentials;
  for (const name of SECRET_NAMES) {
    const value = existing[name];
    if (typeof value === 'string' && value.length > 0) {
      credentials[name] = value;
    } else {
      credentials[name] = generateSecret();
      created.push(name);
    }
  }
  if (created.length > 0) {
    writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return { credentials, created };
}

/** Reads credentials without creating any; null when the environment was never brought up. */
export function readCredentials(dir: string): Credentials | null {
  const file = path.join(dir, CREDENTIALS_FILE);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as Credentials;
}

/** Terraform variable name for a secret; values reach Terraform only through TF_VAR_* in the child's environment. */
export function secretVariableName(name: SecretName): string {
  return name;
}

export function secretsAsTfVars(credentials: Credentials): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const name of SECRET_NAMES) vars[`TF_VAR_${secretVariableName(name)}`] = credentials[name];
  return vars;
}
