/**
 * A failed API call, shaped like what PVE::HTTPServer::rest_handler hands the formatter: an HTTP
 * status, a message (its first line becomes the status text) and, for parameter errors, one message
 * per parameter. Messages keep PVE's trailing newline: Perl code dies with "...\n" and the JSON
 * formatter copies the message verbatim, so real replies carry it too.
 */
export class PveError extends Error {
  readonly status: number;
  readonly errors?: Record<string, string>;

  constructor(status: number, message: string, errors?: Record<string, string>) {
    super(message);
    this.name = "PveError";
    this.status = status;
    this.errors = errors;
  }
}

/** `die "...\n"` inside a handler: PVE answers 500 with the message as status text and body. */
export function die(message: string): PveError {
  return new PveError(500, message.endsWith("\n") ? message : `${message}\n`);
}

/** PVE::Exception::raise_param_exc. */
export function paramError(errors: Record<string, string>): PveError {
  return new PveError(400, "Parameter verification failed.\n", errors);
}

/** PVE::Exception::raise_perm_exc; `what` is usually "<path>, <privilege>". */
export function permError(what?: string): PveError {
  return new PveError(403, what ? `Permission check failed (${what})\n` : "Permission check failed\n");
}
