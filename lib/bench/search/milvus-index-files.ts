// Milvus's index files in its object store: <rootPath>/index_files/<buildID>/<version>/<partition>/<segment>/<file>.
// Milvus 2.3 reports no index size through its API, so the bench sums the objects of the builds that appeared during
// one index build.
import type * as Minio from 'minio';

/** Bytes per build id under `<rootPath>/index_files/`. */
export async function indexFileBytes(
  minio: Minio.Client,
  bucket: string,
  rootPath: string,
): Promise<Map<string, number>> {
  const prefix = `${rootPath}/index_files/`;
  const bytes = new Map<string, number>();
  for await (const item of minio.listObjectsV2(bucket, prefix, true) as AsyncIterable<Minio.BucketItem>) {
    if (!item.name) continue;
    const build = item.name.slice(prefix.length).split('/')[0]!;
    bytes.set(build, (bytes.get(build) ?? 0) + (item.size ?? 0));
  }
  return bytes;
}

/** Bytes of the builds in `after` that were not in `before`. */
export function newBuildBytes(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [build, size] of after) if (!before.has(build)) total += size;
  return total;
}
