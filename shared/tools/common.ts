import { z } from "zod";

/** Argument shapes in PVE's own vocabulary, shared by the tool families. */
export const nodeName = z
  .string()
  .regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, "not a valid PVE node name")
  .describe("Cluster node name, as in PVE (e.g. pve1).");
export const vmid = z.number().int().min(100).max(999_999_999).describe("Guest ID (VM or container), e.g. 100.");
export const guestType = z.enum(["qemu", "lxc"]).describe("qemu for a virtual machine, lxc for a container.");
export const upid = z.string().regex(/^UPID:/, "not a PVE task UPID").describe("PVE task ID (UPID:node:...).");
