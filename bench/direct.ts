import { PveClient } from "../agent/pve.ts";
import { pveEndpointSchema } from "../agent/config.ts";
import { agentTools } from "../agent/tools/index.ts";
import type { AgentTool, ToolContext } from "../agent/tools/registry.ts";
import { ALL_SCOPES } from "../scripts/lib/credentials.ts";
import { createLogger } from "../shared/log.ts";
import { measureLatency, measureThroughput, type Call, type Measured, type Throughput } from "./load.ts";
import { benchNoop } from "./noop.ts";
import type { Phases } from "./phases.ts";
import type { SimInfo } from "./stack.ts";
import type { Latency } from "./stats.ts";

export interface DirectResults {
  noop: Measured<Latency>;
  nodeList: Measured<Latency>;
  pveGet: Measured<Latency>;
  nodeListThroughput: Record<number, Measured<Throughput>>;
}

/** The agent's tool handlers and PVE client called in this process, without worker or tunnel. */
export async function measureDirect(sim: SimInfo, phases: Phases): Promise<DirectResults> {
  const pve = new PveClient(pveEndpointSchema.parse({ url: sim.url, token_id: sim.tokenid, token_secret: sim.secret, fingerprint: sim.fingerprint }));
  const log = createLogger("bench", "error");
  const handler = (tool: AgentTool): Call => async () => {
    const ctx: ToolContext = {
      callId: crypto.randomUUID(),
      principal: { sub: "bench", scopes: ALL_SCOPES },
      signal: new AbortController().signal,
      deadline: Date.now() + 55_000,
      pve,
      log,
      progress: () => undefined,
      note: () => undefined,
    };
    await tool.run({}, ctx);
  };
  const nodeList = handler(agentTools().get("node_list") as AgentTool);
  try {
    const results: DirectResults = {
      noop: await measureLatency(handler(benchNoop), phases.fastLatency),
      nodeList: await measureLatency(nodeList, phases.latency),
      pveGet: await measureLatency(async () => void (await pve.request("GET", "/nodes")), phases.latency),
      nodeListThroughput: {},
    };
    for (const c of phases.concurrency) results.nodeListThroughput[c] = await measureThroughput(() => nodeList, { ...phases.throughput, concurrency: c });
    return results;
  } finally {
    await pve.close();
  }
}
