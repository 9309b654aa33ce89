import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, waitFor } from "../support/ports.ts";
import { startStack, type Stack } from "../support/stack.ts";

const OUTAGE_MS = 30_000;

describe("notifier delivery through a receiver outage and an agent restart", () => {
  let stack: Stack | undefined;
  let receiver: Server | undefined;
  let spool: string | undefined;
  afterAll(async () => {
    await stack?.close();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
    if (spool) rmSync(spool, { recursive: true, force: true });
  });

  it("delivers every event exactly once by id after the receiver comes back, none lost", async () => {
    const began = Date.now();
    const receiverPort = await freePort();
    const syslogPort = await freePort();
    spool = mkdtempSync(join(tmpdir(), "outage-spool-"));
    stack = await startStack({
      agentConfig: {
        events: {
          listeners: { syslog: { port: syslogPort } },
          dedup_window_ms: 0,
          spool_dir: spool,
          notifiers: [{ type: "webhook", name: "receiver", url: `http://127.0.0.1:${receiverPort}/hook`, retry: { base_ms: 200, max_ms: 2000 } }],
        },
      },
    });
    const client = await stack.client(["proxmox:read"]);
    const send = async (n: number) => {
      const socket = createSocket("udp4");
      await new Promise<void>((r) => socket.send(`<13>1 2026-11-23T10:00:00Z pve1 outage-test - - - message ${n}`, syslogPort, "127.0.0.1", () => r()));
      socket.close();
    };
    const seen = async (count: number) =>
      waitFor(async () => {
        const r = (await client.callTool({ name: "events_read", arguments: { source: ["syslog"], limit: 200 } })) as unknown as { structuredContent: { events: Array<{ id: string }> } };
        return r.structuredContent.events.length >= count ? r.structuredContent.events : undefined;
      }, `${count} events at the worker`);

    for (let i = 1; i <= 5; i++) await send(i);
    await seen(5);
    await stack.agent.kill("SIGKILL");
    await stack.startAgent();
    for (let i = 6; i <= 10; i++) await send(i);
    const events = await seen(10);
    await client.close();

    // The receiver has been down (connection refused) all along; bring it up once the outage has lasted 30 s.
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - began))));
    const raw: string[] = [];
    receiver = createServer((req, res) => {
      raw.push(String(req.headers["x-pve-mcp-event-id"]));
      req.resume();
      req.on("end", () => res.end("ok"));
    });
    await new Promise<void>((r) => receiver!.listen(receiverPort, "127.0.0.1", r));
    const ids = events.map((e) => e.id).sort();
    await waitFor(() => ids.every((id) => raw.includes(id)), "every event delivered", 30_000);
    const unique = [...new Set(raw)].sort();
    console.log(`outage ${(Date.now() - began) / 1000 | 0} s: ${ids.length} events, ${raw.length} deliveries, ${unique.length} unique ids`);
    expect(unique).toEqual(ids);
    expect(raw.length).toBeGreaterThanOrEqual(ids.length);
  }, 120_000);
});
