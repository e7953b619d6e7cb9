/**
 * Reads one page ahead: while the consumer works on a page, the next one is already being fetched, so the two stores'
 * round trips overlap with the comparison. Holds at most two pages. A failed prefetch surfaces when its page is due.
 */
export async function* readAhead<T>(pages: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = pages[Symbol.asyncIterator]();
  let pending = iterator.next();
  // Handled here so a failure is not reported as unhandled while the consumer is busy; awaited below all the same.
  pending.catch(() => {});
  try {
    for (;;) {
      const result = await pending;
      if (result.done) return;
      pending = iterator.next();
      pending.catch(() => {});
      yield result.value;
    }
  } finally {
    await pending.catch(() => undefined);
    await iterator.return?.();
  }
}
