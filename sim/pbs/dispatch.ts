/**
 * The request pipeline of proxmox-backup-proxy (proxmox-rest-server handle_api_request), in its
 * order: /api2/json split -> authentication (401) -> find the method (404 "Path ... not found.")
 * -> permission check (403) -> parameter verification (400) -> the method -> the JSON formatter.
 * Unlike PVE, PBS sends an error as the plain message with status code and a JSON content type,
 * and parameter errors as "parameter verification errors" followed by one line per parameter.
 */
import { timingSafeEqual } from "node:crypto";
import type { Catalog } from "../../shared/pve-schema/catalog.ts";
import { normalizeLegacyFormats, validateParams } from "../../shared/pve-schema/schema.ts";
import { PveError } from "../errors.ts";
import type { ApiRequest, ApiResponse } from "../http.ts";
import { extractParams, mergeUriParams } from "../params.ts";
import { checkApiPermissions, splitTokenId } from "../permissions.ts";
import { PbsError, pbsRoutes, type PbsSim } from "./routes.ts";

const jsonType = { "Content-Type": "application/json;charset=UTF-8" };
const reasons: Record<number, string> = { 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error", 501: "Not Implemented" };

function reply(status: number, body: string): ApiResponse {
  return { status, reason: reasons[status] ?? "", headers: jsonType, body, delayMs: 0 };
}

/** proxmox-schema words for the messages the shared PVE validator produces. */
function pbsWording(message: string): string {
  return message
    .replace(/^property is missing and it is not optional$/, "parameter is missing and it is not optional")
    .replace(/^property is not defined in schema and the schema does not allow additional properties$/, "schema does not allow additional properties.")
    .replace(/^value '(.*)' does not have a value in the enumeration '.*'$/s, "value '$1' is not defined in the enumeration.")
    .replace(/^type check \('boolean'\) failed - got '(.*)'$/, "Unable to parse boolean option.")
    .replace(/^type check \('integer'\) failed - got '(.*)'$/, "expected integer value, got '$1'")
    .trim();
}

/** PBSAPIToken=USER@REALM!TOKEN:SECRET (or with a space instead of '='). */
function authenticate(pbs: PbsSim, header: string | undefined): string {
  const m = /^PBSAPIToken[= ]([^:\s]+):(\S+)$/.exec(header ?? "");
  if (!header) throw new PbsError(401, "authentication failed - no authentication credentials provided.");
  if (!m) throw new PbsError(401, "authentication failed - invalid authentication header");
  const parts = splitTokenId(m[1]);
  const user = parts ? pbs.access.users[parts.userid] : undefined;
  const token = parts ? user?.tokens[parts.token] : undefined;
  const secretOk = token !== undefined && Buffer.byteLength(token.secret) === Buffer.byteLength(m[2]) && timingSafeEqual(Buffer.from(token.secret), Buffer.from(m[2]));
  if (!user?.enabled || !secretOk) throw new PbsError(401, "authentication failed - invalid API token");
  return m[1];
}

export function createPbsDispatcher(pbs: PbsSim, catalog: Catalog): (req: ApiRequest) => Promise<ApiResponse> {
  return async (req) => {
    const [rawPath, query = ""] = req.url.split(/\?(.*)/s);
    const path = decodeURIComponent(rawPath);
    const m = /^\/api2\/json(\/.*)?$/.exec(path);
    if (!m) return reply(404, `Path '${path}' not found.`);
    const rel = m[1] ?? "/";
    try {
      const authid = authenticate(pbs, req.header("authorization"));
      const match = catalog.match(req.method, rel);
      if (!match) throw new PbsError(404, `Path '${path}' not found.`);
      const params = mergeUriParams(match, extractParams(req.method, req.header("content-type"), req.body, query));
      try {
        checkApiPermissions(pbs.access, match.endpoint.permissions, authid, params);
      } catch (err) {
        if (err instanceof PveError && err.status === 403) throw new PbsError(403, "permission check failed");
        throw err;
      }
      normalizeLegacyFormats(params, match.endpoint.parameters);
      const errors = validateParams(params, match.endpoint.parameters);
      if (errors) {
        const lines = Object.entries(errors).map(([k, v]) => `parameter '${k}': ${pbsWording(v)}\n`);
        throw new PbsError(400, `parameter verification errors\n\n${lines.join("")}`);
      }
      const handler = pbsRoutes[`${req.method} ${match.endpoint.path}`];
      if (!handler) throw new PbsError(501, `Method '${req.method} ${match.endpoint.path}' not simulated (the PBS API has it, the simulator does not implement it)`);
      let total: number | undefined;
      const data = await handler({ pbs, params, authid, setTotal: (n) => (total = n) });
      return reply(200, JSON.stringify({ data: data ?? null, ...(total !== undefined ? { total } : {}) }));
    } catch (err) {
      if (err instanceof PbsError) return reply(err.status, err.message);
      if (err instanceof PveError) return reply(err.status, err.errors ? Object.entries(err.errors).map(([k, v]) => `parameter '${k}': ${v}`).join("\n") : err.message);
      return reply(400, err instanceof Error ? err.message : String(err));
    }
  };
}
