import { z } from "zod";
import { defineTool } from "../tool.ts";
import { guestType, nodeName, vmid } from "./common.ts";

/** What every command tool returns about the run itself. */
export const execResultSchema = z.object({
  /** Null when the command was ended by a signal or never reported an exit. */
  exit_code: z.number().int().nullable(),
  /** Name of the signal that ended the command ("SIGTERM"), if one did. */
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  duration_ms: z.number().int().nonnegative(),
  /** Some output was dropped: see stdout_bytes and stderr_bytes for how much there was. */
  truncated: z.boolean(),
  stdout_bytes: z.number().int().nonnegative(),
  stderr_bytes: z.number().int().nonnegative(),
  output_cap_bytes: z.number().int().nonnegative(),
  timed_out: z.boolean(),
  cancelled: z.boolean(),
});

const policyDecision = z.object({
  allowed: z.boolean(),
  rule: z.string().optional().describe("The policy rule that refused the command."),
  reason: z.string().optional(),
  match: z.string().optional().describe("The part of the command that matched the rule."),
});

const commandInput = {
  command: z.string().min(1).max(65_536).describe("Run with bash -c."),
  cwd: z.string().optional().describe("Absolute path."),
  env: z.record(z.string(), z.string()).optional(),
  stdin: z.string().max(1_048_576).optional(),
  timeout_s: z.number().int().min(1).max(3600).optional().describe("Default per agent config."),
  dry_run: z.boolean().default(false).describe("Check against the policy only."),
};

const commandOutput = execResultSchema
  .partial()
  .extend({ target: z.string().describe("host, ssh:<node>, lxc:<vmid> or vm:<vmid>"), dry_run: z.boolean(), policy: policyDecision });

const shellAnnotations = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true } as const;
const policyNote =
  "Routine admin work is allowed; commands that would wreck the host, cluster or access to them (e.g. disk wipes, stopping corosync, " +
  "reading /etc/shadow, curl|sh) are refused, naming the rule. Output is capped; cancelling kills the command.";
const sudoNote = "Runs as the agent's exec user; if that is pve-mcp, use `sudo -n <command>` for root (per its sudoers).";

export const hostExec = defineTool({
  name: "host_exec",
  title: "Run a shell command on the Proxmox host",
  description: `Runs a shell command on the Proxmox node the agent runs on. ${policyNote} ${sudoNote}`,
  scope: "host:exec",
  annotations: shellAnnotations,
  mutating: true,
  input: z.object(commandInput),
  output: commandOutput,
});

export const nodeExec = defineTool({
  name: "node_exec",
  privileges: ["Sys.Audit"],
  title: "Run a shell command on another cluster node (SSH)",
  description: `Runs a shell command on another cluster node over SSH. ${policyNote} ${sudoNote}`,
  scope: "host:exec",
  annotations: shellAnnotations,
  mutating: true,
  input: z.object({ node: nodeName, ...commandInput }),
  output: commandOutput,
});

export const guestExec = defineTool({
  name: "guest_exec",
  privileges: ["VM.Audit", "VM.GuestAgent.Unrestricted"],
  title: "Run a shell command inside a guest",
  description:
    `Runs a shell command in a container (pct exec) or a VM (needs the QEMU guest agent running). ${policyNote}`,
  scope: "host:exec",
  annotations: shellAnnotations,
  mutating: true,
  input: z.object({ vmid, node: nodeName.optional(), type: guestType.optional(), ...commandInput }),
  output: commandOutput,
});

export const auditRead = defineTool({
  name: "audit_read",
  title: "Read the command audit log",
  description: "Lists recent *_exec command attempts, allowed and refused, from the agent's audit log, newest first.",
  scope: "host:exec",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    limit: z.number().int().min(1).max(500).default(50),
    since: z.string().optional().describe("ISO 8601: entries at or after it."),
    principal: z.string().optional().describe("Only this token subject's commands."),
    decision: z.enum(["allowed", "refused", "dry_run"]).optional(),
  }),
  output: z.object({
    entries: z.array(
      z.object({
        time: z.string(),
        principal: z.string(),
        target: z.string(),
        command: z.string(),
        decision: z.string(),
        rule: z.string().optional(),
        exit_code: z.number().int().nullable().optional(),
        duration_ms: z.number().int().optional(),
        truncated: z.boolean().optional(),
        call_id: z.string().optional(),
      }),
    ),
  }),
});
