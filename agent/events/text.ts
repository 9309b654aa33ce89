import type { z } from "zod";

/** Shortens text to at most `max` characters, marking the cut with an ellipsis. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The first line of a message, shortened to fit a title. */
export function firstLine(text: string, max = 120): string {
  return clip(text.trim().split("\n", 1)[0] ?? "", max);
}

/** Parses JSON text against a schema; undefined when it is not JSON or not of that shape. */
export function parseJson<T extends z.ZodType>(schema: T, text: string): z.infer<T> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** A Date from a timestamp string or number, or undefined when it does not name a valid time. */
export function validDate(value: unknown): Date | undefined {
  if (typeof value !== "string" && typeof value !== "number") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
