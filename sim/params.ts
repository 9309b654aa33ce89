/**
 * Request parameters as PVE::APIServer::AnyEvent::extract_params and PVE::HTTPServer::rest_handler
 * collect them: form or JSON body for POST and PUT, the query string on top, then the values of
 * the URL's {placeholders}.
 */
import type { Match } from "../shared/pve-schema/catalog.ts";
import { paramError } from "./errors.ts";

/** decode_urlencoded: '&' or ';' separated, '+' is a space, repeated keys become arrays. */
export function decodeUrlencoded(text: string, into: Record<string, unknown> = {}): Record<string, unknown> {
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s.replace(/\+/g, " "));
    } catch {
      return s.replace(/\+/g, " ");
    }
  };
  for (const pair of text.split(/[&;]/)) {
    if (pair === "") continue;
    // Perl's split(/=/) drops trailing empty fields: "a=" leaves the value undefined, "a=b=c" keeps "b".
    const fields = pair.split("=");
    while (fields.length > 1 && fields[fields.length - 1] === "") fields.pop();
    const key = decode(fields[0]);
    const value = fields.length > 1 ? decode(fields[1]) : undefined;
    const old = into[key];
    into[key] = value === undefined || old === undefined ? value : Array.isArray(old) ? [...old, value] : [old, value];
  }
  return into;
}

/** extract_params: the body (form or JSON) for POST and PUT, then the query string on top. */
export function extractParams(method: string, contentType: string | undefined, body: Buffer, query: string): Record<string, unknown> {
  let params: Record<string, unknown> = {};
  if (method === "POST" || method === "PUT") {
    const text = body.toString("utf8");
    if ((contentType ?? "").split(/\s*[;,]\s*/)[0] === "application/json") {
      const parsed: unknown = text ? JSON.parse(text) : {};
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("Not a HASH reference\n");
      params = parsed as Record<string, unknown>;
    } else {
      params = decodeUrlencoded(text);
    }
  }
  const fromQuery = decodeUrlencoded(query);
  for (const [k, v] of Object.entries(fromQuery)) params[k] = v;
  delete params._dc; // ExtJS cache buster
  return params;
}

/** rest_handler refuses a body or query parameter that contradicts the same name in the URL. */
export function mergeUriParams(match: Match, params: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...match.uriParams };
  for (const key of Object.keys(params).sort()) {
    if (merged[key] !== undefined && merged[key] !== String(params[key])) {
      throw paramError({ [key]: "duplicate parameter (already defined in URI) with conflicting values!" });
    }
    merged[key] = params[key];
  }
  return merged;
}
