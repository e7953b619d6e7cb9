import { DataType, type FieldType, FunctionType, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import type {
  MilvusCollectionSpec,
  MilvusFieldSpec,
  MilvusIndexSpec,
} from '../../schemas/milvus/collections.js';
import {
  detectMilvusCapabilities,
  type MilvusCapabilities,
  type MilvusFeature,
  supports,
} from '../milvus/capabilities.js';
import { indexSettings } from '../milvus/index-settings.js';
import { collectionLoaded } from '../milvus/readiness.js';
import { checkStatus, type MilvusStatus } from '../milvus/status.js';
import { waitFor } from '../util/poll.js';
import { BootstrapError, type Drift, type ExecutablePlan, type PlannedAction } from './types.js';

export interface MilvusContext {
  client: MilvusClient;
  collections: MilvusCollectionSpec[];
  prefix: string;
  allowRecreate: boolean;
  /** Bound on waiting for a collection to load. */
  loadTimeoutMs?: number;
  /** What the server can do; detected (and cached per client) when absent. */
  capabilities?: MilvusCapabilities;
}

/** A Milvus plan, with the capabilities it was made for. */
export interface MilvusPlan extends ExecutablePlan {
  capabilities: MilvusCapabilities;
}

/** Throws (exit 1) unless Milvus answered Success; an empty answer is "not implemented by this server". */
function check(status: MilvusStatus | undefined, what: string): void {
  try {
    checkStatus(status, what);
  } catch (error) {
    throw new BootstrapError((error as Error).message);
  }
}

/** Every feature a set of specs makes the planner ask about. */
export function featuresFor(specs: MilvusCollectionSpec[]): MilvusFeature[] {
  const wanted = new Set<MilvusFeature>();
  for (const spec of specs) {
    for (const feature of spec.requires) wanted.add(feature);
    if (spec.insteadOf) wanted.add(spec.insteadOf.feature);
    for (const index of spec.indexes) {
      if (index.indexType === 'HNSW') wanted.add('denseHnsw');
      if (index.indexType === '') wanted.add('scalarDefaultIndex');
    }
  }
  return [...wanted];
}

/**
 * The spec as this server will hold it: HNSW becomes AUTOINDEX where the server refuses HNSW (its own parameters
 * instead of M/efConstruction), and a default scalar index becomes the explicit type the server needs. Each such
 * substitution is returned as a note for the plan's warnings. Never decided by version: only by probed features.
 */
export function effectiveSpec(
  spec: MilvusCollectionSpec,
  caps: MilvusCapabilities,
): { spec: MilvusCollectionSpec; notes: string[] } {
  const notes: string[] = [];
  const indexes = spec.indexes.flatMap((index): MilvusIndexSpec[] => {
    if (index.indexType === 'HNSW' && caps.features.denseHnsw && !caps.features.denseHnsw.supported) {
      notes.push(
        `${spec.name}.${index.field}: HNSW refused by this server (${caps.features.denseHnsw.detail}): AUTOINDEX instead, M/efConstruction not applied`,
      );
      return [{ field: index.field, indexType: 'AUTOINDEX', metric: index.metric }];
    }
    const scalar = caps.features.scalarDefaultIndex;
    if (index.indexType === '' && scalar && !scalar.supported) {
      if (!scalar.value) {
        notes.push(
          `${spec.name}.${index.field}: no scalar index type accepted (${scalar.detail}): not indexed`,
        );
        return [];
      }
      return [{ ...index, indexType: scalar.value }];
    }
    return [index];
  });
  return { spec: { ...spec, indexes }, notes };
}

/** The index's name: the field, with `array[sub]` written `array_sub`. */
const indexName = (field: string) => field.replace(/\W+/g, '_').replace(/_$/, '');

export async function planMilvus(ctx: MilvusContext): Promise<MilvusPlan> {
  const { client, prefix } = ctx;
  const caps =
    ctx.capabilities ??
    (await detectMilvusCapabilities(client, { features: featuresFor(ctx.collections), prefix }));
  const serverVersion = caps.version ?? 'unknown (GetVersion not implemented)';
  const server = caps.version ? `Milvus ${caps.version}` : 'this Milvus server (version unknown)';
  const actions: PlannedAction[] = [];
  const drift: Drift[] = [];
  const warnings: string[] = [];
  const specs = new Map<string, MilvusCollectionSpec>();
  // ShowCollections, not HasCollection: the SDK's hasCollection reads only error_code, which milvus-lite leaves at
  // Success for a missing collection (code 100).
  const listed = await client.listCollections();
  check(listed.status, 'listCollections');
  const existing = new Set(listed.data.map((c) => c.name));
  const action = (kind: string, target: string, detail: string, destructive = false) =>
    actions.push({ store: 'milvus', kind, target, detail, destructive });

  for (const original of ctx.collections) {
    const name = prefix + original.name;
    if (original.insteadOf && supports(caps, original.insteadOf.feature)) continue;
    const missing = original.requires.filter((c) => !supports(caps, c));
    if (missing.length > 0) {
      const why = missing.map((c) => `${c}: ${caps.features[c]?.detail ?? 'not probed'}`).join('; ');
      const stand = ctx.collections.find((s) => s.insteadOf?.collection === original.name);
      const message = `collection ${name} needs ${missing.join(', ')}, which ${server} lacks (${why})`;
      if (original.optional) {
        warnings.push(`${message}: skipped${stand ? `; ${prefix + stand.name} serves instead` : ''}`);
        continue;
      }
      throw new BootstrapError(`${message}; it is required`);
    }
    const { spec, notes } = effectiveSpec(original, caps);
    warnings.push(...notes.map((n) => prefix + n));
    specs.set(name, spec);
    if (!existing.has(name)) {
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
      const live = liveIndexes.find(
        (d) => d.field_name === index.field || d.index_name === indexName(index.field),
      );
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
    capabilities: caps,
    execute: (a) => executeMilvusAction(ctx, specs, a),
  };
}

/** The type a field reports in describeCollection. */
const liveType = (field: MilvusFieldSpec) => (field.type === 'ArrayOfStruct' ? 'Array' : field.type);

interface LiveField {
  name: string;
  data_type: string;
  dataType?: number;
  element_type?: string;
  type_params?: { key: string; value: unknown }[];
  dim?: unknown;
  is_primary_key?: boolean;
  is_function_output?: boolean;
  fields?: LiveField[];
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
  const liveFields = described.schema.fields as unknown as LiveField[];
  const live = new Map(liveFields.map((f) => [f.name, f]));
  for (const field of spec.fields) {
    const found = live.get(field.name);
    if (!found) {
      add(`field ${field.name}`, field.type, 'missing');
      continue;
    }
    if (String(found.data_type) !== liveType(field))
      add(`field ${field.name} type`, field.type, String(found.data_type));
    const typeParams = Object.fromEntries((found.type_params ?? []).map((p) => [p.key, String(p.value)]));
    if (field.dim !== undefined && typeParams.dim !== String(field.dim))
      add(`field ${field.name} dimension`, String(field.dim), typeParams.dim ?? 'none');
    if (field.maxLength !== undefined && typeParams.max_length !== String(field.maxLength))
      add(`field ${field.name} max_length`, String(field.maxLength), typeParams.max_length ?? 'none');
    if (Boolean(field.primaryKey) !== Boolean(found.is_primary_key))
      add(`field ${field.name} primary key`, String(Boolean(field.primaryKey)), String(found.is_primary_key));
    if (Boolean(field.analyzer) !== (typeParams.enable_analyzer === 'true'))
      add(
        `field ${field.name} analyzer`,
        String(Boolean(field.analyzer)),
        typeParams.enable_analyzer ?? 'false',
      );
    if (Boolean(field.functionOutput) !== Boolean(found.is_function_output))
      add(
        `field ${field.name} function output`,
        String(Boolean(field.functionOutput)),
        String(Boolean(found.is_function_output)),
      );
    if (field.type === 'ArrayOfStruct') {
      if (found.element_type !== 'Struct')
        add(`field ${field.name} element type`, 'Struct', String(found.element_type));
      const sub = new Map((found.fields ?? []).map((f) => [f.name, f]));
      for (const s of field.structFields ?? []) {
        const liveSub = sub.get(s.name);
        if (!liveSub) {
          add(`field ${field.name}[${s.name}]`, s.type, 'missing');
          continue;
        }
        const subType = liveSub.dataType !== undefined ? DataType[liveSub.dataType] : liveSub.data_type;
        if (subType !== s.type && liveSub.element_type !== s.type)
          add(`field ${field.name}[${s.name}] type`, s.type, String(subType));
        const subDim =
          liveSub.dim ?? (liveSub.type_params ?? []).find((p) => p.key === 'dim')?.value ?? undefined;
        if (s.dim !== undefined && String(subDim) !== String(s.dim))
          add(`field ${field.name}[${s.name}] dimension`, String(s.dim), String(subDim ?? 'none'));
      }
    }
  }
  for (const extra of [...live.keys()].filter((n) => !spec.fields.some((f) => f.name === n)))
    add(`field ${extra}`, 'absent', String(live.get(extra)!.data_type));
  // Servers that report functions (2.6) must report the spec's; milvus-lite reports none but marks the output field.
  const liveFunctions = (described.schema as { functions?: { name: string }[] }).functions ?? [];
  if (liveFunctions.length > 0)
    for (const fn of spec.functions ?? [])
      if (!liveFunctions.some((f) => f.name === fn.name)) add(`function ${fn.name}`, fn.type, 'missing');
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
  const one = (f: MilvusFieldSpec): string =>
    f.type === 'ArrayOfStruct'
      ? `${f.name} Array<Struct{${(f.structFields ?? []).map(one).join(', ')}}>(${f.maxCapacity})`
      : `${f.name} ${f.type}${f.dim ? `(${f.dim})` : ''}${f.primaryKey ? ' PK' : ''}${f.functionOutput ? ' (function output)' : ''}`;
  const functions = (spec.functions ?? []).map((fn) => `; ${fn.type} ${fn.input} → ${fn.output}`).join('');
  return spec.fields.map(one).join(', ') + functions;
}

function describeIndex(index: MilvusIndexSpec): string {
  if (index.indexType === '') return 'scalar index (server default type)';
  const params = Object.entries(index.params ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${index.indexType} ${index.metric ?? ''} ${params}`.replace(/\s+/g, ' ').trim();
}

function toFieldType(field: MilvusFieldSpec): FieldType {
  if (field.type === 'ArrayOfStruct')
    return {
      name: field.name,
      data_type: DataType.Array,
      element_type: DataType.Struct,
      max_capacity: field.maxCapacity,
      fields: (field.structFields ?? []).map(toFieldType),
    } as FieldType;
  return {
    name: field.name,
    data_type: DataType[field.type],
    is_primary_key: field.primaryKey ?? false,
    ...(field.maxLength !== undefined ? { max_length: field.maxLength } : {}),
    ...(field.dim !== undefined ? { dim: field.dim } : {}),
    ...(field.analyzer ? { enable_analyzer: true } : {}),
  };
}

async function createIndex(client: MilvusClient, name: string, index: MilvusIndexSpec): Promise<void> {
  const status = await client.createIndex({
    collection_name: name,
    field_name: index.field,
    index_name: indexName(index.field),
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
  const dot = action.target.indexOf('.');
  const name = dot < 0 ? action.target : action.target.slice(0, dot);
  const field = dot < 0 ? undefined : action.target.slice(dot + 1);
  const spec = specs.get(name)!;
  const create = async () => {
    const status = await client.createCollection({
      collection_name: name,
      description: spec.description,
      fields: spec.fields.map(toFieldType),
      ...(spec.functions?.length
        ? {
            functions: spec.functions.map((fn) => ({
              name: fn.name,
              type: FunctionType[fn.type],
              input_field_names: [fn.input],
              output_field_names: [fn.output],
              params: {},
            })),
          }
        : {}),
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
      const described = await client.describeIndex({ collection_name: name });
      const live = described.index_descriptions?.find(
        (d) => d.field_name === field || d.index_name === indexName(field!),
      );
      check(
        await client.dropIndex({
          collection_name: name,
          field_name: field!,
          index_name: live?.index_name ?? indexName(field!),
        }),
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
  await waitFor(`milvus: collection ${name} loaded`, () => collectionLoaded(ctx.client, name), {
    timeoutMs: ctx.loadTimeoutMs ?? 120_000,
    intervalMs: 100,
  });
}
