import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { VectorstackError } from '../errors.js';
import { BASE_DEFAULTS, ENVIRONMENT_DEFAULTS } from './defaults.js';
import {
  type ConfigOverrides,
  configSchema,
  ENVIRONMENTS,
  type EnvironmentName,
  type VectorstackConfig,
} from './schema.js';

/** Invalid configuration: each problem names the field, the value and what is allowed. */
export class ConfigError extends VectorstackError {}

/** Config file looked for in the working directory when none is named. */
export const DEFAULT_CONFIG_FILES = [
  'vectorstack.config.json',
  'vectorstack.config.yaml',
  'vectorstack.config.yml',
];

/** Environment variables with the VECTORSTACK_ prefix that are settings of the tools, not of the stack. */
const TOOL_VARIABLES = new Set([
  'VECTORSTACK_ENV',
  'VECTORSTACK_CONFIG',
  'VECTORSTACK_CACHE_DIR',
  'VECTORSTACK_IMAGES_FILE',
  'VECTORSTACK_TF_BINARY',
  'VECTORSTACK_DEBIAN_MIRROR',
  'VECTORSTACK_DEBIAN_SECURITY_MIRROR',
  'VECTORSTACK_DEBUG',
  'VECTORSTACK_TEST_KEEP_STACK',
  'VECTORSTACK_TEST_VERBOSE',
]);

export interface LoadConfigOptions {
  /** Environment name; defaults to $VECTORSTACK_ENV, then `local`. */
  env?: string;
  /** Config file; defaults to $VECTORSTACK_CONFIG, then the first of DEFAULT_CONFIG_FILES that exists. */
  file?: string;
  /** Process environment to read VECTORSTACK_* overrides from. */
  environ?: NodeJS.ProcessEnv;
  /** Directory relative paths are resolved against. */
  cwd?: string;
  /** Overrides applied last (used by tests and by flags). */
  overrides?: ConfigOverrides;
}

/**
 * Builds the configuration: base defaults, then the environment's defaults, the config file (its top level, then its
 * `environments.<env>` section), VECTORSTACK_* variables and explicit overrides. Every layer is validated together at
 * the end; an error names each bad field, its value and what is allowed.
 */
export function loadConfig(options: LoadConfigOptions = {}): VectorstackConfig {
  const environ = options.environ ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? environ.VECTORSTACK_ENV ?? 'local';
  if (!(ENVIRONMENTS as readonly string[]).includes(env)) {
    throw new ConfigError(
      `environment = ${JSON.stringify(env)}: unknown environment; allowed: ${ENVIRONMENTS.join(', ')}`,
    );
  }
  const environment = env as EnvironmentName;

  let merged: unknown = deepMerge(structuredClone(BASE_DEFAULTS), ENVIRONMENT_DEFAULTS[environment]);
  const file =
    options.file ??
    environ.VECTORSTACK_CONFIG ??
    DEFAULT_CONFIG_FILES.find((f) => existsSync(path.resolve(cwd, f)));
  if (file) {
    const { environments, ...common } = readConfigFile(path.resolve(cwd, file));
    merged = deepMerge(merged, common);
    if (environments !== undefined) {
      if (!isPlainObject(environments))
        throw new ConfigError(`${file}: environments must be an object keyed by environment name`);
      for (const key of Object.keys(environments)) {
        if (!(ENVIRONMENTS as readonly string[]).includes(key)) {
          throw new ConfigError(
            `${file}: environments.${key}: unknown environment; allowed: ${ENVIRONMENTS.join(', ')}`,
          );
        }
      }
      merged = deepMerge(merged, environments[environment]);
    }
  }
  merged = deepMerge(merged, overridesFromEnvironment(environ));
  merged = deepMerge(merged, options.overrides);
  (merged as Record<string, unknown>).environment = environment;
  return parseConfig(merged);
}

/** Validates a complete config object; throws ConfigError listing every problem. */
export function parseConfig(value: unknown): VectorstackConfig {
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => describeIssue(issue, value));
  throw new ConfigError('invalid configuration', { problems });
}

function describeIssue(issue: z.core.$ZodIssue, root: unknown): string {
  const field = issue.path.map(String).join('.') || '(root)';
  const value = valueAt(root, issue.path);
  const shown = value === undefined ? 'missing' : JSON.stringify(value);
  switch (issue.code) {
    case 'invalid_value':
      return `${field} = ${shown}: allowed values: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `${field}: unknown field(s) ${issue.keys.join(', ')}; allowed: ${Object.keys(valueShape(issue.path)).join(', ')}`;
    case 'too_big':
      return `${field} = ${shown}: must be at most ${String(issue.maximum)}`;
    case 'too_small':
      return `${field} = ${shown}: must be at least ${String(issue.minimum)}`;
    case 'invalid_type':
      return `${field} = ${shown}: expected ${issue.expected}`;
    default:
      return `${field} = ${shown}: ${issue.message}`;
  }
}

function valueAt(root: unknown, keyPath: PropertyKey[]): unknown {
  let current = root;
  for (const key of keyPath) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** The defaults' object at a path: its keys are the fields allowed there. */
function valueShape(keyPath: PropertyKey[]): Record<string, unknown> {
  const found = valueAt(BASE_DEFAULTS, keyPath);
  return isPlainObject(found) ? found : {};
}

function readConfigFile(file: string): ConfigOverrides & { environments?: Record<string, ConfigOverrides> } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`config file ${file}: cannot be read (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (error) {
    throw new ConfigError(
      `config file ${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'} (${(error as Error).message})`,
    );
  }
  if (parsed == null) return {};
  if (!isPlainObject(parsed)) throw new ConfigError(`config file ${file}: top level must be an object`);
  return parsed as ConfigOverrides;
}

/**
 * VECTORSTACK_POSTGRES_HOST_PORT=15433 sets postgres.hostPort: the variable name is the field path in upper snake case.
 * Values are read as JSON where they parse (numbers, booleans, null), else as strings.
 */
export function overridesFromEnvironment(environ: NodeJS.ProcessEnv): ConfigOverrides {
  const paths = new Map<string, string[]>();
  collectLeafPaths(BASE_DEFAULTS, [], paths);
  const overrides: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(environ)) {
    if (!name.startsWith('VECTORSTACK_') || TOOL_VARIABLES.has(name) || raw === undefined) continue;
    const key = name.slice('VECTORSTACK_'.length);
    const imageMatch = /^IMAGES_([A-Z_]+)$/.exec(key);
    const fieldPath = imageMatch
      ? ['images', imageMatch[1]!.toLowerCase().replaceAll('_', '-')]
      : paths.get(key);
    if (!fieldPath) {
      throw new ConfigError(
        `${name}: not a configuration field; e.g. VECTORSTACK_POSTGRES_HOST_PORT sets postgres.hostPort`,
      );
    }
    setAt(overrides, fieldPath, parseScalar(raw));
  }
  return overrides as ConfigOverrides;
}

function collectLeafPaths(value: unknown, prefix: string[], into: Map<string, string[]>): void {
  if (isPlainObject(value) && prefix[0] !== 'images') {
    for (const [key, child] of Object.entries(value)) collectLeafPaths(child, [...prefix, key], into);
    return;
  }
  into.set(prefix.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_'), prefix);
}

/**
 * A variable's value: plain decimal numbers, `true`, `false`, `null`, JSON objects and arrays; anything else is a
 * string. Strict on purpose: `1e3`, `0x10`, ` 12` or `12abc` stay strings, so an integer field refuses them by name
 * instead of reading 1000 where someone typed an exponent.
 */
export function parseScalar(raw: string): unknown {
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false' || raw === 'null') return JSON.parse(raw);
  if (/^[[{]/.test(raw)) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

function setAt(target: Record<string, unknown>, keyPath: string[], value: unknown): void {
  let node = target;
  for (const key of keyPath.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keyPath.at(-1)!] = value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Merges plain objects recursively; arrays and scalars from `override` replace. */
export function deepMerge<T>(base: T, override: unknown): T {
  if (override === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(override)) return override as T;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = deepMerge(out[key], value);
  return out as T;
}
