/**
 * agent/exec and agent/exec-status (qemu-server PVE/API2/Qemu/Agent.pm, PVE::QemuServer::Agent::qemu_exec):
 * qemu-ga's guest-exec starts a program and answers a pid; guest-exec-status reports `exited: 0` until it
 * ends, then its exit code and base64-decoded output. The simulated "guest OS" is this machine: the
 * program really runs here (with a time limit), which is as close as a simulator gets to a VM's shell.
 */
import { spawn } from "node:child_process";
import type { CallContext, RouteTable } from "../context.ts";
import { die, paramError } from "../errors.ts";
import { agentFor } from "./guest-agent.ts";

interface GuestProcess {
  exited: boolean;
  exitcode?: number;
  out: string;
  err: string;
}

const LIMIT_MS = 60_000;
const processes = new Map<number, GuestProcess>();
let nextPid = 1000;

function exec(ctx: CallContext): { pid: number } {
  agentFor(ctx, "exec");
  const raw = ctx.params.command;
  const argv = (Array.isArray(raw) ? raw : [raw]).map(String);
  if (!argv.length || !argv[0]) throw paramError({ command: "property is missing and it is not optional" });
  const pid = nextPid++;
  const proc: GuestProcess = { exited: false, out: "", err: "" };
  processes.set(pid, proc);
  const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], timeout: LIMIT_MS });
  child.stdout.on("data", (c: Buffer) => (proc.out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (proc.err += c.toString()));
  child.on("error", (e) => Object.assign(proc, { exited: true, exitcode: 127, err: e.message }));
  child.on("close", (code) => Object.assign(proc, { exited: true, exitcode: code ?? 1 }));
  // A program that exits without reading its input must not take the simulator down with EPIPE.
  child.stdin.on("error", () => undefined);
  child.stdin.end(ctx.params["input-data"] === undefined ? "" : String(ctx.params["input-data"]));
  return { pid };
}

function execStatus(ctx: CallContext): Record<string, unknown> {
  agentFor(ctx, "exec-status");
  const pid = Number(ctx.params.pid);
  const proc = processes.get(pid);
  if (!proc) throw die(`VM ${ctx.params.vmid} qmp command 'guest-exec-status' failed - Invalid parameter 'pid'`);
  if (!proc.exited) return { exited: 0 };
  processes.delete(pid);
  return { exited: 1, exitcode: proc.exitcode, "out-data": proc.out, "err-data": proc.err };
}

const base = "/nodes/{node}/qemu/{vmid}/agent";

export const guestAgentExecRoutes: RouteTable = {
  [`POST ${base}/exec`]: exec,
  [`GET ${base}/exec-status`]: execStatus,
};
