import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDelayProxy, type DelayProxy } from "../support/delay-proxy.ts";
import { startStack, type Stack } from "../support/stack.ts";

type Result = { isError?: boolean; content: Array<{ text?: string }>; structuredContent?: any };

describe("a slow, lossy tunnel (200 ms each way, 5 % of segments retransmitted)", () => {
  let stack: Stack;
  let proxy: DelayProxy;
  beforeAll(async () => {
    stack = await startStack({
      taskDurationMs: 300,
      // Heartbeats every 2 s in both directions (the agent's heartbeat_ms is 1 s in the test stack).
      workerEnv: { HEARTBEAT_MS: "2000" },
      tunnelVia: async (port) => {
        proxy = await startDelayProxy(port, { delayMs: 200, lossRate: 0.05, retransmitMs: 400 });
        return proxy.port;
      },
    });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await proxy?.close();
  });

  it("still completes reads and a mutating call within their deadlines", async () => {
    const client = await stack.client();
    const started = Date.now();
    const reads = await Promise.all(Array.from({ length: 20 }, (_, i) => client.callTool({ name: i % 2 ? "node_list" : "guest_list", arguments: {} }) as Promise<Result>));
    expect(reads.every((r) => !r.isError)).toBe(true);
    const start = (await client.callTool({ name: "guest_power", arguments: { vmid: 101, action: "start" } })) as Result;
    expect(start.isError, start.content[0]?.text).toBeFalsy();
    expect(start.structuredContent.exitstatus).toBe("OK");
    const starts = stack.sim.mutations.filter((m) => m.path.endsWith("/101/status/start"));
    expect(starts).toHaveLength(1);
    console.log(`20 reads and a start with wait over the slow tunnel: ${Date.now() - started} ms`);
    await client.close();
  });

  it("detects a dead peer on both sides within the stated bound, and recovers", async () => {
    const healthz = async () =>
      ((await (await fetch(`${stack.baseUrl}/healthz`)).json()) as { agents: Array<{ connected: boolean }> }).agents[0]?.connected;
    proxy.blackhole(true);
    const cut = Date.now();
    let workerSaw = 0;
    while (Date.now() - cut < 15_000) {
      if (!workerSaw && !(await healthz())) workerSaw = Date.now() - cut;
      if (workerSaw && /worker silent for two heartbeats/.test(stack.agent.output())) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const agentSaw = /worker silent for two heartbeats/.test(stack.agent.output()) ? Date.now() - cut : 0;
    console.log(`dead peer detected: worker after ${workerSaw} ms (bound 2 x HEARTBEAT_MS = 4000), agent after about ${agentSaw} ms (bound 3 x heartbeat_ms = 3000)`);
    expect(workerSaw).toBeGreaterThan(0);
    expect(workerSaw).toBeLessThanOrEqual(4_500);
    expect(agentSaw).toBeGreaterThan(0);
    expect(agentSaw).toBeLessThanOrEqual(4_000);
    proxy.blackhole(false);
    await stack.agentConnected(true);
    const client = await stack.client(["proxmox:read"]);
    const r = (await client.callTool({ name: "cluster_status", arguments: {} })) as Result;
    expect(r.isError).toBeFalsy();
    await client.close();
  });
});
