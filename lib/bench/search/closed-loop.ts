// N clients in a closed loop: each sends its next query as soon as its previous one answered, drawing query numbers from
// one shared counter until `count` have been sent. Bounded by the count; every latency is kept.

export interface ClosedLoopResult<T> {
  /** results[i]: what query i returned. */
  results: T[];
  /** latenciesMs[i]: time from sending query i to its answer. */
  latenciesMs: number[];
  wallMs: number;
}

export async function runClosedLoop<C, T>(
  clients: readonly C[],
  count: number,
  send: (client: C, query: number) => Promise<T>,
): Promise<ClosedLoopResult<T>> {
  if (clients.length === 0) throw new RangeError('at least one client is needed');
  const results: T[] = new Array(count);
  const latenciesMs: number[] = new Array(count);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      for (let query = next++; query < count; query = next++) {
        const t0 = performance.now();
        results[query] = await send(client, query);
        latenciesMs[query] = performance.now() - t0;
      }
    }),
  );
  return { results, latenciesMs, wallMs: performance.now() - started };
}
