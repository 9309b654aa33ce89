import { z } from "zod";
import { defineTool } from "../tool.ts";

export const diagnose = defineTool({
  name: "diagnose",
  title: "Diagnose the connection to Proxmox",
  description:
    "Checks the agent's PVE connection end to end and explains each problem with a fix: reachability, TLS, token auth " +
    "and privileges, quorum, offline nodes, storage health, each configured PBS. Use first when tools fail or return nothing.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({}),
  output: z.object({
    ok: z.boolean().describe("No check failed (warnings allowed)."),
    summary: z.string(),
    checks: z.array(
      z.object({
        check: z.string().describe("reachability, tls, authentication, privileges, quorum, nodes, storage, pbs:<name>"),
        status: z.enum(["ok", "warning", "failed", "skipped"]),
        detail: z.string(),
        fix: z.string().optional(),
      }),
    ),
  }),
});
