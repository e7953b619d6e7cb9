import { requirePreparedHost } from './prerequisites.js';

/**
 * The files that bring up servers of their own (a cluster, an API server, the chaos test's Docker stack) need the
 * prepared host, and fail loudly without it.
 */
export async function setup(): Promise<void> {
  await requirePreparedHost();
}
