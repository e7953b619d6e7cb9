import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CHROMA_VERSION_NAMES,
  CHROMA_VERSIONS,
  type ChromaVersion,
  ensureChromaInstall,
  isChromaVersion,
} from '../setup/chroma.js';
import type { Progress } from '../util/progress.js';
import { ChromaClient, type ChromaCollectionInfo } from './chroma-api.js';
import { compareLayouts, layoutMismatch, readChromaLayout } from './chroma-layout.js';
import { type ChromaServer, startChromaServer } from './chroma-server.js';
import { normaliseMetadata } from './compare.js';
import { type ChromaSpace, chromaSpaceOf, TransferError, type TransferRecord } from './model.js';

/** One collection to move: what the source says about it. */
export interface SourceCollection {
  info: ChromaCollectionInfo;
  name: string;
  space: ChromaSpace;
  /** From the first record; undefined for an empty collection. */
  dimension: number | undefined;
  count: number;
}

export type SourceSpec = { url: string } | { dir: string; version?: string };

export interface OpenSourceOptions {
  progress?: Progress;
  environ?: NodeJS.ProcessEnv;
}

/** A collection named on the command line that the server does not have: names it and lists what there is. */
export class UnknownCollectionError extends TransferError {}

/**
 * Reads collections from a Chroma server: a running one (`{ url }`), or a persisted directory (`{ dir }`) served by
 * the Chroma version that wrote it, started on loopback against a copy of the directory (the original is never opened
 * by a server). Records come in pages in Chroma's own stable order, so memory stays constant.
 */
export class ChromaSource {
  private constructor(
    readonly client: ChromaClient,
    /** The URL, or `DIR (Chroma V)`: for summaries and the import catalog. */
    readonly label: string,
    private readonly server?: ChromaServer,
  ) {}

  static async open(spec: SourceSpec, options: OpenSourceOptions = {}): Promise<ChromaSource> {
    if ('url' in spec) return new ChromaSource(await ChromaClient.connect(spec.url), spec.url);
    const { server, version } = await serveDirectory(spec.dir, spec.version, options);
    try {
      return new ChromaSource(
        await ChromaClient.connect(server.url),
        `${path.resolve(spec.dir)} (Chroma ${version})`,
        server,
      );
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.server?.stop();
  }

  /** The named collections (all when `names` is empty), in the order given; fails on any name the server lacks. */
  async collections(names: string[] = []): Promise<SourceCollection[]> {
    const all = await this.client.listCollections();
    const byName = new Map(all.map((c) => [c.name, c]));
    const missing = names.filter((n) => !byName.has(n));
    if (missing.length > 0) {
      const existing = all.map((c) => c.name).sort();
      throw new UnknownCollectionError(
        `${missing.map((n) => `collection ${JSON.stringify(n)}`).join(', ')} not found in ${this.client.describe()}`,
        {
          problems: missing.map(
            (n) =>
              `no collection ${JSON.stringify(n)}; existing: ${existing.length > 0 ? existing.join(', ') : '(none)'}`,
          ),
        },
      );
    }
    const chosen =
      names.length > 0 ? names.map((n) => byName.get(n)!) : all.sort((a, b) => a.name.localeCompare(b.name));
    const out: SourceCollection[] = [];
    for (const info of chosen) {
      const first = await this.client.get(info, { limit: 1, offset: 0 }, ['embeddings']);
      out.push({
        info,
        name: info.name,
        space: chromaSpaceOf(
          info.name,
          info.metadata,
          info.configuration ??
            (info as { configuration_json?: Record<string, unknown> }).configuration_json ??
            null,
        ),
        dimension: first.embeddings?.[0]?.length,
        count: await this.client.count(info),
      });
    }
    return out;
  }

  /**
   * Pages of records from `offset` on, `pageSize` at a time. `readAhead` further pages are requested while the caller
   * works on the current one (a server answers concurrent gets in parallel), so memory stays `readAhead + 1` pages.
   */
  async *pages(
    collection: SourceCollection,
    options: { offset?: number; pageSize: number; readAhead?: number },
  ): AsyncGenerator<{ offset: number; records: TransferRecord[] }> {
    const ahead = options.readAhead ?? 2;
    const fetchPage = (at: number) =>
      this.client
        .get(collection.info, { offset: at, limit: options.pageSize }, [
          'embeddings',
          'documents',
          'metadatas',
        ])
        .then(decodeRecords);
    const queue: { offset: number; records: Promise<TransferRecord[]> }[] = [];
    let next = options.offset ?? 0;
    let ended = false;
    const schedule = () => {
      while (!ended && queue.length <= ahead) {
        const records = fetchPage(next);
        // A rejection surfaces when that page is awaited; until then it must not end the process.
        records.catch(() => {});
        queue.push({ offset: next, records });
        next += options.pageSize;
      }
    };
    schedule();
    for (let guard = 0; guard < 100_000_000 && queue.length > 0; guard++) {
      const page = queue.shift()!;
      const records = await page.records;
      if (records.length === 0) return;
      if (records.length < options.pageSize) ended = true;
      schedule();
      yield { offset: page.offset, records };
    }
  }

  async recordsByIds(collection: SourceCollection, ids: string[]): Promise<TransferRecord[]> {
    return decodeRecords(
      await this.client.get(collection.info, { ids }, ['embeddings', 'documents', 'metadatas']),
    );
  }

  /** Chroma's own (HNSW) top-k of each vector: ids, best first, with each hit's embedding. */
  async query(
    collection: SourceCollection,
    vectors: Float32Array[],
    k: number,
  ): Promise<{ ids: string[]; embeddings: Float32Array[] }[]> {
    const result = await this.client.query(
      collection.info,
      vectors.map((v) => Array.from(v)),
      k,
      ['embeddings', 'distances'],
    );
    return result.ids.map((ids, q) => ({
      ids,
      embeddings: (result.embeddings?.[q] ?? []).map((e) => Float32Array.from(e)),
    }));
  }
}

/** Chroma's columnar get result as records (embeddings as float32: Chroma stores float32 and prints each shortest). */
export function decodeRecords(result: {
  ids: string[];
  embeddings?: number[][] | null;
  documents?: (string | null)[] | null;
  metadatas?: (Record<string, unknown> | null)[] | null;
}): TransferRecord[] {
  return result.ids.map((id, i) => {
    const embedding = result.embeddings?.[i];
    if (!embedding)
      throw new TransferError(`chroma returned record ${JSON.stringify(id)} without its embedding`);
    return {
      id,
      embedding: Float32Array.from(embedding),
      document: result.documents?.[i] ?? null,
      metadata: normaliseMetadata(result.metadatas?.[i]),
    };
  });
}

/**
 * Serves a persisted directory with the Chroma version that wrote it: copies it, reads its layout from the copy,
 * refuses a directory written by another version than `named` (or, unnamed, picks the version whose layout it has),
 * installs that version on demand and starts it on loopback. The copy is removed when the server stops.
 */
async function serveDirectory(
  dir: string,
  named: string | undefined,
  options: OpenSourceOptions,
): Promise<{ server: ChromaServer; version: ChromaVersion }> {
  if (named !== undefined && !isChromaVersion(named))
    throw new TransferError(`--chroma-version ${named}: allowed values: ${CHROMA_VERSION_NAMES.join(', ')}`);
  const layout = readChromaLayout(dir);
  const matching = CHROMA_VERSION_NAMES.filter(
    (v) => compareLayouts(layout, [...CHROMA_VERSIONS[v].layout]).same,
  );
  let version: ChromaVersion;
  if (named !== undefined) {
    const comparison = compareLayouts(layout, [...CHROMA_VERSIONS[named as ChromaVersion].layout]);
    if (!comparison.same) throw layoutMismatch(dir, named, comparison, matching);
    version = named as ChromaVersion;
  } else {
    if (matching.length === 0)
      throw new TransferError(
        `--from-dir ${dir}: its layout (${layout.length} migrations) matches no supported Chroma version (${CHROMA_VERSION_NAMES.join(', ')})`,
        {
          remedy: 'see docs/migration.md, "Limits"',
        },
      );
    version = matching[matching.length - 1]!;
  }
  const { install, built } = await ensureChromaInstall(version, {
    progress: options.progress,
    environ: options.environ,
  });
  if (built) options.progress?.log(`chroma ${version}: installed in ${install.installSeconds}s`);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'vectorstack-chroma-copy-'));
  const copy = path.join(scratch, 'data');
  try {
    options.progress?.log(`chroma ${version}: copying ${dir} to ${copy}`);
    cpSync(dir, copy, { recursive: true, preserveTimestamps: true });
    const server = await startChromaServer(install, {
      dataDir: copy,
      progress: options.progress,
      removeOnStop: [scratch],
    });
    return { server, version };
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
}
