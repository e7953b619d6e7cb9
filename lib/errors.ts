/** An error that carries a list of problems, each a full sentence; the CLI prints them one per line. */
export class ProblemsError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
    super(message);
    this.name = new.target.name;
  }
}
