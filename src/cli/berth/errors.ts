// Errors the CLI prints and the exit status it ends with. The message is
// printed as is on stderr (docker's texts); nothing reaches the user as a
// stack trace.

export class CliError extends Error {
  /** Set when the daemon could not be reached (run/create prefix "docker: "). */
  readonly connect: boolean;
  constructor(
    message: string,
    readonly exitCode: number,
    opts: { connect?: boolean } = {},
  ) {
    super(message);
    this.name = 'CliError';
    this.connect = opts.connect ?? false;
  }
}

/** An exit status with nothing to print (the container's own status). */
export class ExitStatus extends CliError {
  constructor(code: number) {
    super('', code);
  }
}
