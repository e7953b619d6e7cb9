// What a Milvus server can do, found out by asking it: each feature is tried on a throwaway collection (created,
// indexed, described, dropped), never inferred from a version number. Results are cached per client.
import { randomBytes } from 'node:crypto';
import {
  type CreateCollectionWithFieldsReq,
  DataType,
  FunctionType,
  type MilvusClient,
  RRFRanker,
} from '@zilliz/milvus2-sdk-node';
import { waitFor } from '../util/poll.js';
import { collectionLoaded } from './readiness.js';
import { checkStatus, type MilvusStatus, statusProblem } from './status.js';

/**
 * - `denseHnsw`: HNSW on a FLOAT_VECTOR (milvus-lite 2.5 offers only FLAT, IVF_FLAT and AUTOINDEX).
 * - `scalarDefaultIndex`: a scalar index without an index type (the server picks Trie/STL_SORT/INVERTED); when refused,
 *   `value` is the explicit type the server accepted (INVERTED, else Trie).
 * - `sparseVectors`: SPARSE_FLOAT_VECTOR with SPARSE_INVERTED_INDEX (IP).
 * - `bm25Function`: a BM25 function filling a sparse field from an analyzed VARCHAR, indexed with metric BM25.
 * - `structArrayVectors`: the native multi-vector type (Array of Struct holding a FLOAT_VECTOR, "embedding list"),
 *   indexed with a MAX_SIM metric.
 * - `hybridSearch`: the HybridSearch call (several vector fields of one collection, fused by a server-side ranker).
 */
export const MILVUS_FEATURES = [
  'denseHnsw',
  'scalarDefaultIndex',
  'sparseVectors',
  'bm25Function',
  'structArrayVectors',
  'hybridSearch',
] as const;
export type MilvusFeature = (typeof MILVUS_FEATURES)[number];

/** What bootstrap probes by default; `hybridSearch` needs a loaded collection and is probed only when asked. */
export const BOOTSTRAP_FEATURES: MilvusFeature[] = [
  'denseHnsw',
  'scalarDefaultIndex',
  'sparseVectors',
  'bm25Function',
  'structArrayVectors',
];

export interface FeatureProbe {
  supported: boolean;
  /** What was verified, or the server's own words when it refused. */
  detail: string;
  /** scalarDefaultIndex only: the explicit scalar index type to send when the default is refused. */
  value?: string;
}

export interface MilvusCapabilities {
  /** GetVersion's answer, or null when the server does not implement it (milvus-lite). */
  version: string | null;
  /** One entry per probed feature. */
  features: Partial<Record<MilvusFeature, FeatureProbe>>;
}

export interface DetectOptions {
  /** Features to probe (already probed ones come from the cache). @default BOOTSTRAP_FEATURES */
  features?: MilvusFeature[];
  /** Prefix of the throwaway collections' names (`<prefix>vsprobe_<feature>_<random>`). @default '' */
  prefix?: string;
  /** Bound on waiting for the hybridSearch probe's collection to load. @default 60000 */
  loadTimeoutMs?: number;
}

interface ClientCache {
  version?: Promise<string | null>;
  probes: Map<MilvusFeature, Promise<FeatureProbe>>;
}
const cache = new WeakMap<MilvusClient, ClientCache>();

/** True only when the feature was probed and the server accepted it. */
export function supports(caps: MilvusCapabilities, feature: MilvusFeature): boolean {
  return caps.features[feature]?.supported === true;
}

/** Asks the server what it can do (see MILVUS_FEATURES); each feature is probed once per client. */
export async function detectMilvusCapabilities(
  client: MilvusClient,
  options: DetectOptions = {},
): Promise<MilvusCapabilities> {
  let entry = cache.get(client);
  if (!entry) {
    entry = { probes: new Map() };
    cache.set(client, entry);
  }
  const state = entry;
  state.version ??= client.getVersion().then((r) => (r as { version?: string }).version || null);
  const prefix = options.prefix ?? '';
  const probe = (feature: MilvusFeature): Promise<FeatureProbe> => {
    let pending = state.probes.get(feature);
    if (!pending) {
      pending = PROBES[feature]({ client, prefix, probe, loadTimeoutMs: options.loadTimeoutMs ?? 60_000 });
      // A failed probe (server unreachable) is not a verdict: the next call asks again.
      pending.catch(() => state.probes.delete(feature));
      state.probes.set(feature, pending);
    }
    return pending;
  };
  const wanted = options.features ?? BOOTSTRAP_FEATURES;
  const features: MilvusCapabilities['features'] = {};
  // One at a time: probes share the server with everything else, and some depend on others.
  for (const feature of wanted) features[feature] = await probe(feature);
  return { version: await state.version, features };
}

/** One line per probed feature, e.g. `sparseVectors: yes` / `structArrayVectors: no (…)`, for reports. */
export function describeCapabilities(caps: MilvusCapabilities): string[] {
  return Object.entries(caps.features).map(
    ([feature, p]) =>
      `${feature}: ${p!.supported ? 'yes' : 'no'}${p!.value ? ` (use ${p!.value})` : ''}${p!.supported ? '' : ` (${p!.detail})`}`,
  );
}

interface ProbeContext {
  client: MilvusClient;
  prefix: string;
  probe: (feature: MilvusFeature) => Promise<FeatureProbe>;
  loadTimeoutMs: number;
}

const yes = (detail: string): FeatureProbe => ({ supported: true, detail });
const no = (detail: string): FeatureProbe => ({ supported: false, detail });

/** gRPC codes that mean "could not ask", not "the server said no". */
const TRANSPORT_CODES = new Set([1, 4, 14]); // CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE

/**
 * Runs one call and returns the server's refusal (null when it succeeded). An empty answer, gRPC UNIMPLEMENTED or the
 * SDK tripping over a missing result (its HybridSearch on milvus-lite) count as "not implemented"; a transport failure
 * is thrown, since it says nothing about the feature.
 */
async function refusal(call: () => Promise<MilvusStatus | { status?: MilvusStatus } | undefined>) {
  try {
    const answer = await call();
    const status =
      answer && 'status' in answer && typeof answer.status === 'object'
        ? answer.status
        : (answer as MilvusStatus | undefined);
    return statusProblem(status);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'number' && TRANSPORT_CODES.has(code)) throw error;
    if (code === 12) return 'not implemented by this server (UNIMPLEMENTED)';
    if (error instanceof TypeError)
      return `not implemented by this server (empty response: ${error.message})`;
    return (error as Error).message;
  }
}

function probeName(prefix: string, feature: MilvusFeature): string {
  return `${prefix}vsprobe_${feature}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Creates a throwaway collection, runs `body`, and always drops it. A refused creation is the probe's verdict. */
async function withProbeCollection(
  ctx: ProbeContext,
  feature: MilvusFeature,
  request: Omit<CreateCollectionWithFieldsReq, 'collection_name'>,
  body: (name: string) => Promise<FeatureProbe>,
): Promise<FeatureProbe> {
  const name = probeName(ctx.prefix, feature);
  const created = await refusal(() => ctx.client.createCollection({ ...request, collection_name: name }));
  try {
    if (created !== null) return no(`creating a collection for it was refused: ${created}`);
    return await body(name);
  } finally {
    await ctx.client.dropCollection({ collection_name: name }).catch(() => {});
  }
}

const pk = { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 16 };

async function probeDense(ctx: ProbeContext): Promise<{ hnsw: FeatureProbe; scalar: FeatureProbe }> {
  const name = probeName(ctx.prefix, 'denseHnsw');
  checkStatus(
    await ctx.client.createCollection({
      collection_name: name,
      fields: [
        pk,
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 's', data_type: DataType.VarChar, max_length: 16 },
      ],
    }),
    `createCollection ${name} (capability probe)`,
  );
  try {
    const hnswRefused = await refusal(() =>
      ctx.client.createIndex({
        collection_name: name,
        field_name: 'v',
        index_name: 'v',
        index_type: 'HNSW',
        metric_type: 'COSINE',
        params: { M: 8, efConstruction: 16 },
      }),
    );
    const hnsw = hnswRefused === null ? yes('HNSW index created') : no(hnswRefused);
    const index = (index_type?: string) =>
      refusal(() =>
        ctx.client.createIndex({
          collection_name: name,
          field_name: 's',
          index_name: 's',
          ...(index_type ? { index_type } : {}),
        }),
      );
    const defaultRefused = await index();
    if (defaultRefused === null) return { hnsw, scalar: yes('scalar index without a type created') };
    for (const explicit of ['INVERTED', 'Trie']) {
      if ((await index(explicit)) === null)
        return { hnsw, scalar: { supported: false, detail: defaultRefused, value: explicit } };
    }
    return { hnsw, scalar: no(`${defaultRefused}; INVERTED and Trie refused too`) };
  } finally {
    await ctx.client.dropCollection({ collection_name: name }).catch(() => {});
  }
}

/** Both results of the one dense probe, shared by the two features it answers. */
const denseResults = new WeakMap<MilvusClient, Promise<{ hnsw: FeatureProbe; scalar: FeatureProbe }>>();
function dense(ctx: ProbeContext) {
  let pending = denseResults.get(ctx.client);
  if (!pending) {
    pending = probeDense(ctx);
    pending.catch(() => denseResults.delete(ctx.client));
    denseResults.set(ctx.client, pending);
  }
  return pending;
}

const PROBES: Record<MilvusFeature, (ctx: ProbeContext) => Promise<FeatureProbe>> = {
  denseHnsw: async (ctx) => (await dense(ctx)).hnsw,
  scalarDefaultIndex: async (ctx) => (await dense(ctx)).scalar,

  sparseVectors: (ctx) =>
    withProbeCollection(
      ctx,
      'sparseVectors',
      { fields: [pk, { name: 'sv', data_type: DataType.SparseFloatVector }] },
      async (name) => {
        const refused = await refusal(() =>
          ctx.client.createIndex({
            collection_name: name,
            field_name: 'sv',
            index_name: 'sv',
            index_type: 'SPARSE_INVERTED_INDEX',
            metric_type: 'IP',
          }),
        );
        return refused === null ? yes('SPARSE_INVERTED_INDEX (IP) created') : no(refused);
      },
    ),

  bm25Function: (ctx) =>
    withProbeCollection(
      ctx,
      'bm25Function',
      {
        fields: [
          pk,
          { name: 'text', data_type: DataType.VarChar, max_length: 64, enable_analyzer: true },
          { name: 'sv', data_type: DataType.SparseFloatVector },
        ],
        functions: [
          {
            name: 'bm25',
            type: FunctionType.BM25,
            input_field_names: ['text'],
            output_field_names: ['sv'],
            params: {},
          },
        ],
      },
      async (name) => {
        const refused = await refusal(() =>
          ctx.client.createIndex({
            collection_name: name,
            field_name: 'sv',
            index_name: 'sv',
            index_type: 'SPARSE_INVERTED_INDEX',
            metric_type: 'BM25',
          }),
        );
        if (refused !== null) return no(refused);
        // A server that does not know functions ignores them: the output field is then an ordinary sparse field.
        const described = await ctx.client.describeCollection({ collection_name: name });
        const output = described.schema?.fields.find((f) => f.name === 'sv');
        return output?.is_function_output
          ? yes('BM25 function and BM25 index created')
          : no('the server accepted the schema but ignored the BM25 function');
      },
    ),

  structArrayVectors: async (ctx) => {
    const indexType = (await ctx.probe('denseHnsw')).supported ? 'HNSW' : 'AUTOINDEX';
    return withProbeCollection(
      ctx,
      'structArrayVectors',
      {
        fields: [
          pk,
          {
            name: 'tokens',
            data_type: DataType.Array,
            element_type: DataType.Struct,
            max_capacity: 4,
            fields: [{ name: 'embedding', data_type: DataType.FloatVector, dim: 2 }],
          },
        ],
      },
      async (name) => {
        // An older server drops the unknown struct field (or, milvus-lite 2.5, keeps no readable schema at all).
        let fields: { name: string; element_type?: string; fields?: { name: string }[] }[] = [];
        try {
          fields = (await ctx.client.describeCollection({ collection_name: name })).schema?.fields ?? [];
        } catch (error) {
          if (!(error instanceof TypeError)) throw error;
        }
        const tokens = fields.find((f) => f.name === 'tokens');
        if (tokens?.element_type !== 'Struct' || !tokens.fields?.some((f) => f.name === 'embedding'))
          return no('the server did not keep the Array of Struct field (no native multi-vector type)');
        const refused = await refusal(() =>
          ctx.client.createIndex({
            collection_name: name,
            field_name: 'tokens[embedding]',
            index_name: 'tokens_embedding',
            index_type: indexType,
            metric_type: 'MAX_SIM_COSINE',
          }),
        );
        return refused === null
          ? yes(`Array of Struct with a ${indexType} MAX_SIM_COSINE index`)
          : no(refused);
      },
    );
  },

  hybridSearch: (ctx) =>
    withProbeCollection(
      ctx,
      'hybridSearch',
      {
        fields: [
          pk,
          { name: 'a', data_type: DataType.FloatVector, dim: 2 },
          { name: 'b', data_type: DataType.FloatVector, dim: 2 },
        ],
      },
      async (name) => {
        for (const field of ['a', 'b']) {
          const refused = await refusal(() =>
            ctx.client.createIndex({
              collection_name: name,
              field_name: field,
              index_name: field,
              index_type: 'FLAT',
              metric_type: 'L2',
            }),
          );
          if (refused !== null) return no(`index on a second vector field refused: ${refused}`);
        }
        // Two rows, so the answer must carry hits (milvus-lite answers an empty collection but not a real search).
        checkStatus(
          (
            await ctx.client.insert({
              collection_name: name,
              data: [
                { id: 'x', a: [1, 0], b: [0, 1] },
                { id: 'y', a: [0, 1], b: [1, 0] },
              ],
            })
          ).status,
          `insert ${name}`,
        );
        checkStatus(await ctx.client.loadCollection({ collection_name: name }), `loadCollection ${name}`);
        await waitFor(`milvus: capability probe ${name} loaded`, () => collectionLoaded(ctx.client, name), {
          timeoutMs: ctx.loadTimeoutMs,
          intervalMs: 100,
        });
        let hits = 0;
        const refused = await refusal(async () => {
          const answer = await ctx.client.hybridSearch({
            collection_name: name,
            data: [
              { data: [1, 0], anns_field: 'a' },
              { data: [0, 1], anns_field: 'b' },
            ],
            rerank: RRFRanker(60),
            limit: 2,
            output_fields: ['id'],
          });
          hits = answer.results?.length ?? 0;
          return answer.status;
        });
        if (refused !== null) return no(refused);
        return hits > 0
          ? yes('HybridSearch with an RRF ranker returned hits')
          : no('HybridSearch answered without hits on a collection holding two rows');
      },
    ),
};
