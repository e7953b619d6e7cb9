import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { VectorstackError } from './errors.js';
import { SECRET_NAMES, type SecretName } from './services/types.js';

export type Credentials = Record<SecretName, string>;

export const CREDENTIALS_FILE = 'credentials.json';

/** A credentials file that is missing, readable by others, or not what the kit wrote. */
export class CredentialsError extends VectorstackError {}

/** 32 random bytes, URL-safe: usable in connection strings and MC_HOST URLs without escaping. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Refuses a secret-holding file that others may read: the check every command that reads one makes. */
export function assertOwnerOnly(file: string): void {
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077)
    throw new CredentialsError(`${file} is readable by other users (mode ${mode.toString(8)})`, {
      remedy: `run: chmod 600 ${file}`,
    });
}

function readFile(file: string): Partial<Credentials> {
  assertOwnerOnly(file);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
  } catch (error) {
    throw new CredentialsError(`${file} is not valid JSON (${(error as Error).message})`);
  }
}

/**
 * Returns the environment's credentials, generating any that are missing: what `up` does before it creates anything.
 * The file is created 0600 in a 0700 directory; a file readable by others is refused rather than used.
 */
export function ensureCredentials(dir: string): { credentials: Credentials; created: SecretName[] } {
  const file = path.join(dir, CREDENTIALS_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existing = existsSync(file) ? readFile(file) : {};
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

/**
 * Reads the credentials `up` wrote, creating nothing: every command but `up` reads them this way. Fails when the file
 * is missing, readable by others, or lacks a credential (written by an older version: `up` adds it).
 */
export function readCredentials(dir: string, environment: string): Credentials {
  const file = path.join(dir, CREDENTIALS_FILE);
  if (!existsSync(file))
    throw new CredentialsError(`environment ${environment} has no credentials (${file} does not exist)`, {
      remedy: `run: npm run up -- --env ${environment}`,
    });
  const stored = readFile(file);
  const missing = SECRET_NAMES.filter((name) => typeof stored[name] !== 'string' || stored[name] === '');
  if (missing.length > 0)
    throw new CredentialsError(`${file} lacks ${missing.join(', ')}`, {
      remedy: `run: npm run up -- --env ${environment} (it generates missing credentials)`,
    });
  return stored as Credentials;
}

/** Terraform variable name for a secret; values reach Terraform only through TF_VAR_* in the child's environment. */
export function secretsAsTfVars(credentials: Credentials): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const name of SECRET_NAMES) vars[`TF_VAR_${name}`] = credentials[name];
  return vars;
}
