import { DataType, type FieldType, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import type {
  MilvusCapability,
  MilvusCollectionSpec,
  MilvusIndexSpec,
} from '../../schemas/milvus/collections.js';
import { waitFor } from '../util/poll.js';
import { BootstrapError, type Drift, type ExecutablePlan, type PlannedAction } from './types.js';

/** First server version with each capability. */
const CAPABILITY_SINCE: Record<MilvusCapability, [number, number]> = { sparseVectors: [2, 4] };

export interface MilvusContext {
  client: MilvusClient;
  collections: MilvusCollectionSpec[];
  prefix: string;
  allowRecreate: boolean;
  /** Bound on waiting for a collection to load. */
  loadTimeoutMs?: number;
}

interface MilvusStatus {
  error_code?: string | number;
  code?: number;
  reason?: string;
}

/**
 * Throws unless Milvus answered Success. The SDK turns an unimplemented call into an empty `{}`: that is reported as
 * "not supported by this server" rather than mistaken for success.
 */
function check(status: MilvusStatus | undefined, what: string): void {
  if (status?.error_code === undefined && status?.code === undefined)
    throw new BootstrapError(`milvus: ${what}: not supported by this server (empty response)`);
  if (status.error_code !== 'Success' && status.error_code !== 0)
    throw new BootstrapError(`milvus: ${what} failed: ${status.reason || String(status.error_code)}`);
}

/** `v2.3.5-lite` → [2, 3, 5]; null when the server does not say. */
export function parseMilvusVersion(version: string | undefined): [number, number, number] | null {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : null;
}

export function milvusSupports(
  version: [number, number, number] | null,
  capability: MilvusCapability,
): boolean {
  if (!version) return false;
  const [major, minor] = CAPABILITY_SINCE[capability];
  return version[0] > major || (version[0] === major && version[1] >= minor);
}

/** Index parameters as Milvus reports them: 2.3 nests them as JSON under `params`, later versions flatten them. */
function indexSettings(params: { key: string; value: string | number }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of params) {
    if (key === 'params') {
      for (const [k, v] of Object.entries(JSON.parse(String(value)) as Record<string, unknown>))
        out[k] = String(v);
    } else out[key] = String(value);
  }
  return out;
}

export async function planMilvus(ctx: MilvusContext): Promise<ExecutablePlan> {
  const { client, prefix } = ctx;
  const versionResponse = await client.getVersion();
  const serverVersion = versionResponse.version || 'unknown';
  const version = parseMilvusVersion(versionResponse.version);
  const actions: PlannedAction[] = [];
  const drift: Drift[] = [];
  const warnings: string[] = [];
  const specs = new Map<string, MilvusCollectionSpec>();
  const action = (kind: string, target: string, detail: string, destructive = false) =>
    actions.push({ store: 'milvus', kind, target, detail, destructive });

  for (const spec of ctx.collections) {
    const name = prefix + spec.name;
    specs.set(name, spec);
    const missing = spec.requires.filter((c) => !milvusSupports(version, c));
    if (missing.length > 0) {
      const message = `collection ${name} needs ${missing.join(', ')}, which Milvus ${serverVersion} lacks (since ${missing.map((c) => CAPABILITY_SINCE[c].join('.')).join(', ')})`;
      if (spec.optional) {
        warnings.push(`${message}: skipped`);
        continue;
      }
      throw new BootstrapError(`${message}; it is required`);
    }
    const has = await client.hasCollection({ collection_name: name });
    check(has.status, `hasCollection ${name}`);
    if (!has.value) {
      action('create-collection', name, describeFields(spec));
      for (const index of spec.indexes)
        action('create-index', `${name}.${index.field}`, describeIndex(index));
      action('load', name, 'load into memory for search');
      continue;
    }

    const fieldDrift = await collectionFieldDrift(client, name, spec);
    if (fieldDrift.length > 0) {
      if (ctx.allowRecreate) {
        action(
          'recreate-collection',
          name,
          `DROPS the collection and ALL its data, then ${describeFields(spec)}`,
          true,
        );
        for (const index of spec.indexes)
          action('create-index', `${name}.${index.field}`, describeIndex(index));
        action('load', name, 'load into memory for search');
        continue;
      }
      drift.push(...fieldDrift);
    }

    const described = await client.describeIndex({ collection_name: name });
    // A collection without any index answers "index not found": that is no index, not a failure.
    const liveIndexes = described.index_descriptions ?? [];
    let released = false;
    for (const index of spec.indexes) {
      const live = liveIndexes.find((d) => d.field_name === index.field);
      const target = `${name}.${index.field}`;
      if (!live) {
        action('create-index', target, describeIndex(index));
        continue;
      }
      const differences = indexDifferences(index, indexSettings(live.params));
      if (differences.length === 0) continue;
      if (ctx.allowRecreate && fieldDrift.length === 0) {
        if (!released) action('release', name, 'release from memory to rebuild an index');
        released = true;
        action('recreate-index', target, `drop and rebuild: ${describeIndex(index)}`);
      } else {
        for (const d of differences)
          drift.push({
            store: 'milvus',
            target,
            field: d.field,
            expected: d.expected,
            actual: d.actual,
            resolution:
              're-run with --allow-recreate (rebuilds the index; the collection is unsearchable meanwhile)',
          });
      }
    }
    const load = await client.getLoadState({ collection_name: name });
    check(load.status, `getLoadState ${name}`);
    if (released || load.state !== 'LoadStateLoaded') action('load', name, 'load into memory for search');
  }

  return {
    store: 'milvus',
    serverVersion,
    actions,
    drift,
    warnings,
    execute: (a) => executeMilvusAction(ctx, specs, a),
  };
}

async function collectionFieldDrift(
  client: MilvusClient,
  name: string,
  spec: MilvusCollectionSpec,
): Promise<Drift[]> {
  const described = await client.describeCollection({ collection_name: name });
  check(described.status, `describeCollection ${name}`);
  const drift: Drift[] = [];
  const resolution = 're-run with --allow-recreate (DROPS the collection and all its data)';
  const add = (field: string, expected: string, actual: string) =>
    drift.push({ store: 'milvus', target: name, field, expected, actual, resolution });
  const live = new Map(described.schema.fields.map((f) => [f.name, f]));
  for (const field of spec.fields) {
    const found = live.get(field.name);
    if (!found) {
      add(`field ${field.name}`, field.type, 'missing');
      continue;
    }
    if (String(found.data_type) !== field.type)
      add(`field ${field.name} type`, field.type, String(found.data_type));
    const typeParams = Object.fromEntries(found.type_params.map((p) => [p.key, String(p.value)]));
    if (field.dim !== undefined && typeParams.dim !== String(field.dim))
      add(`field ${field.name} dimension`, String(field.dim), typeParams.dim ?? 'none');
    if (field.maxLength !== undefined && typeParams.max_length !== String(field.maxLength))
      add(`field ${field.name} max_length`, String(field.maxLength), typeParams.max_length ?? 'none');
    if (Boolean(field.primaryKey) !== Boolean(found.is_primary_key))
      add(`field ${field.name} primary key`, String(Boolean(field.primaryKey)), String(found.is_primary_key));
  }
  for (const extra of [...live.keys()].filter((n) => !spec.fields.some((f) => f.name === n)))
    add(`field ${extra}`, 'absent', String(live.get(extra)!.data_type));
  return drift;
}

function indexDifferences(
  spec: MilvusIndexSpec,
  live: Record<string, string>,
): { field: string; expected: string; actual: string }[] {
  const out: { field: string; expected: string; actual: string }[] = [];
  // A scalar index with the server's default type: its existence is all the spec asks for.
  if (spec.indexType === '') return out;
  const compare = (field: string, expected: string, actual: string | undefined) => {
    if (expected !== (actual ?? 'none')) out.push({ field, expected, actual: actual ?? 'none' });
  };
  compare('index type', spec.indexType, live.index_type);
  if (spec.metric) compare('metric', spec.metric, live.metric_type);
  for (const [key, value] of Object.entries(spec.params ?? {}))
    compare(`index ${key}`, String(value), live[key]);
  return out;
}

function describeFields(spec: MilvusCollectionSpec): string {
  return spec.fields
    .map((f) => `${f.name} ${f.type}${f.dim ? `(${f.dim})` : ''}${f.primaryKey ? ' PK' : ''}`)
    .join(', ');
}

function describeIndex(index: MilvusIndexSpec): string {
  if (index.indexType === '') return 'scalar index (server default type)';
  const params = Object.entries(index.params ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${index.indexType} ${index.metric ?? ''} ${params}`.replace(/\s+/g, ' ').trim();
}

function toFieldType(field: MilvusCollectionSpec['fields'][number]): FieldType {
  return {
    name: field.name,
    data_type: DataType[field.type],
    is_primary_key: field.primaryKey ?? false,
    ...(field.maxLength !== undefined ? { max_length: field.maxLength } : {}),
    ...(field.dim !== undefined ? { dim: field.dim } : {}),
  };
}

async function createIndex(client: MilvusClient, name: string, index: MilvusIndexSpec): Promise<void> {
  const status = await client.createIndex({
    collection_name: name,
    field_name: index.field,
    index_name: index.field,
    ...(index.indexType ? { index_type: index.indexType } : {}),
    ...(index.metric ? { metric_type: index.metric } : {}),
    ...(index.params ? { params: index.params } : {}),
  });
  check(status, `createIndex ${name}.${index.field}`);
}

async function executeMilvusAction(
  ctx: MilvusContext,
  specs: Map<string, MilvusCollectionSpec>,
  action: PlannedAction,
): Promise<void> {
  const { client } = ctx;
  const [name, field] = action.target.split('.') as [string, string | undefined];
  const spec = specs.get(name)!;
  const create = async () => {
    const status = await client.createCollection({
      collection_name: name,
      description: spec.description,
      fields: spec.fields.map(toFieldType),
    });
    check(status, `createCollection ${name}`);
  };
  switch (action.kind) {
    case 'create-collection':
      return create();
    case 'recreate-collection':
      check(await client.dropCollection({ collection_name: name }), `dropCollection ${name}`);
      return create();
    case 'create-index':
      return createIndex(client, name, spec.indexes.find((i) => i.field === field)!);
    case 'release':
      return check(await client.releaseCollection({ collection_name: name }), `releaseCollection ${name}`);
    case 'recreate-index': {
      const described = await client.describeIndex({ collection_name: name, field_name: field });
      const indexName = described.index_descriptions?.[0]?.index_name ?? field!;
      check(
        await client.dropIndex({ collection_name: name, field_name: field!, index_name: indexName }),
        `dropIndex ${action.target}`,
      );
      return createIndex(client, name, spec.indexes.find((i) => i.field === field)!);
    }
    case 'load':
      return loadAndWait(ctx, name);
    default:
      throw new Error(`unknown milvus action ${action.kind}`);
  }
}

async function loadAndWait(ctx: MilvusContext, name: string): Promise<void> {
  check(await ctx.client.loadCollection({ collection_name: name }), `loadCollection ${name}`);
  await waitFor(
    `milvus: collection ${name} loaded`,
    async () => {
      const load = await ctx.client.getLoadState({ collection_name: name });
      check(load.status, `getLoadState ${name}`);
      return load.state === 'LoadStateLoaded' || { waiting: `state ${load.state}` };
    },
    { timeoutMs: ctx.loadTimeoutMs ?? 120_000, intervalMs: 100 },
  );
}
