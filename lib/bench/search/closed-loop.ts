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

/**
 * The closed loop over requests of up to `batch` queries each: request r asks queries r*batch onwards. Every query gets
 * its request's latency, so percentiles stay per query and QPS counts queries, not requests.
 */
export async function runBatchedLoop<C, T>(
  clients: readonly C[],
  count: number,
  batch: number,
  send: (client: C, first: number, n: number) => Promise<T[]>,
): Promise<ClosedLoopResult<T>> {
  if (!(Number.isInteger(batch) && batch >= 1))
    throw new RangeError(`queries per request must be a whole number >= 1, got ${batch}`);
  const size = (request: number) => Math.min(batch, count - request * batch);
  const run = await runClosedLoop(clients, Math.ceil(count / batch), (client, request) =>
    send(client, request * batch, size(request)),
  );
  const results: T[] = [];
  const latenciesMs: number[] = [];
  run.results.forEach((answers, request) => {
    if (answers.length !== size(request))
      throw new Error(`request ${request}: ${answers.length} answers to ${size(request)} queries`);
    for (const answer of answers) {
      results.push(answer);
      latenciesMs.push(run.latenciesMs[request]!);
    }
  });
  return { results, latenciesMs, wallMs: run.wallMs };
}
