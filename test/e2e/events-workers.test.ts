import { createSocket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, waitFor } from "../support/ports.ts";
import { startStack, type Stack } from "../support/stack.ts";

type Read = { structuredContent: { events: Array<{ id: string; message: string }> } };

describe("events on Workers (wrangler dev): kept in the Durable Object", () => {
  let stack: Stack;
  let syslogPort: number;
  beforeAll(async () => {
    syslogPort = await freePort();
    stack = await startStack({ runtime: "wrangler", agentConfig: { events: { listeners: { syslog: { port: syslogPort } }, dedup_window_ms: 0 } } });
  }, 120_000);
  afterAll(async () => stack?.close());

  it("a client pages through events after the agent went offline and the worker restarted", async () => {
    const socket = createSocket("udp4");
    for (const n of [1, 2, 3]) await new Promise<void>((r) => socket.send(`<14>1 2026-11-23T10:00:00Z pve1 app - - - durable ${n}`, syslogPort, "127.0.0.1", () => r()));
    socket.close();
    const client = await stack.client(["proxmox:read"]);
    const before = await waitFor(async () => {
      const r = (await client.callTool({ name: "events_read", arguments: { include: ["durable"] } })) as unknown as Read;
      return r.structuredContent.events.length === 3 ? r.structuredContent.events : undefined;
    }, "3 events at the worker");
    await client.close();

    await stack.agent.kill("SIGKILL");
    await stack.restartWorker();
    const again = await stack.client(["proxmox:read"]);
    const after = (await again.callTool({ name: "events_read", arguments: { include: ["durable"] } })) as unknown as Read;
    expect(after.structuredContent.events.map((e) => e.id)).toEqual(before.map((e) => e.id));
    const offline = (await again.callTool({ name: "cluster_status", arguments: {} })) as { isError?: boolean; _meta?: { code?: string } };
    expect(offline.isError).toBe(true);
    expect(offline._meta?.code).toBe("agent_offline");
    await again.close();
  });
});
