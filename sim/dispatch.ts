/**
 * The request pipeline of pveproxy, runtime-neutral (no sockets here): PVE::APIServer::AnyEvent
 * (process_header, authenticate_and_handle_request, handle_api2_request) and
 * PVE::HTTPServer::rest_handler, in their order:
 *
 *   method and transfer-encoding checks -> /api2/<format> split -> authentication (401)
 *   -> body checks -> parameter extraction -> find_handler (501) -> duplicate URI parameters (400)
 *   -> API-token allowance and permission check (403) -> proxy to the `node` parameter's node
 *   (595 when it is unreachable) -> parameter validation (400) -> the method (500 on die)
 *   -> the JSON formatter: {"data": ...} plus "errors", "message" and "total" when set.
 *
 * Replies that PVE sends without the formatter (401 from authentication, transport errors, proxy
 * failures) have an empty or plain-text body and no JSON content type, as in PVE.
 */
import { AuthFailure, type AuthResult } from "./auth.ts";
import type { Match } from "../shared/pve-schema/catalog.ts";
import type { CallContext, Sim } from "./context.ts";
import { die, paramError, permError, PveError } from "./errors.ts";
import { checkApiPermissions } from "./permissions.ts";
import { routes } from "./routes/index.ts";
import { normalizeLegacyFormats, validateParams } from "../shared/pve-schema/schema.ts";
import { findNode, type SimNode } from "./state.ts";
import { bare, formatJson, type ApiRequest, type ApiResponse, type RestResult } from "./http.ts";
import { extractParams, mergeUriParams } from "./params.ts";

export type { ApiRequest, ApiResponse } from "./http.ts";

/** One non-GET API call, as recorded for tests. */
export interface Mutation {
  time: number;
  method: string;
  path: string;
  params: Record<string, unknown>;
  /** The X-Call-Id request header (sent by the agent; real PVE ignores it). */
  callId?: string;
  /** The task the call started, if it returned a UPID. */
  upid?: string;
  status: number;
}

export interface DispatchOptions {
  unauthorizedDelayMs: number;
  onMutation(mutation: Mutation): void;
}

const knownMethods = new Set(["GET", "POST", "PUT", "DELETE"]);
const maxPostBytes = 512 * 1024; // $limit_max_post in PVE::APIServer::AnyEvent

export function createDispatcher(sim: Sim, options: DispatchOptions): (req: ApiRequest) => Promise<ApiResponse> {
  /** PVE::HTTPServer::rest_handler: the API method call, or the bare 595 of a failed proxy connect. */
  const restHandler = async (method: string, rel: string, auth: AuthResult, params: Record<string, unknown>): Promise<RestResult | ApiResponse> => {
    const match = sim.catalog.match(method, rel);
    if (!match) return { status: 501, message: `Method '${method} ${rel}' not implemented` };
    try {
      const merged = mergeUriParams(match, params);
      if (auth.apiToken && !match.endpoint.allowtoken) throw permError(`URI '${rel}' not available with API token, need proper ticket.\n`);
      checkApiPermissions(sim.access, match.endpoint.permissions, auth.authid, merged);
      const target = proxyTarget(match, merged);
      if (target && !target.online) {
        // AnyEvent::HTTP reports a failed connect as status 595 with the OS error as reason and no body.
        return bare(595, "No route to host", "");
      }
      normalizeLegacyFormats(merged, match.endpoint.parameters);
      const errors = validateParams(merged, match.endpoint.parameters);
      if (errors) throw paramError(errors);
      const handler = routes[`${method} ${match.endpoint.path}`];
      if (!handler) return { status: 501, message: `Method '${method} ${rel}' not simulated (the PVE API has it, the simulator does not implement it)` };
      let total: number | undefined;
      const ctx: CallContext = {
        sim,
        node: target ?? findNode(sim.state, sim.state.localNode)!,
        params: merged,
        authid: auth.authid,
        endpoint: match.endpoint,
        setTotal: (n) => {
          total = n;
        },
      };
      const data = await handler(ctx);
      return { status: 200, data, total };
    } catch (err) {
      if (err instanceof PveError) return { status: err.status, message: err.message, errors: err.errors };
      return { status: 500, message: err instanceof Error ? err.message : String(err) };
    }
  };

  /** resolve_proxyto: the node a call with `proxyto` runs on; undefined when it runs locally. */
  const proxyTarget = (match: Match, params: Record<string, unknown>): SimNode | undefined => {
    const key = match.endpoint.proxyto;
    if (!key) return undefined;
    const name = params[key];
    if (name === undefined || name === null || name === "") throw paramError({ [key]: "proxyto parameter does not exist" });
    if (name === "localhost" || name === sim.state.localNode) return undefined;
    const node = findNode(sim.state, String(name));
    // PVE::Cluster::remote_node_ip falls back to a DNS lookup for names outside the cluster.
    if (!node) throw die(`hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known`);
    return node;
  };

  const record = (req: ApiRequest, rel: string, params: Record<string, unknown>, result: RestResult | ApiResponse): void => {
    const data = "data" in result ? result.data : undefined;
    const upid = typeof data === "string" && data.startsWith("UPID:") ? data : undefined;
    const safe = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, k === "password" ? "**********" : v]));
    const callId = req.header("x-call-id");
    options.onMutation({
      time: Date.now(),
      method: req.method,
      path: rel,
      params: safe,
      ...(callId !== undefined ? { callId } : {}),
      ...(upid !== undefined ? { upid } : {}),
      status: result.status,
    });
  };

  return async (req) => {
    const target = parseTarget(req);
    if ("reason" in target) return target;
    const { rel, format, query } = target;

    let auth: AuthResult;
    try {
      auth = sim.auth.authenticate({ method: req.method, relPath: rel, header: req.header });
    } catch (err) {
      if (!(err instanceof AuthFailure)) throw err;
      return { ...bare(401, err.message, ""), delayMs: options.unauthorizedDelayMs };
    }

    const refused = checkBody(req);
    if (refused) return refused;
    if (format !== "json") return bare(501, `no formatter for uri ${rel}, ${format}`);

    let params: Record<string, unknown>;
    try {
      params = extractParams(req.method, req.header("content-type"), req.body, query);
    } catch (err) {
      return bare(500, err instanceof Error ? err.message : String(err));
    }
    const result = await restHandler(req.method, rel, auth, params);
    if (req.method !== "GET" && auth.authid !== undefined) record(req, rel, params, result);
    return "reason" in result ? result : formatJson(result, options.unauthorizedDelayMs);
  };
}

/** process_header and split_abs_uri: the checks a request meets before authentication. */
function parseTarget(req: ApiRequest): { rel: string; format: string; query: string } | ApiResponse {
  if (!knownMethods.has(req.method)) return bare(501, `method '${req.method}' not available`, "");
  const te = req.header("transfer-encoding");
  if (te) return bare(501, te.toLowerCase() === "chunked" ? "chunked transfer encoding not supported" : `Unknown transfer encoding '${te}'`);
  const [rawPath, query = ""] = req.url.split(/\?(.*)/s);
  const path = safeUnescape(rawPath);
  // pveproxy serves its GUI files outside /api2; the simulator has none of them.
  if (!path.startsWith("/api2")) return bare(500, `no such file '${path}'\n`);
  const split = /^\/api2\/+([a-z][a-z0-9]+)(\/.*)?$/.exec(path);
  if (!split) return bare(501, "no such uri");
  return { format: split[1], rel: split[2] ?? "/", query };
}

/** The body checks of authenticate_and_handle_request, made once the caller is known. */
function checkBody(req: ApiRequest): ApiResponse | undefined {
  const length = Number(req.header("content-length") ?? 0);
  if (!length) return undefined;
  if (req.method !== "PUT" && req.method !== "POST") return bare(501, `Unexpected content for method '${req.method}'`);
  if (length > maxPostBytes) return bare(501, "for data too large");
  const contentType = req.header("content-type");
  const ct = contentType?.split(/\s*[;,]\s*/)[0];
  if (ct && ct !== "application/x-www-form-urlencoded" && ct !== "application/json") {
    return bare(506, `upload 'Content-Type '${contentType}' not implemented`);
  }
  return undefined;
}

/** uri_unescape of the path, keeping a malformed escape as it is. */
function safeUnescape(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
