import { z } from "zod";

/**
 * Argument shapes in PVE's own vocabulary, shared by the tool families. They carry no description of
 * their own: the server's instructions explain them once (worker/mcp.ts), instead of every tool's schema.
 */
export const nodeName = z
  .string()
  .regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, "not a valid PVE node name");
export const vmid = z.number().int().min(100).max(999_999_999);
export const guestType = z.enum(["qemu", "lxc"]);
export const upid = z.string().regex(/^UPID:/, "not a PVE task UPID").describe("PVE task ID (UPID:node:...).");
