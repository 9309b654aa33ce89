import { z } from "zod";

/** Stable error codes carried by tunnel error frames and MCP tool errors. */
export const errorCodes = [
  "agent_offline",
  "tunnel_lost",
  "deadline_exceeded",
  "cancelled",
  "unknown_tool",
  "invalid_arguments",
  "missing_scope",
  "declined",
  "confirmation_required",
  "pve_error",
  "outcome_unknown",
  "host_key_rejected",
  "ssh_failed",
  "policy_refused",
  "busy",
  "frame_invalid",
  "internal",
] as const;
export const errorCodeSchema = z.enum(errorCodes);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

/** Codes for which the same call may be sent again without risk. */
const retryableCodes = new Set<ErrorCode>(["agent_offline", "tunnel_lost", "deadline_exceeded", "busy"]);

/** An error with a stable code, a message for a human or an AI, and whether retrying makes sense. */
export class ToolError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "ToolError";
    this.code = code;
    this.retryable = retryableCodes.has(code);
    this.details = details;
  }
}

/** Turns anything thrown into a ToolError, keeping only the message of unknown errors. */
export function toToolError(err: unknown): ToolError {
  if (err instanceof ToolError) return err;
  if (err instanceof z.ZodError) return new ToolError("invalid_arguments", formatZodError(err));
  const message = err instanceof Error ? err.message : String(err);
  return new ToolError("internal", message);
}

/** One line per issue, naming the path of the bad value: "vmid: expected number, received string". */
export function formatZodError(err: z.ZodError): string {
  return err.issues
    .map((issue) => {
      const where = issue.path.length ? issue.path.join(".") : "(root)";
      return `${where}: ${issue.message}`;
    })
    .join("; ");
}
