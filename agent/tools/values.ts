/**
 * Small helpers the cluster, node, HA, firewall, access, guest-agent, PBS and raw-API tools share:
 * PVE's loosely typed values, ISO times, and keeping answers under the size a client can carry.
 */
import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import type { ToolContext } from "./registry.ts";
import { parseReply } from "./replies.ts";

/** Kept in scalars.ts, a leaf module, so replies.ts and the event listeners read PVE's values the same way. */
export { flag, num } from "./scalars.ts";

/** Roughly the largest answer (JSON text) a tool sends, well below what MCP clients and n8n accept. */
export const ANSWER_BUDGET = 60 * 1024;

/** Epoch seconds as "2025-11-23T02:00:00Z". */
export function isoTime(epochSec: number): string {
  return new Date(epochSec * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** "1732345200", "2025-11-23", "2025-11-23T08:00", "2025-11-23 08:00:00+01:00" to epoch seconds. */
export function toEpoch(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const normalized = value.replace(" ", "T");
  const withZone = /(Z|[+-]\d\d:?\d\d)$/.test(normalized) ? normalized : `${normalized}${normalized.length === 10 ? "T00:00:00" : ""}Z`;
  const ms = Date.parse(withZone);
  if (Number.isNaN(ms)) throw new Error(`not a time: ${value}`);
  return Math.floor(ms / 1000);
}

/** Keeps the newest lines (the end of the list) whose JSON fits in `budget` bytes; says whether some were left out. */
export function fitNewest(lines: string[], budget = ANSWER_BUDGET): { lines: string[]; truncated: boolean } {
  let size = 0;
  let start = lines.length;
  while (start > 0) {
    const next = JSON.stringify(lines[start - 1]).length + 1;
    if (size + next > budget) break;
    size += next;
    start--;
  }
  return { lines: lines.slice(start), truncated: start > 0 };
}

/** Drops undefined values, so optional output fields stay absent rather than null. */
export function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null)) as T;
}

/**
 * Refuses arguments that mean nothing for the action a call names, so a mistaken call changes nothing:
 * of `keys`, those given but not in `allowed`. `why` ends the message when the reason is not obvious.
 */
export function refuseStray(args: object, keys: readonly string[], allowed: readonly string[], action: string, why = ""): void {
  const given = args as Record<string, unknown>;
  const stray = keys.filter((k) => given[k] !== undefined && !allowed.includes(k));
  if (stray.length) throw new ToolError("invalid_arguments", `${stray.join(", ")} do not apply to ${action}${why}`);
}

/** GET on the agent's PVE endpoint, the reply checked against `schema`. */
export async function pveGet<T extends z.ZodType>(ctx: ToolContext, schema: T, path: string, params: Record<string, unknown> = {}): Promise<z.output<T>> {
  return parseReply(schema, await ctx.pve.request("GET", path, params, ctx), `GET ${path}`);
}
