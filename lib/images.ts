import { existsSync, readFileSync } from 'node:fs';
import { VectorstackError } from './errors.js';
import { imagesFile } from './paths.js';

/**
 * The one place image tags are pinned. Users get the official public images; `npm run setup` on a host that cannot
 * pull them builds local equivalents and writes their tags to the override file, which takes precedence.
 */
export const DEFAULT_IMAGES = {
  postgres: 'pgvector/pgvector:0.8.0-pg17',
  etcd: 'quay.io/coreos/etcd:v3.5.16',
  minio: 'minio/minio:RELEASE.2024-12-18T13-15-44Z',
  mc: 'minio/mc:RELEASE.2024-11-21T17-21-54Z',
  milvus: 'milvusdb/milvus:v2.6.16',
  redis: 'redis:8.0.2',
} as const satisfies Record<string, string>;

export type ImageKey = keyof typeof DEFAULT_IMAGES;
export const IMAGE_KEYS = Object.keys(DEFAULT_IMAGES) as ImageKey[];

/** The image override file or an image key is wrong. */
export class ImageOverrideError extends VectorstackError {}

/** Reads the override file written by setup; absent file means no overrides. */
export function readImageOverrides(file = imagesFile()): Partial<Record<ImageKey, string>> {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ImageOverrideError(
      `image override file ${file} is not valid JSON (${(error as Error).message}); re-run npm run setup`,
    );
  }
  const images = (parsed as { images?: unknown }).images;
  if (images === null || typeof images !== 'object')
    throw new ImageOverrideError(`image override file ${file}: missing "images" object`);
  const out: Partial<Record<ImageKey, string>> = {};
  for (const [key, value] of Object.entries(images)) {
    if (!(key in DEFAULT_IMAGES)) {
      throw new ImageOverrideError(
        `image override file ${file}: unknown image "${key}"; allowed: ${IMAGE_KEYS.join(', ')}`,
      );
    }
    if (typeof value !== 'string' || value === '')
      throw new ImageOverrideError(`image override file ${file}: images.${key} must be a tag`);
    out[key as ImageKey] = value;
  }
  return out;
}

/** Resolves each image: config override, then the setup override file, then the pinned default. */
export function resolveImages(
  configImages: Record<string, string>,
  fileOverrides: Partial<Record<ImageKey, string>> = readImageOverrides(),
): Record<ImageKey, string> {
  for (const key of Object.keys(configImages)) {
    if (!(key in DEFAULT_IMAGES))
      throw new ImageOverrideError(`images.${key}: unknown image; allowed: ${IMAGE_KEYS.join(', ')}`);
  }
  const resolved = {} as Record<ImageKey, string>;
  for (const key of IMAGE_KEYS)
    resolved[key] = configImages[key] ?? fileOverrides[key] ?? DEFAULT_IMAGES[key];
  return resolved;
}
