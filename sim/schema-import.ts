/**
 * Regenerates `shared/pve-schema/pve-api.json` from the published PVE API dumps:
 *
 *   node sim/schema-import.ts <dir>   (the PVE API dumps, e.g. /work/shared/pve-api)
 *
 * The endpoint list comes from `pve-endpoints.json` (flat, one entry per path and method, with the
 * `returns_upid` heuristic). Two things that list flattens away are taken from the API viewer tree
 * `pve-apidoc.json` for the same path and method: `additionalProperties` (PVE::JSONSchema only refuses
 * unknown parameters when it is 0) and the full key schema of property-string formats (the flat
 * list keeps only `format_keys`). Prose (descriptions, typetext) is dropped to keep the file small,
 * except the description of `permissions`: it states the checks a method makes itself (lists filtered
 * by privilege), which the agent quotes when it explains what a token may do.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { indexTree, type TreeNode } from "./api-tree.ts";
import { z } from "zod";

const flatEndpoint = z.looseObject({
  path: z.string(),
  method: z.enum(["GET", "POST", "PUT", "DELETE"]),
  name: z.string(),
  allowtoken: z.union([z.number(), z.boolean()]).optional(),
  protected: z.boolean().optional(),
  proxyto: z.string().nullable().optional(),
  permissions: z.unknown().optional(),
  returns: z.unknown().optional(),
  returns_upid: z.boolean().optional(),
});
const flatFile = z.object({ source: z.string(), endpoints: z.array(flatEndpoint) });

const proseKeys = new Set(["description", "verbose_description", "typetext", "format_description", "title", "completion"]);

/**
 * Deep copy without the human prose; the validator never reads it. Keys of a `properties` map are
 * parameter names, not prose: a parameter called `description` (guest configs, snapshots) stays.
 */
function stripProse(value: unknown, names = false): unknown {
  if (Array.isArray(value)) return value.map((v) => stripProse(v));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (names || !proseKeys.has(k)) out[k] = stripProse(v, !names && k === "properties");
  }
  return out;
}

/** The permissions object without prose, but with its top-level description. */
function permissionsOf(permissions: unknown): unknown {
  if (permissions === null || typeof permissions !== "object") return null;
  const { description } = permissions as { description?: unknown };
  const out = stripProse(permissions) as Record<string, unknown>;
  return typeof description === "string" ? { ...out, description } : out;
}

function main(dir: string): void {
  const flat = flatFile.parse(JSON.parse(readFileSync(join(dir, "pve-endpoints.json"), "utf8")));
  const tree = indexTree(JSON.parse(readFileSync(join(dir, "pve-apidoc.json"), "utf8")) as TreeNode[]);
  const endpoints = flat.endpoints.map((e) => {
    const parameters = tree.get(e.path)?.info?.[e.method]?.parameters;
    if (!parameters) throw new Error(`${e.method} ${e.path}: not in pve-apidoc.json`);
    return {
      path: e.path,
      method: e.method,
      name: e.name,
      allowtoken: Boolean(e.allowtoken ?? 1),
      protected: Boolean(e.protected),
      proxyto: e.proxyto ?? null,
      permissions: permissionsOf(e.permissions),
      returns_upid: Boolean(e.returns_upid),
      parameters: stripProse(parameters),
      returns: stripProse(e.returns ?? null),
    };
  });
  const out = { source: `sim/schema-import.ts from ${flat.source}`, endpoints };
  writeFileSync(new URL("../shared/pve-schema/pve-api.json", import.meta.url), JSON.stringify(out) + "\n");
  process.stdout.write(`wrote ${endpoints.length} endpoints\n`);
}

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: node sim/schema-import.ts <directory with pve-endpoints.json and pve-apidoc.json>\n");
  process.exit(2);
}
main(dir);
