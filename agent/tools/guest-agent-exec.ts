import { z } from "zod";
import type { ExecOptions, ExecResult } from "../exec/run.ts";
import type { ToolContext } from "./registry.ts";
import { parseReply } from "./replies.ts";

const started = z.looseObject({ pid: z.coerce.number().int() });
const status = z.looseObject({
  exited: z.union([z.boolean(), z.number()]).transform(Boolean),
  exitcode: z.coerce.number().int().optional(),
  signal: z.coerce.number().int().optional(),
  "out-data": z.string().optional(),
  "err-data": z.string().optional(),
  "out-truncated": z.union([z.boolean(), z.number()]).optional(),
  "err-truncated": z.union([z.boolean(), z.number()]).optional(),
});
const POLL_MS = 250;

function cap(text: string, max: number): { text: string; bytes: number; cut: boolean } {
  const bytes = Buffer.byteLength(text);
  if (bytes <= max) return { text, bytes, cut: false };
  return { text: Buffer.from(text).subarray(0, max).toString(), bytes, cut: true };
}

/**
 * Runs a command inside a VM through the QEMU guest agent (PVE agent/exec, then agent/exec-status until
 * it has exited). The guest agent cannot kill a command: on timeout or cancel the call returns and the
 * command may go on inside the VM, which the result says.
 */
export async function guestAgentExec(ctx: ToolContext, node: string, vmid: number, opts: ExecOptions): Promise<ExecResult> {
  const began = Date.now();
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'; `).join("");
  const cd = opts.cwd ? `cd '${opts.cwd.replace(/'/g, `'\\''`)}' && ` : "";
  const base = `/nodes/${node}/qemu/${vmid}/agent`;
  const params: Record<string, unknown> = { command: ["/bin/sh", "-c", `${env}${cd}${opts.command}`] };
  if (opts.stdin !== undefined) params["input-data"] = opts.stdin;
  const { pid } = parseReply(started, await ctx.pve.request("POST", `${base}/exec`, params, ctx), "agent/exec");
  const deadline = began + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const s = parseReply(status, await ctx.pve.request("GET", `${base}/exec-status`, { pid }, ctx), "agent/exec-status");
    const max = opts.maxOutputBytes ?? 1024 * 1024;
    if (s.exited) {
      const out = cap(s["out-data"] ?? "", max);
      const err = cap(s["err-data"] ?? "", max);
      return {
        exit_code: s.exitcode ?? null,
        signal: s.signal !== undefined ? `SIG${s.signal}` : null,
        stdout: out.text,
        stderr: err.text,
        duration_ms: Date.now() - began,
        truncated: out.cut || err.cut || Boolean(s["out-truncated"]) || Boolean(s["err-truncated"]),
        stdout_bytes: out.bytes,
        stderr_bytes: err.bytes,
        output_cap_bytes: max,
        timed_out: false,
        cancelled: false,
      };
    }
    if (opts.signal?.aborted || Date.now() >= deadline) {
      const timedOut = !opts.signal?.aborted;
      return {
        exit_code: null,
        signal: null,
        stdout: "",
        stderr: `the command (guest pid ${pid}) was still running when the call ${timedOut ? "timed out" : "was cancelled"}; the guest agent cannot stop it`,
        duration_ms: Date.now() - began,
        truncated: false,
        stdout_bytes: 0,
        stderr_bytes: 0,
        output_cap_bytes: max,
        timed_out: timedOut,
        cancelled: !timedOut,
      };
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

