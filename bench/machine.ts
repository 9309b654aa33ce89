import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { release, totalmem } from "node:os";
import { systemNode } from "../test/support/processes.ts";

export interface Machine {
  nproc: number;
  cpu: string;
  memoryBytes: number;
  /** The Node running the benchmark, the worker and the benchmark's agent. */
  node: string;
  /** The machine's own Node, which runs the agent bundle (as on a Proxmox host). */
  agentNode: string;
  kernel: string;
}

export function describeMachine(): Machine {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  return {
    nproc: Number(execFileSync("nproc", { encoding: "utf8" }).trim()),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memoryBytes: totalmem(),
    node: process.version,
    agentNode: execFileSync(systemNode(), ["--version"], { encoding: "utf8" }).trim(),
    kernel: release(),
  };
}
