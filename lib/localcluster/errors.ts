/**
 * A local-cluster step failed. The message names the component, the address or file involved and the remedy; the
 * CLI prints `remedy` on its own line and exits with `exitCode`.
 */
export class LocalClusterError extends Error {
  readonly remedy?: string;
  readonly exitCode = 1;

  constructor(
    readonly component: string,
    message: string,
    remedy?: string,
  ) {
    super(`${component}: ${message}${remedy ? ` (remedy: ${remedy})` : ''}`);
    this.name = 'LocalClusterError';
    this.remedy = remedy;
  }
}
