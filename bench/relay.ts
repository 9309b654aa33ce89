import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { measureLatency, measureThroughput, type CpuMeter, type Measured, type Throughput } from "./load.ts";
import type { Phases } from "./phases.ts";
import { toolCall, type BenchStack } from "./stack.ts";
import type { Latency } from "./stats.ts";

export interface RelayResults {
  /** MCP ping: HTTP, auth, session and the SDK on both ends, but no tunnel. */
  ping: Measured<Latency>;
  noop: Measured<Latency>;
  nodeList: Measured<Latency>;
  noopThroughput: Record<number, Measured<Throughput>>;
  nodeListThroughput: Record<number, Measured<Throughput>>;
}

export interface RelayOptions {
  meters: CpuMeter[];
}

/**
 * The full path, MCP SDK client → worker → tunnel → agent, for bench_noop and node_list: latency with
 * one call at a time on one session, throughput with the calls spread over several sessions. An MCP
 * ping, answered by the worker itself, splits the path into "HTTP and MCP" and "tunnel and agent".
 */
export async function measureRelay(stack: BenchStack, mcpUrl: string, phases: Phases, opts: RelayOptions): Promise<RelayResults> {
  const clients = await stack.sessions(mcpUrl, phases.sessions);
  const spread = (tool: string) => {
    const calls = clients.map((c: Client) => toolCall(c, tool));
    return (loop: number) => calls[loop % calls.length];
  };
  const results: RelayResults = {
    ping: await measureLatency(async () => void (await clients[0].ping()), phases.latency),
    noop: await measureLatency(toolCall(clients[0], "bench_noop"), phases.latency),
    nodeList: await measureLatency(toolCall(clients[0], "node_list"), phases.latency),
    noopThroughput: {},
    nodeListThroughput: {},
  };
  for (const c of phases.concurrency) {
    results.noopThroughput[c] = await measureThroughput(spread("bench_noop"), { ...phases.throughput, concurrency: c, meters: opts.meters });
  }
  for (const c of phases.concurrency) {
    results.nodeListThroughput[c] = await measureThroughput(spread("node_list"), { ...phases.throughput, concurrency: c, meters: opts.meters });
  }
  await Promise.all(clients.map((c) => c.close()));
  return results;
}
