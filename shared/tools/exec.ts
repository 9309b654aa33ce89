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
  command: z.string().min(1).max(65_536).describe("Shell command line, run with bash -c."),
  cwd: z.string().optional().describe("Absolute working directory."),
  env: z.record(z.string(), z.string()).optional().describe("Extra environment variables."),
  stdin: z.string().max(1_048_576).optional().describe("Text written to the command's standard input."),
  timeout_s: z.number().int().min(1).max(3600).optional().describe("Kill the command (and its children) after this many seconds; default from the agent config."),
  dry_run: z.boolean().default(false).describe("Only check the command against the safety policy; run nothing."),
};

const commandOutput = execResultSchema
  .partial()
  .extend({ target: z.string().describe("host, ssh:<node>, lxc:<vmid> or vm:<vmid>"), dry_run: z.boolean(), policy: policyDecision });

const shellAnnotations = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true } as const;
const policyNote =
  "Everything an admin does daily is allowed; commands that would destroy the host, the cluster or access to them " +
  "(wiping disks or system trees, stopping pve-cluster/corosync, shutting the node down, flushing the firewall, " +
  "reading /etc/shadow, piping downloads into a shell) are refused with the rule that matched. dry_run=true checks without running. " +
  "Output is capped (truncated=true says so) and streamed as progress; cancelling the call kills the command. " +
  "Commands run as the agent's exec user; where that is the unprivileged pve-mcp user, root actions go through `sudo -n <command>` for what its sudoers file allows.";

export const hostExec = defineTool({
  name: "host_exec",
  title: "Run a shell command on the Proxmox host",
  description: `Runs a shell command on the Proxmox node the agent runs on and returns exit code, stdout, stderr and duration. ${policyNote}`,
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
  description: `Runs a shell command on another node of the cluster over SSH (host key verified against known_hosts). ${policyNote}`,
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
    "Runs a shell command inside a container (pct exec, on the container's node) or a VM (through the QEMU guest agent, " +
    `which must be installed and running in the VM). ${policyNote}`,
  scope: "host:exec",
  annotations: shellAnnotations,
  mutating: true,
  input: z.object({ vmid, node: nodeName.optional(), type: guestType.optional(), ...commandInput }),
  output: commandOutput,
});

export const auditRead = defineTool({
  name: "audit_read",
  title: "Read the command audit log",
  description: "Lists recent host, node and guest command attempts (allowed and refused) from the agent's audit log, newest first.",
  scope: "host:exec",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    limit: z.number().int().min(1).max(500).default(50),
    since: z.string().optional().describe("ISO 8601 time: only entries at or after it."),
    principal: z.string().optional().describe("Only commands asked for by this token subject."),
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
