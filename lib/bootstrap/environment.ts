import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import type { VectorstackConfig } from '../config/schema.js';
import { type Credentials, ensureCredentials, readCredentials } from '../credentials.js';
import type { ConnectionInfo } from '../deploy/outputs.js';
import { stateDir } from '../paths.js';
import { BootstrapError } from './types.js';

export interface BootstrapTarget {
  config: VectorstackConfig;
  connection: ConnectionInfo;
  credentials: Credentials;
}

/**
 * The environment `npm run up` brought up: its config, endpoints (outputs.json) and credentials. Credentials added
 * since (e.g. the Redis ACL users' passwords) are generated and stored now, in the same 0600 file.
 */
export function loadBootstrapTarget(options: { env?: string; cwd?: string } = {}): BootstrapTarget {
  const config = loadConfig({ env: options.env, cwd: options.cwd });
  const dir = stateDir(config.stateDir, config.environment, options.cwd);
  const outputs = path.join(dir, 'outputs.json');
  if (!existsSync(outputs) || !readCredentials(dir))
    throw new BootstrapError(
      `environment ${config.environment} is not up (${outputs} or credentials missing)`,
      undefined,
      `run: npm run up -- --env ${config.environment}`,
    );
  const connection = JSON.parse(readFileSync(outputs, 'utf8')) as ConnectionInfo;
  return { config, connection, credentials: ensureCredentials(dir).credentials };
}
