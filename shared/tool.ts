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

/**
 * Drops `description` from every nested property: output field names speak for themselves, and the
 * descriptions doubled the size of tools/list, which every client carries in its context.
 */
function withoutDescriptions(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutDescriptions);
  if (!schema || typeof schema !== "object") return schema;
  return Object.fromEntries(
    Object.entries(schema as Record<string, unknown>)
      .filter(([key, value]) => key !== "description" || typeof value !== "string")
      .map(([key, value]) => [key, key === "properties" ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, withoutDescriptions(v)])) : withoutDescriptions(value)]),
  );
}

export function toolDescriptor(def: ToolDefinition): ToolDescriptor {
  return {
    name: def.name,
    title: def.title,
    description: def.description,
    inputSchema: jsonSchemaOf(def.input, "input"),
    outputSchema: withoutDescriptions(jsonSchemaOf(def.output, "output")) as Record<string, unknown>,
    annotations: { title: def.title, ...def.annotations },
    scope: def.scope,
    mutating: def.mutating,
  };
}

/** Arguments every list tool takes, so no answer grows past what a client can carry. */
export const pageInput = {
  limit: z.number().int().min(1).max(500).default(100).describe("Maximum items to return (default 100)."),
  cursor: z.string().optional().describe("Opaque cursor from a previous answer's next_cursor, to read the next page."),
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
