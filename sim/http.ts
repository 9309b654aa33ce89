/**
 * The runtime-neutral HTTP exchange of the simulator, and the two forms of reply pveproxy sends:
 * through the JSON formatter (PVE::APIServer::Formatter::Standard, with the {"data": ...} envelope
 * and the content type clients compare literally) or bare (PVE::APIServer::AnyEvent::error and
 * HTTP::Response objects without the formatter: plain body, no content type).
 */

export interface ApiRequest {
  method: string;
  /** The request target: path and optional query string, still percent-encoded. */
  url: string;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
  body: Buffer;
}

export interface ApiResponse {
  status: number;
  /** The status line's reason phrase: PVE puts the first line of its error message there. */
  reason: string;
  headers: Record<string, string>;
  body: string;
  /** pveproxy delays every 401 (3 s in PVE); configurable so tests stay fast. */
  delayMs: number;
}

/** What rest_handler hands the formatter. */
export interface RestResult {
  status: number;
  message?: string;
  data?: unknown;
  errors?: Record<string, string>;
  total?: number;
}

const jsonContentType = "application/json;charset=UTF-8";

/** A reply PVE sends through $self->error() or a bare HTTP::Response: plain body, no content type. */
export function bare(status: number, message: string, body = message): ApiResponse {
  return { status, reason: firstLine(message), headers: {}, body, delayMs: 0 };
}

function firstLine(message: string): string {
  return message.split(/\r?\n/)[0] ?? "";
}

const httpReasons: Record<number, string> = { 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error", 501: "Not Implemented" };

/** PVE::APIServer::Formatter::Standard prepare_response_data for the 'json' format. */
export function formatJson(result: RestResult, unauthorizedDelayMs: number): ApiResponse {
  const isError = result.status >= 400;
  const envelope: Record<string, unknown> = { data: result.data ?? null };
  const errors = result.errors && Object.keys(result.errors).length ? result.errors : undefined;
  if (errors) envelope.errors = errors;
  if (isError) envelope.message = result.message || httpReasons[result.status] || "";
  if (!errors && result.total) envelope.total = result.total;
  return {
    status: result.status,
    reason: firstLine(result.message ?? "") || httpReasons[result.status] || "",
    headers: { "Content-Type": jsonContentType },
    body: JSON.stringify(envelope),
    delayMs: result.status === 401 ? unauthorizedDelayMs : 0,
  };
}
