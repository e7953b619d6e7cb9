/** One line per event, prefixed with the elapsed time: readable in a terminal and in a CI log alike. */
export class Progress {
  private readonly started = Date.now();

  constructor(
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
    private readonly enabled = true,
  ) {}

  log(message: string): void {
    if (!this.enabled) return;
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1).padStart(6);
    this.write(`[${seconds}s] ${message}`);
  }

  /** Runs `work`, printing a heartbeat every `everySeconds` so a long step never looks hung. */
  async heartbeat<T>(label: string, work: Promise<T>, everySeconds = 30): Promise<T> {
    const begun = Date.now();
    const timer = setInterval(
      () => this.log(`${label}: still running (${Math.round((Date.now() - begun) / 1000)}s)`),
      everySeconds * 1000,
    );
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }
}
