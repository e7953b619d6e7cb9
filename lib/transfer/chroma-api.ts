import { TransferError } from './model.js';

/**
 * A minimal client for Chroma's REST API, in both dialects: v1 (Chroma 0.4.x, `/api/v1/...`) and v2 (Chroma 1.x,
 * `/api/v2/tenants/{tenant}/databases/{database}/...`). The npm `chromadb` client 3.x speaks only v2, so one small
 * client for both keeps a single code path; the request and response bodies of get, query, count and add are the
 * same in both.
 */

export type ChromaApi = 'v1' | 'v2';

export interface ChromaCollectionInfo {
  id: string;
  name: string;
  metadata: Record<string, unknown> | null;
  /** Chroma 1.x collection configuration (hnsw/spann settings, embedding function); absent in 0.4.x. */
  configuration?: Record<string, unknown> | null;
}

export type ChromaInclude = 'embeddings' | 'documents' | 'metadatas' | 'distances';

export interface ChromaGetResult {
  ids: string[];
  embeddings?: number[][] | null;
  documents?: (string | null)[] | null;
  metadatas?: (Record<string, unknown> | null)[] | null;
}

export interface ChromaQueryResult {
  ids: string[][];
  distances?: number[][] | null;
  embeddings?: number[][][] | null;
}

export interface ChromaClientOptions {
  /** Per-request timeout. @default 120000 */
  timeoutMs?: number;
  tenant?: string;
  database?: string;
}

/** The server at `url` could not be reached at all (connection refused, DNS, timeout): names host:port. */
export class ChromaUnreachableError extends TransferError {}

/** The server answered with an error status. */
export class ChromaRequestError extends TransferError {
  constructor(
    readonly status: number,
    readonly what: string,
    readonly body: string,
  ) {
    super(`chroma ${what}: HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

export class ChromaClient {
  private constructor(
    readonly url: string,
    readonly api: ChromaApi,
    readonly version: string,
    private readonly options: Required<ChromaClientOptions>,
  ) {}

  /** Connects and detects the dialect: v2 when `/api/v2/heartbeat` answers, else v1. */
  static async connect(url: string, options: ChromaClientOptions = {}): Promise<ChromaClient> {
    const base = url.replace(/\/+$/, '');
    const opts = {
      timeoutMs: options.timeoutMs ?? 120_000,
      tenant: options.tenant ?? 'default_tenant',
      database: options.database ?? 'default_database',
    };
    const probe = new ChromaClient(base, 'v1', '?', opts);
    for (const api of ['v2', 'v1'] as const) {
      const response = await probe.raw('GET', `/api/${api}/heartbeat`, undefined, 'heartbeat');
      if (response.ok) {
        const version = JSON.parse(
          await probe.expectOk(
            await probe.raw('GET', `/api/${api}/version`, undefined, 'version'),
            'version',
          ),
        );
        return new ChromaClient(base, api, String(version), opts);
      }
      await response.text().catch(() => '');
    }
    throw new ChromaUnreachableError(
      `${hostPort(base)} answers HTTP but is not a Chroma server (no /api/v1 or /api/v2 heartbeat)`,
    );
  }

  describe(): string {
    return `Chroma at ${hostPort(this.url)} (API ${this.api}, version ${this.version})`;
  }

  private collectionsPath(): string {
    return this.api === 'v1'
      ? '/api/v1/collections'
      : `/api/v2/tenants/${encodeURIComponent(this.options.tenant)}/databases/${encodeURIComponent(this.options.database)}/collections`;
  }

  /** Every collection, paged (v2 pages collection lists; v1 returns them all). */
  async listCollections(): Promise<ChromaCollectionInfo[]> {
    if (this.api === 'v1')
      return this.json<ChromaCollectionInfo[]>('GET', this.collectionsPath(), undefined, 'list collections');
    const all: ChromaCollectionInfo[] = [];
    for (let offset = 0; offset < 1_000_000; offset += 100) {
      const page = await this.json<ChromaCollectionInfo[]>(
        'GET',
        `${this.collectionsPath()}?limit=100&offset=${offset}`,
        undefined,
        'list collections',
      );
      all.push(...page);
      if (page.length < 100) break;
    }
    return all;
  }

  /** The collection named `name`, or undefined when the server has none. */
  async findCollection(name: string): Promise<ChromaCollectionInfo | undefined> {
    const response = await this.raw(
      'GET',
      `${this.collectionsPath()}/${encodeURIComponent(name)}`,
      undefined,
      `get collection ${name}`,
    );
    if (response.ok) return (await response.json()) as ChromaCollectionInfo;
    const body = await response.text();
    // v2: 404 NotFoundError; v1 (0.4.x): HTTP 500 with ValueError('Collection x does not exist.').
    if (response.status === 404 || /does not exist|NotFound/i.test(body)) return undefined;
    throw new ChromaRequestError(response.status, `get collection ${name}`, body);
  }

  async createCollection(
    name: string,
    metadata?: Record<string, unknown>,
    configuration?: Record<string, unknown>,
  ): Promise<ChromaCollectionInfo> {
    return this.json(
      'POST',
      this.collectionsPath(),
      { name, metadata: metadata ?? null, ...(configuration ? { configuration } : {}), get_or_create: false },
      `create collection ${name}`,
    );
  }

  async count(collection: ChromaCollectionInfo): Promise<number> {
    return Number(
      await this.json(
        'GET',
        `${this.collectionsPath()}/${collection.id}/count`,
        undefined,
        `count ${collection.name}`,
      ),
    );
  }

  async add(
    collection: ChromaCollectionInfo,
    records: {
      ids: string[];
      embeddings: number[][];
      documents?: (string | null)[];
      metadatas?: (Record<string, unknown> | null)[];
    },
  ): Promise<void> {
    await this.json(
      'POST',
      `${this.collectionsPath()}/${collection.id}/add`,
      records,
      `add to ${collection.name}`,
    );
  }

  /** Replaces the given fields of existing records (tests change a source between two imports with it). */
  async update(
    collection: ChromaCollectionInfo,
    records: { ids: string[]; documents?: (string | null)[]; metadatas?: (Record<string, unknown> | null)[] },
  ): Promise<void> {
    await this.json(
      'POST',
      `${this.collectionsPath()}/${collection.id}/update`,
      records,
      `update ${collection.name}`,
    );
  }

  /** A page of records in Chroma's stable order (`offset`, `limit`), or the records with the given ids. */
  async get(
    collection: ChromaCollectionInfo,
    page: { offset?: number; limit?: number; ids?: string[] },
    include: ChromaInclude[],
  ): Promise<ChromaGetResult> {
    return this.json(
      'POST',
      `${this.collectionsPath()}/${collection.id}/get`,
      { ...page, include },
      `get from ${collection.name}`,
    );
  }

  async query(
    collection: ChromaCollectionInfo,
    vectors: number[][],
    k: number,
    include: ChromaInclude[],
  ): Promise<ChromaQueryResult> {
    return this.json(
      'POST',
      `${this.collectionsPath()}/${collection.id}/query`,
      { query_embeddings: vectors, n_results: k, include },
      `query ${collection.name}`,
    );
  }

  private async json<T>(method: string, route: string, body: unknown, what: string): Promise<T> {
    const text = await this.expectOk(await this.raw(method, route, body, what), what);
    return JSON.parse(text) as T;
  }

  private async expectOk(response: Response, what: string): Promise<string> {
    const text = await response.text();
    if (!response.ok) throw new ChromaRequestError(response.status, what, text);
    return text;
  }

  private async raw(method: string, route: string, body: unknown, what: string): Promise<Response> {
    try {
      return await fetch(`${this.url}${route}`, {
        method,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new ChromaUnreachableError(
        `chroma at ${hostPort(this.url)} is unreachable (${what}): ${reason}`,
        {
          problems: [`nothing answered at ${hostPort(this.url)}: ${reason}`],
          remedy:
            'check --from (URL of a running Chroma server), or read a persisted directory with --from-dir DIR',
          cause: error,
        },
      );
    }
  }
}

/** `host:port` of a URL (default ports filled in) for messages. */
export function hostPort(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return url;
  }
}
