import { z } from "zod";
import type { Scope, ToolDescriptor } from "./protocol.ts";

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint?: boolean;
}

/** A tool as data: what an AI reads, what it may pass, what it gets back, and who may call it. */
export interface ToolDefinition<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  scope: Scope;
  annotations: ToolAnnotations;
  /** A mutating call changes state on the host; the agent journals it so it never runs twice. */
  mutating: boolean;
  /** PVE privileges the agent's API token needs for this tool (checked by `doctor` and `access_info` whoami). */
  privileges?: string[];
  input: I;
  output: O;
}

/** Declares a tool; the identity function keeps the schema types for the handler. */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(def: ToolDefinition<I, O>): ToolDefinition<I, O> {
  return def;
}

/**
 * The JSON Schema a client sees. Kept flat (no $ref/oneOf/anyOf) because n8n converts it to its own
 * form, and without `additionalProperties: false` because clients add keys of their own (n8n's toolCallId).
 */
export function jsonSchemaOf(schema: z.ZodObject, io: "input" | "output"): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io, unrepresentable: "any", reused: "inline", cycles: "throw" }) as Record<string, unknown>;
  delete json.$schema;
  delete json.additionalProperties;
  return json;
}

const SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Leaves out of a JSON Schema what tells a reader nothing, since every client carries tools/list in its
 * context: zod's safe-integer bounds, `propertyNames` of plain records, `additionalProperties` that allow
 * anything or (in results) forbid extra keys, regular expressions (a model does not run them; a value that
 * fails one is refused with a message naming it), and, in output schemas, nested descriptions (field names
 * speak for themselves; they doubled the size of tools/list). Validation is unchanged: the agent checks
 * arguments and results with the zod schemas themselves.
 */
function lean(schema: unknown, io: "input" | "output"): unknown {
  if (Array.isArray(schema)) return schema.map((item) => lean(item, io));
  if (!schema || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if ((key === "minimum" && value === -SAFE) || (key === "maximum" && value === SAFE)) continue;
    if (key === "propertyNames") continue;
    if (key === "additionalProperties" && (value === false || (isObject(value) && Object.keys(value).length === 0))) continue;
    if (key === "description" && io === "output" && typeof value === "string") continue;
    if (key === "pattern" && typeof value === "string") continue;
    out[key] = key === "properties" && isObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, lean(v, io)])) : lean(value, io);
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function toolDescriptor(def: ToolDefinition): ToolDescriptor {
  return {
    name: def.name,
    title: def.title,
    description: def.description,
    inputSchema: lean(jsonSchemaOf(def.input, "input"), "input") as Record<string, unknown>,
    outputSchema: lean(jsonSchemaOf(def.output, "output"), "output") as Record<string, unknown>,
    // The title is the descriptor's own; repeating it in the annotations cost every client 2 KB.
    annotations: def.annotations,
    scope: def.scope,
    mutating: def.mutating,
  };
}

/** Arguments every list tool takes, so no answer grows past what a client can carry (explained in the server instructions). */
export const pageInput = {
  limit: z.number().int().min(1).max(500).default(100),
  cursor: z.string().optional(),
};

export const pageOutput = {
  total: z.number().int().describe("Items matching the filters, across all pages."),
  next_cursor: z.string().optional().describe("Pass as cursor to read the next page; absent on the last page."),
};

/** Slices a list into one page; the cursor is the offset, opaque to the caller. */
export function paginate<T>(items: T[], limit: number, cursor?: string): { items: T[]; total: number; next_cursor?: string } {
  const offset = cursor ? Number.parseInt(cursor, 10) : 0;
  const start = Number.isFinite(offset) && offset > 0 ? offset : 0;
  const page = items.slice(start, start + limit);
  const next = start + limit < items.length ? String(start + limit) : undefined;
  return { items: page, total: items.length, ...(next ? { next_cursor: next } : {}) };
}
