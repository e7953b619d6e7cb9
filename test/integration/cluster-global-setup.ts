import { requirePreparedHost } from './prerequisites.js';

/** The cluster files bring up their own cluster or API server; they need the prepared host, and fail loudly without it. */
export async function setup(): Promise<void> {
  await requirePreparedHost();
}
