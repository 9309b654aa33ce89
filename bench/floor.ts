import { once } from "node:events";
import WebSocket from "ws";
import { measureLatency, measureThroughput, type Call, type Measured, type Throughput } from "./load.ts";
import type { Phases } from "./phases.ts";
import type { Latency } from "./stats.ts";

/** A call frame of the size the tunnel carries for a no-op call. */
const PAYLOAD = JSON.stringify({
  t: "call",
  id: crypto.randomUUID(),
  tool: "bench_noop",
  args: {},
  deadline: Date.now() + 55_000,
  principal: { sub: "bench", scopes: ["proxmox:read", "proxmox:write", "host:exec"] },
  requestId: "1",
});

export interface FloorResults {
  ws: Measured<Latency>;
  wsThroughput: Record<number, Measured<Throughput>>;
  http: Measured<Latency>;
  /** Opening a fresh WebSocket (TCP + upgrade): the least any reconnect costs. */
  wsConnect: Measured<Latency>;
}

/** Round trips to the echo server in another process: a WebSocket message, and an HTTP POST with fetch as the MCP client uses. */
export async function measureFloor(port: number, phases: Phases): Promise<FloorResults> {
  const url = `ws://127.0.0.1:${port}`;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await once(ws, "open");
  const waiting: Array<() => void> = [];
  // The echo server answers in order, so the oldest waiter owns each reply.
  ws.on("message", () => waiting.shift()?.());
  const echo: Call = () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      ws.send(PAYLOAD);
    });
  const post: Call = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: PAYLOAD });
    await res.arrayBuffer();
  };
  const connect: Call = async () => {
    const fresh = new WebSocket(url, { perMessageDeflate: false });
    await once(fresh, "open");
    fresh.terminate();
  };
  try {
    const results: FloorResults = {
      ws: await measureLatency(echo, phases.fastLatency),
      wsThroughput: {},
      http: await measureLatency(post, phases.latency),
      wsConnect: await measureLatency(connect, { warmup: 5, count: 50, maxMs: 5_000 }),
    };
    for (const c of phases.concurrency) results.wsThroughput[c] = await measureThroughput(() => echo, { ...phases.throughput, concurrency: c });
    return results;
  } finally {
    ws.terminate();
  }
}
