import { ToolError } from "../../shared/errors.ts";
import type { Endpoint } from "../../shared/pve-schema/catalog.ts";
import { pveCatalog } from "../../shared/pve-schema/pve.ts";
import { normalizeLegacyFormats, validateParams } from "../../shared/pve-schema/schema.ts";
import { pveApiCall, pveApiGet } from "../../shared/tools/api.ts";
import { implement } from "./registry.ts";
import { followTask } from "./tasks.ts";
import { ANSWER_BUDGET } from "./values.ts";

interface Checked {
  path: string;
  endpoint: Endpoint;
  params: Record<string, unknown>;
}

/** A parameter as the form body or query string carries it, which is what PVE validates. */
function wireValue(key: string, value: unknown): string | string[] {
  if (Array.isArray(value)) return value.map((v) => String(wireValue(key, v)));
  if (typeof value === "boolean") return value ? "1" : "0";
  if (value !== null && typeof value === "object") throw new ToolError("invalid_arguments", `${key}: an object cannot be sent as a PVE parameter; give a string (PVE property strings look like "key=value,key2=value2")`);
  return String(value);
}

/** The nearest shorter path the API has, to point at when a path does not exist. */
function nearestPath(path: string): string | undefined {
  const catalog = pveCatalog();
  const parts = path.split("/").filter(Boolean);
  while (parts.length) {
    parts.pop();
    const candidate = `/${parts.join("/")}`;
    const methods = catalog.methodsAt(candidate);
    if (methods.length) return `${catalog.match(methods[0], candidate)?.endpoint.path ?? candidate} (${methods.join(", ")})`;
  }
  return undefined;
}

/**
 * Checks a raw call against the PVE API schema before anything is sent, the way pveproxy would
 * answer it: the path must exist, have this method and allow API tokens, and the parameters must
 * pass PVE::JSONSchema (with PVE's own messages).
 */
export function checkApiCall(method: string, rawPath: string, rawParams: Record<string, unknown> = {}): Checked {
  const path = `/${rawPath.replace(/^\/api2\/json/, "").split("/").filter(Boolean).join("/")}`;
  const catalog = pveCatalog();
  const match = catalog.match(method, path);
  if (!match) {
    const methods = catalog.methodsAt(path);
    if (methods.length) {
      const template = catalog.match(methods[0], path)!.endpoint.path;
      const other = methods.includes("GET") ? "pve_api_get" : "pve_api_call";
      throw new ToolError("invalid_arguments", `${method} is not defined for ${path} (${template}) in the PVE 9 API; it allows ${methods.join(", ")}: use ${other} with one of those`);
    }
    const near = nearestPath(path);
    throw new ToolError("invalid_arguments", `no path ${path} in the PVE 9 API${near ? `; the nearest existing path is ${near}` : ""}`);
  }
  const { endpoint, uriParams } = match;
  if (!endpoint.allowtoken) throw new ToolError("invalid_arguments", `PVE does not accept API tokens on ${method} ${endpoint.path} (it needs a password login): the agent cannot call it`);
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rawParams)) {
    if (value === undefined || value === null) continue;
    params[key] = wireValue(key, value);
  }
  const merged: Record<string, unknown> = { ...uriParams };
  for (const [key, value] of Object.entries(params)) {
    if (merged[key] !== undefined && merged[key] !== value) throw new ToolError("invalid_arguments", `${key}: given as ${JSON.stringify(value)} but the path says ${JSON.stringify(merged[key])}`);
    merged[key] = value;
  }
  normalizeLegacyFormats(merged, endpoint.parameters);
  const errors = validateParams(merged, endpoint.parameters);
  if (errors) {
    const list = Object.entries(errors).map(([k, v]) => `${k}: ${v.trim()}`).join("; ");
    throw new ToolError("invalid_arguments", `PVE's API schema refuses the parameters of ${method} ${endpoint.path}: ${list}`, { errors });
  }
  return { path, endpoint, params };
}

/** A page of an array reply that fits the answer budget; objects must fit whole. */
function fit(data: unknown, limit: number, cursor?: string): { data: unknown; total?: number; next_cursor?: string } {
  if (!Array.isArray(data)) {
    const size = JSON.stringify(data ?? null).length;
    if (size > ANSWER_BUDGET) throw new ToolError("invalid_arguments", `the reply is ${Math.round(size / 1024)} KiB, more than this tool returns; narrow it with parameters (or read a sub-path)`);
    return { data };
  }
  const start = cursor ? Math.max(0, Number.parseInt(cursor, 10) || 0) : 0;
  const page: unknown[] = [];
  let size = 2;
  for (const item of data.slice(start, start + limit)) {
    const next = JSON.stringify(item).length + 1;
    if (page.length && size + next > ANSWER_BUDGET) break;
    page.push(item);
    size += next;
  }
  const end = start + page.length;
  return { data: page, total: data.length, ...(end < data.length ? { next_cursor: String(end) } : {}) };
}

export const apiTools = [
  implement(pveApiGet, async ({ path, params, limit, cursor }, ctx) => {
    const checked = checkApiCall("GET", path, params);
    const data = await ctx.pve.request("GET", checked.path, checked.params, ctx);
    return { method: "GET", path: checked.path, endpoint: checked.endpoint.path, ...fit(data, limit, cursor) };
  }),
  implement(pveApiCall, async ({ method, path, params, wait, wait_seconds }, ctx) => {
    const checked = checkApiCall(method, path, params);
    const data = await ctx.pve.request(method, checked.path, checked.params, ctx);
    const head = { method, path: checked.path, endpoint: checked.endpoint.path, ...fit(data, 500) };
    if (typeof data !== "string" || !data.startsWith("UPID:")) return head;
    ctx.note({ upid: data });
    const outcome = wait ? await followTask(ctx, data, wait_seconds * 1000) : { upid: data, status: "running" as const };
    return { ...head, ...outcome };
  }),
];
