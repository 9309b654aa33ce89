import { z } from "zod";
import { defineTool } from "../tool.ts";

const toolCheck = z.object({
  tool: z.string(),
  action: z.string().optional(),
  status: z.enum(["ok", "partial", "missing", "not_checked"]).describe("partial: granted on some objects only (e.g. some guests)."),
  needs: z.string().optional().describe("Privileges and paths PVE checks, e.g. 'VM.PowerMgmt on /vms/{vmid}'."),
  missing: z.array(z.string()).optional(),
  note: z.string().optional(),
});

export const accessInfo = defineTool({
  name: "access_info",
  title: "Users, API tokens, ACLs and what this agent may do",
  description:
    "Reads PVE access control: users (realm, enabled, tokens), tokens (a user's, with privsep), acl (only entries you may modify), " +
    "whoami (the agent token's privileges, and whether each tool has what it needs). " +
    "Use whoami first on 403 'Permission check failed' or an unexpectedly empty list.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    action: z.enum(["users", "tokens", "acl", "whoami"]),
    userid: z.string().regex(/^[^\s:/@]+@[A-Za-z][A-Za-z0-9.\-_]+$/, "expected USER@REALM").optional().describe("tokens: required."),
  }),
  output: z.object({
    action: z.string(),
    users: z
      .array(z.object({ userid: z.string(), enable: z.boolean(), expire: z.number().optional(), realm_type: z.string().optional(), comment: z.string().optional(), tokens: z.array(z.string()).optional() }))
      .optional(),
    tokens: z.array(z.object({ userid: z.string(), tokenid: z.string(), privsep: z.boolean(), expire: z.number().optional(), comment: z.string().optional() })).optional(),
    acl: z.array(z.object({ path: z.string(), type: z.string(), ugid: z.string(), roleid: z.string(), propagate: z.boolean() })).optional(),
    whoami: z
      .object({
        authid: z.string().describe("The token id the agent authenticates with, USER@REALM!TOKENID."),
        user: z.string(),
        permissions: z.array(z.object({ path: z.string(), privileges: z.array(z.string()) })),
        tools: z.array(toolCheck),
        warnings: z.array(z.string()),
        summary: z.string(),
      })
      .optional(),
  }),
});
