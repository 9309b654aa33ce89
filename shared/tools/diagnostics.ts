import { z } from "zod";
import { defineTool } from "../tool.ts";

export const diagnose = defineTool({
  name: "diagnose",
  title: "Diagnose the connection to Proxmox",
  description:
    "Checks the agent's PVE endpoint end to end and explains in plain sentences what is wrong, with a fix for each problem: " +
    "reachability (address and port), TLS (pinned fingerprint or CA), authentication (token id and secret), the token's privileges " +
    "(including the common case of a privilege-separated token without ACL), cluster quorum and offline nodes, and storage health " +
    "(inactive storages, usage above 90 %). Also checks each configured Proxmox Backup Server. Use first when tools fail or return nothing.",
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
