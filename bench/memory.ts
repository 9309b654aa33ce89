import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startProcess, type Proc } from "../test/support/processes.ts";
import { measureThroughput, type Measured, type Throughput } from "./load.ts";
import type { Phases } from "./phases.ts";
import { memoryOf, sampleRss, type Memory } from "./proc.ts";
import { BUNDLE_AGENT, toolCall, type BenchStack, type Worker } from "./stack.ts";

/** What a Node process with nothing loaded holds: the part of an agent's RSS the agent cannot shed. */
export async function bareNodeMemory(node: string): Promise<Memory> {
  const proc = startProcess(node, ["-e", "setInterval(() => {}, 1000)"]);
  try {
    await sleep(1_000);
    return memoryOf(proc.child.pid as number);
  } finally {
    await proc.kill("SIGKILL");
  }
}

export interface LoadMemory {
  /** Highest VmRSS sampled every 50 ms during the load. */
  peakRss: number;
  /** VmHWM after the load. */
  hwm: number;
  /** VmRSS a few seconds after the load ended. */
  after: number;
  load: Measured<Throughput>;
}

/** Runs a load against an agent while sampling its RSS. */
async function memoryUnderLoad(pid: number, run: () => Promise<Measured<Throughput>>): Promise<LoadMemory> {
  const sampler = sampleRss(pid, 50);
  const load = await run();
  const peakRss = sampler.stop();
  const { hwm } = memoryOf(pid);
  await sleep(3_000);
  return { peakRss, hwm, after: memoryOf(pid).rss, load };
}

/** The real agent (bundle) under full load: node_list with every concurrency slot busy and more waiting. */
export async function bundleAgentLoad(stack: BenchStack, worker: Worker, agent: Proc, phases: Phases): Promise<LoadMemory> {
  const clients = await stack.sessions(`${worker.url}/agents/${BUNDLE_AGENT}/mcp`, phases.sessions);
  const calls = clients.map((c) => toolCall(c, "node_list"));
  const concurrency = Math.max(...phases.concurrency);
  return memoryUnderLoad(agent.child.pid as number, () => measureThroughput((loop) => calls[loop % calls.length], { ...phases.throughput, concurrency }));
}

const HOST_EXEC_BYTES = 50 * 1024 * 1024;
const PRINT_50_MB = `yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c ${HOST_EXEC_BYTES}`;

export type HostExecResult =
  | { available: false; reason: string }
  | { available: true; idle: Memory; peakRss: number; hwm: number; seconds: number; outcome: string };

/**
 * Peak memory of a fresh real agent, with host commands enabled, while `host_exec` runs a command that
 * prints 50 MB. The tool is announced only by agents with `exec.enabled`; when the fresh agent does not
 * announce it (a build without the tool), the figure is n/a.
 */
export async function measureHostExec(stack: BenchStack, worker: Worker, tunnelPort: number, current: Proc): Promise<{ result: HostExecResult; agent: Proc }> {
  await stack.stop(current);
  await stack.agentConnected(worker, BUNDLE_AGENT, false);
  // Host commands are off by default; on here, with the audit log kept in the benchmark's directory.
  const agent = await stack.startBundleAgent(worker, tunnelPort, { exec: { enabled: true, audit_file: join(stack.dir, "audit.jsonl") } });
  const client = await stack.client(`${worker.url}/agents/${BUNDLE_AGENT}/mcp`);
  const { tools } = await client.listTools();
  if (!tools.some((t) => t.name === "host_exec")) return { result: { available: false, reason: "host_exec not available" }, agent };
  const pid = agent.child.pid as number;
  await sleep(1_000);
  const idle = memoryOf(pid);
  const sampler = sampleRss(pid, 20);
  const started = performance.now();
  const outcome = await runHostExec(client);
  const seconds = (performance.now() - started) / 1000;
  return { result: { available: true, idle, peakRss: sampler.stop(), hwm: memoryOf(pid).hwm, seconds, outcome }, agent };
}

async function runHostExec(client: Client): Promise<string> {
  try {
    const result = await client.callTool({ name: "host_exec", arguments: { command: PRINT_50_MB } }, CallToolResultSchema, { timeout: 120_000 });
    const structured = result.structuredContent as { stdout_bytes?: number; truncated?: boolean; exit_code?: number } | undefined;
    if (result.isError) return `tool error: ${JSON.stringify(result.content).slice(0, 200)}`;
    return `exit ${structured?.exit_code ?? "?"}, ${structured?.stdout_bytes ?? "?"} bytes printed${structured?.truncated ? ", result truncated" : ""}`;
  } catch (err) {
    return `failed: ${(err as Error).message}`;
  }
}
