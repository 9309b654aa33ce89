/**
 * Regenerates `sim/pbs/pbs-api.json` from the published Proxmox Backup Server API dumps:
 *
 *   node sim/pbs/schema-import.ts <dir>   (e.g. /work/shared/pve-api)
 *
 * The PBS API is described with proxmox-schema, not PVE::JSONSchema, so the dump is translated into
 * the catalog shape the PVE validator (shared/pve-schema) reads: regex patterns lose their
 * `/.../` delimiters and Python-style named groups, `check` permissions become PVE-style
 * ["perm", path, privs] expressions, and property-string formats (whose key schemas the dump does
 * not carry) are dropped. Prose is removed except the description of `permissions`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { indexTree, type TreeNode } from "../api-tree.ts";
import { z } from "zod";

const flatEndpoint = z.looseObject({
  path: z.string(),
  method: z.enum(["GET", "POST", "PUT", "DELETE"]),
  protected: z.boolean().nullable().optional(),
  permissions: z.unknown().optional(),
  returns: z.unknown().optional(),
  returns_upid: z.boolean().optional(),
});
const flatFile = z.object({ source: z.string(), endpoints: z.array(flatEndpoint) });

const proseKeys = new Set(["description", "verbose_description", "typetext", "format_description", "title", "completion", "format_keys"]);

/** "/^(?:[a-z]+)$/" (a Rust regex in slashes) to "^(?:[a-z]+)$" in JavaScript syntax. */
function pattern(value: string): string {
  const inner = /^\/(.*)\/$/s.exec(value)?.[1] ?? value;
  return inner.replace(/\(\?P</g, "(?<");
}

/** proxmox-schema to the PVE::JSONSchema-like shape the shared validator understands. */
function convertSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(convertSchema);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (proseKeys.has(k)) continue;
    if (k === "format") continue;
    if (k === "pattern" && typeof v === "string") out[k] = pattern(v);
    else if (k === "additionalProperties") out[k] = typeof v === "boolean" ? (v ? 1 : 0) : convertSchema(v);
    else out[k] = convertSchema(v);
  }
  return out;
}

/** PBS Permission (Privilege, Or, And, UserParam, World, Anybody, Superuser) as a PVE-style spec. */
function convertCheck(perm: Record<string, unknown>): unknown[] {
  if (perm.check) {
    const c = perm.check as { path: string[]; privs: string[]; partial: boolean };
    return ["perm", `/${c.path.join("/")}`, c.privs, ...(c.partial ? ["any", 1] : [])];
  }
  if (Array.isArray(perm.or)) return ["or", ...perm.or.map((p) => convertCheck(p as Record<string, unknown>))];
  if (Array.isArray(perm.and)) return ["and", ...perm.and.map((p) => convertCheck(p as Record<string, unknown>))];
  if (perm.userParam) return ["userid-param", "self"];
  return ["perm", "/", ["Sys.Modify"]];
}

function permissionsOf(perm: unknown): Record<string, unknown> | null {
  if (perm === null || typeof perm !== "object") return null;
  const p = perm as Record<string, unknown>;
  const description = typeof p.description === "string" ? { description: p.description } : {};
  if (typeof p.user === "string") return { user: p.user, ...description };
  return { check: convertCheck(p), ...description };
}

function main(dir: string): void {
  const flat = flatFile.parse(JSON.parse(readFileSync(join(dir, "pbs-endpoints.json"), "utf8")));
  const tree = indexTree(JSON.parse(readFileSync(join(dir, "pbs-apidoc.json"), "utf8")) as TreeNode[]);
  const endpoints = flat.endpoints.map((e) => {
    const info = tree.get(e.path)?.info?.[e.method];
    if (!info?.parameters) throw new Error(`${e.method} ${e.path}: not in pbs-apidoc.json`);
    return {
      path: e.path,
      method: e.method,
      name: info.description ?? "",
      allowtoken: true,
      protected: Boolean(e.protected),
      proxyto: null,
      permissions: permissionsOf(e.permissions),
      returns_upid: Boolean(e.returns_upid),
      parameters: convertSchema(info.parameters),
      returns: convertSchema(e.returns ?? null),
    };
  });
  const out = { source: `sim/pbs/schema-import.ts from ${flat.source}`, endpoints };
  writeFileSync(new URL("./pbs-api.json", import.meta.url), JSON.stringify(out) + "\n");
  process.stdout.write(`wrote ${endpoints.length} endpoints\n`);
}

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: node sim/pbs/schema-import.ts <directory with pbs-endpoints.json and pbs-apidoc.json>\n");
  process.exit(2);
}
main(dir);
