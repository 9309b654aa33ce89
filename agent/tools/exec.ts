import { ToolError } from "../../shared/errors.ts";
import { auditRead, guestExec, hostExec, nodeExec } from "../../shared/tools/exec.ts";
import type { ExecOptions, ExecResult } from "../exec/run.ts";
import { runLocal } from "../exec/run.ts";
import type { CallerContext, CommandRequest, ExecRuntime } from "../exec/runtime.ts";
import { locate } from "./guests.ts";
import { implement, type ToolContext } from "./registry.ts";
import { clusterStatusReply, parseReply } from "./replies.ts";
import { guestAgentExec } from "./guest-agent-exec.ts";

function runtime(ctx: ToolContext): ExecRuntime {
  if (!ctx.exec) throw new ToolError("unknown_tool", "host commands are disabled on this agent (exec.enabled is false in its config)");
  return ctx.exec;
}

function caller(ctx: ToolContext): CallerContext {
  let streamed = 0;
  return {
    principal: ctx.principal.sub,
    callId: ctx.callId,
    signal: ctx.signal,
    onOutput: (stream, text) => ctx.progress(++streamed, undefined, `${stream}: ${text}`),
  };
}

/** Single-quotes a string for a POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The node this agent runs on, and every node's address, from /cluster/status. */
async function clusterNodes(ctx: ToolContext): Promise<{ local?: string; ips: Map<string, string> }> {
  const rows = parseReply(clusterStatusReply, await ctx.pve.api(ctx).cluster.status.$get(), "GET /cluster/status");
  const nodes = rows.filter((r) => r.type === "node");
  return { local: nodes.find((n) => n.local)?.name, ips: new Map(nodes.filter((n) => n.ip).map((n) => [n.name, n.ip as string])) };
}

async function sshRunner(ctx: ToolContext, exec: ExecRuntime, node: string): Promise<(opts: ExecOptions) => Promise<ExecResult>> {
  const host = exec.cfg.ssh.nodes[node] ?? (await clusterNodes(ctx)).ips.get(node);
  if (!host) throw new ToolError("invalid_arguments", `no address known for node '${node}': add it under exec.ssh.nodes in the agent config`);
  return exec.ssh(host);
}

/**
 * `pct exec` runs a program, not a shell line, and knows no working directory or environment: both are
 * folded into the script bash runs inside the container.
 */
function pctCommand(pct: string, vmid: number, req: CommandRequest): string {
  const env = Object.entries(req.env ?? {}).map(([k, v]) => `export ${k}=${shellQuote(v)}; `).join("");
  const cd = req.cwd ? `cd ${shellQuote(req.cwd)} && ` : "";
  return `${shellQuote(pct)} exec ${vmid} -- /bin/bash -c ${shellQuote(`${env}${cd}${req.command}`)}`;
}

export const execTools = [
  implement(hostExec, async (args, ctx) => runtime(ctx).execute("host", args, caller(ctx))),
  implement(nodeExec, async ({ node, ...req }, ctx) => {
    const exec = runtime(ctx);
    const target = `ssh:${node}`;
    if (req.dry_run) return exec.execute(target, req, caller(ctx));
    return exec.execute(target, req, caller(ctx), await sshRunner(ctx, exec, node));
  }),
  implement(guestExec, async ({ vmid, node, type, ...req }, ctx) => {
    const exec = runtime(ctx);
    const where = await locate(ctx, vmid, node, type);
    if (where.type === "qemu") return exec.execute(`vm:${vmid}`, req, caller(ctx), (opts) => guestAgentExec(ctx, where.node, vmid, opts));
    const target = `lxc:${vmid}`;
    if (req.dry_run) return exec.execute(target, req, caller(ctx));
    const local = (await clusterNodes(ctx)).local;
    const inner = pctCommand(exec.cfg.pct, vmid, req);
    const run = where.node === local ? runLocal : await sshRunner(ctx, exec, where.node);
    return exec.execute(target, req, caller(ctx), (opts) => run({ ...opts, command: inner, cwd: undefined, env: undefined }));
  }),
  implement(auditRead, async ({ limit, since, principal, decision }, ctx) => ({
    entries: runtime(ctx).audit.recent({ limit, since, principal, decision }),
  })),
];
