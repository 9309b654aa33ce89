import { createHmac } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CallToolResultSchema, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, waitFor } from "../support/ports.ts";
import { startStack, type Stack } from "../support/stack.ts";

type Result = { isError?: boolean; content: Array<{ text?: string }>; structuredContent?: any };
interface Delivery {
  id: string;
  signature: string;
  body: string;
}

const HMAC_SECRET = "n8n-shared-secret-0123456789";
const WEBHOOK_SECRET = "pve-webhook-secret-0123456789";

describe("events: agent listeners → worker → MCP clients and notifiers", () => {
  let stack: Stack;
  let client: Client;
  let receiver: Server;
  let webhookPort: number;
  let syslogPort: number;
  let spool: string;
  const deliveries: Delivery[] = [];
  const updates: string[] = [];

  const read = async (args: Record<string, unknown>) => (await client.callTool({ name: "events_read", arguments: args })) as Result;
  const eventually = (args: Record<string, unknown>, what: string) =>
    waitFor(async () => {
      const r = await read(args);
      return r.structuredContent.events.length ? r.structuredContent.events : undefined;
    }, what, 15_000);

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        deliveries.push({ id: String(req.headers["x-pve-mcp-event-id"]), signature: String(req.headers["x-pve-mcp-signature"]), body });
        res.end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    webhookPort = await freePort();
    syslogPort = await freePort();
    spool = mkdtempSync(join(tmpdir(), "spool-"));
    stack = await startStack({
      taskDurationMs: 200,
      agentConfig: {
        events: {
          listeners: {
            pve_tasks: { interval_ms: 500 },
            pve_cluster: { interval_ms: 500 },
            webhook: { port: webhookPort, secret: WEBHOOK_SECRET },
            syslog: { port: syslogPort },
          },
          dedup_window_ms: 0,
          spool_dir: spool,
          notifiers: [{ type: "webhook", name: "n8n", url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`, secret: HMAC_SECRET, retry: { base_ms: 100, max_ms: 1000 } }],
        },
      },
    });
    client = await stack.client(["proxmox:read", "proxmox:write"]);
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
      updates.push(n.params.uri);
    });
    await client.subscribeResource({ uri: "proxmox://events/recent" });
    // The listeners' first poll is a baseline; give it a moment before changing anything.
    await new Promise((r) => setTimeout(r, 1200));
  }, 90_000);

  afterAll(async () => {
    await client?.close();
    await stack?.close();
    await new Promise<void>((r) => receiver?.close(() => r()));
    rmSync(spool, { recursive: true, force: true });
  });

  it("turns a failed PVE task into an event", async () => {
    const start = (await client.callTool({ name: "guest_power", arguments: { vmid: 100, action: "start" } })) as Result;
    expect(start.isError).toBe(true);
    expect(start.content[0].text).toContain("already running");
    const events = await eventually({ source: ["pve-task"], vmid: 100, min_severity: "error" }, "failed task event");
    expect(events[0].message).toContain("already running");
  });

  it("turns a guest stopped in the simulator into an event", async () => {
    const stop = (await client.callTool({ name: "guest_power", arguments: { vmid: 102, action: "shutdown" } })) as Result;
    expect(stop.isError, stop.content[0]?.text).toBeFalsy();
    const events = await eventually({ source: ["pve-cluster"], vmid: 102, type: "guest-stopped" }, "guest stopped event");
    expect(events[0].node).toBe("pve2");
  });

  it("turns a PVE notification webhook into an event, and refuses a wrong secret", async () => {
    const post = (secret: string) =>
      fetch(`http://127.0.0.1:${webhookPort}/pve-webhook`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Webhook-Secret": secret },
        body: JSON.stringify({ title: "vzdump backup failed on pve3", message: "job backup-nightly: VM 104 failed", severity: "error", timestamp: Math.floor(Date.now() / 1000), fields: { type: "vzdump", hostname: "pve3" } }),
      });
    expect((await post("wrong-secret-0123456789")).status).toBe(401);
    expect((await post(WEBHOOK_SECRET)).status).toBeLessThan(300);
    const events = await eventually({ source: ["pve-notify"], include: ["backup-nightly"] }, "webhook event");
    expect(events[0].severity).toBe("error");
  });

  it("turns a syslog datagram into an event", async () => {
    const socket = createSocket("udp4");
    const line = "<11>1 2026-11-23T10:00:00.000Z pve1 pvedaemon 1234 - - disk /dev/sdb failing SMART check";
    await new Promise<void>((r) => socket.send(line, syslogPort, "127.0.0.1", () => r()));
    socket.close();
    const events = await eventually({ source: ["syslog"], include: ["SMART"] }, "syslog event");
    expect(events[0].node).toBe("pve1");
    expect(events[0].severity).toBe("error");
  });

  it("notified the subscribed client and delivered every event to the receiver with a valid HMAC", async () => {
    expect(updates.length).toBeGreaterThanOrEqual(4);
    expect(updates.every((u) => u === "proxmox://events/recent")).toBe(true);
    const all = (await read({ limit: 200 })).structuredContent.events as Array<{ id: string; source: string }>;
    await waitFor(() => all.every((e) => deliveries.some((d) => d.id === e.id)), "all events delivered");
    for (const d of deliveries) {
      expect(d.signature).toBe(`sha256=${createHmac("sha256", HMAC_SECRET).update(d.body).digest("hex")}`);
      expect(JSON.parse(d.body).id).toBe(d.id);
    }
    for (const source of ["pve-task", "pve-cluster", "pve-notify", "syslog"]) expect(all.some((e) => e.source === source), source).toBe(true);
  });

  it("pages with a cursor", async () => {
    const first = (await read({ limit: 1, since: 0 })).structuredContent;
    expect(first.events).toHaveLength(1);
    const next = (await read({ limit: 1, since: first.cursor })).structuredContent;
    expect(next.events[0].id).not.toBe(first.events[0].id);
  });

  it("waits for 'guest 105 running' while another call starts it", async () => {
    const progress: number[] = [];
    const waiting = client.callTool(
      { name: "events_wait", arguments: { vmid: 105, type: "guest-started", timeout_seconds: 20 } },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p.progress), timeout: 30_000 },
    );
    await new Promise((r) => setTimeout(r, 200));
    const start = (await client.callTool({ name: "guest_power", arguments: { vmid: 105, action: "start" } })) as Result;
    expect(start.isError, start.content[0]?.text).toBeFalsy();
    const result = (await waiting) as Result;
    expect(result.structuredContent.matched).toBe(true);
    expect(result.structuredContent.event.metadata.vmid).toBe(105);
  });

  it("ends a wait with no match at its timeout, clearly", async () => {
    const started = Date.now();
    const result = (await client.callTool({ name: "events_wait", arguments: { vmid: 9999, timeout_seconds: 2 } })) as Result;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent.matched).toBe(false);
    expect(result.content[0].text).toMatch(/No matching event within 2 s/);
  });

  it("shows listeners and notifiers with counters in /healthz", async () => {
    await waitFor(async () => {
      const health = (await (await fetch(`${stack.baseUrl}/healthz`)).json()) as { agents: Array<{ agent_status?: { events?: { listeners: unknown[]; notifiers: unknown[] } } }> };
      const events = health.agents[0]?.agent_status?.events;
      return events && events.listeners.length === 4 && events.notifiers.length === 1 ? events : undefined;
    }, "agent status with events in /healthz");
  });
});
