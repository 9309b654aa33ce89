import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EventService, parseEventsConfig, type EventsConfigInput } from "../../../agent/events/index.ts";
import type { SyslogListener } from "../../../agent/events/listeners/syslog.ts";
import { signBody } from "../../../agent/events/notifiers/webhook.ts";
import { freePort } from "../../support/ports.ts";
import { eventually, memoryLog, startReceiver } from "./helpers.ts";

const SECRET = "hmac-secret-0123456789";
const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "events-"));
  dirs.push(dir);
  return dir;
}

async function sendSyslog(port: number, text: string): Promise<void> {
  const client = createSocket("udp4");
  await new Promise<void>((resolve, reject) => client.send(Buffer.from(text), port, "127.0.0.1", (err) => (err ? reject(err) : resolve())));
  client.close();
}

function config(spoolDir: string, receiverPort: number): EventsConfigInput {
  return {
    listeners: { syslog: { port: 0 } },
    dedup_window_ms: 60_000,
    rate_limit: { events: 1000, interval_ms: 1000 },
    spool_dir: spoolDir,
    notifiers: [{ type: "webhook", name: "n8n", url: `http://127.0.0.1:${receiverPort}/hook`, secret: SECRET, timeout_ms: 150, retry: { base_ms: 20, max_ms: 80 } }],
  };
}

describe("EventService", () => {
  it("delivers every event exactly once by id after the receiver was down and the agent restarted", async () => {
    const spoolDir = tempDir();
    const port = await freePort(); // nothing listens there yet: connection refused
    const { log } = memoryLog();
    const ids: string[] = [];

    const first = EventService.fromConfig(config(spoolDir, port), { log });
    first.onEvent((e) => ids.push(e.id));
    await first.start();
    const syslogPort = first.listener<SyslogListener>("syslog")!.port;
    await sendSyslog(syslogPort, "<11>1 2026-11-23T09:00:00Z pve1 smartd 77 - - Device /dev/sda: SMART Failure");
    await sendSyslog(syslogPort, "<28>Nov 23 09:00:01 pve1 pvestatd[1100]: storage 'nas' is not online");
    for (let i = 0; i < 3; i++) first.publish({ source: "pve-cluster", severity: "notice", title: `VM ${100 + i} stopped`, message: `VM ${100 + i} on pve1 stopped`, metadata: { type: "guest-stopped", vmid: 100 + i } });
    await eventually(() => ids.length === 5 && first.status().notifiers[0].counters.failed >= 2, "failed attempts while the receiver is down");
    expect(first.status().notifiers[0].counters).toMatchObject({ spooled: 5, delivered: 0, dropped: 0 });
    await first.stop();

    // The agent restarts with the same spool directory; two more events arrive while the receiver is still down.
    const second = EventService.fromConfig(config(spoolDir, port), { log });
    second.onEvent((e) => ids.push(e.id));
    await second.start();
    second.publish({ source: "pve-task", severity: "error", title: "Task failed: backup", message: "vzdump failed", stableKey: "UPID:pve1:1", metadata: { type: "vzdump" } });
    second.publish({ source: "pve-task", severity: "info", title: "Task started: VM start 100", message: "started", metadata: { type: "qmstart" } });
    expect(second.status().notifiers[0].counters.spooled).toBe(7);

    // The receiver comes up; its first answer is slower than the agent's timeout, so that event is sent twice.
    let slow = true;
    const receiver = await startReceiver(port, async () => {
      if (slow) {
        slow = false;
        await new Promise((r) => setTimeout(r, 400));
      }
      return 200;
    });
    cleanups.push(receiver.close, () => second.stop());
    await eventually(() => second.status().notifiers[0].counters.spooled === 0, "spool drained", 10_000);

    const received = receiver.deliveries.map((d) => String(d.headers["x-pve-mcp-event-id"]));
    const unique = new Set(received);
    expect(ids).toHaveLength(7);
    expect([...unique].sort()).toEqual([...ids].sort());
    expect(received.length).toBeGreaterThan(unique.size);
    for (const d of receiver.deliveries) {
      expect(d.headers["x-pve-mcp-signature"]).toBe(signBody(SECRET, d.body));
      expect(JSON.parse(d.body).id).toBe(d.headers["x-pve-mcp-event-id"]);
    }
    expect(second.status().notifiers[0].counters).toMatchObject({ spooled: 0, dropped: 0, delivered: 7 });
  });

  it("reports listeners, filter and notifiers with their counters", async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const service = EventService.fromConfig(
      {
        listeners: { syslog: { port: 0 }, webhook: { port: 0, secret: "0123456789abcdef" } },
        filter: { exclude: ["noise"] },
        spool_dir: tempDir(),
        notifiers: [{ type: "ntfy", name: "phone", url: `${receiver.url}/alerts`, filter: { min_severity: "error" } }],
      },
      { log: memoryLog().log },
    );
    cleanups.push(() => service.stop());
    await service.start();
    service.publish({ source: "syslog", severity: "info", title: "noise", message: "noise" });
    service.publish({ source: "syslog", severity: "info", title: "hello", message: "hello" });
    service.publish({ source: "syslog", severity: "error", title: "disk failed", message: "disk failed" });
    await eventually(() => receiver.deliveries.length === 1, "ntfy delivery");
    const status = service.status();
    expect(status.running).toBe(true);
    expect(status.pipeline).toMatchObject({ filter: { exclude: ["noise"] }, cursor: 2, counters: { received: 3, filtered: 1, delivered: 2 } });
    expect(status.listeners.map((l) => [l.name, l.running])).toEqual([["webhook", true], ["syslog", true]]);
    expect(status.notifiers).toEqual([{ name: "phone", type: "ntfy", filter: { min_severity: "error" }, counters: { received: 2, filtered: 1, delivered: 1, failed: 0, rejected: 0, spooled: 0, dropped: 0 } }]);
    expect(service.recent({ min_severity: "error" }).events.map((e) => e.title)).toEqual(["disk failed"]);
    const waiting = service.waitFor({ include: ["later"] }, 2_000);
    service.publish({ source: "syslog", severity: "info", title: "later", message: "later" });
    expect((await waiting)?.title).toBe("later");
    expect(await service.waitFor({ include: ["never"] }, 50)).toBeNull();
  });

  it("keeps running the other listeners when one cannot bind its port", async () => {
    const port = await freePort();
    const blocker = await startReceiver(port);
    cleanups.push(blocker.close);
    const service = EventService.fromConfig({ listeners: { syslog: { port: 0 }, webhook: { port, secret: "0123456789abcdef" } } }, { log: memoryLog().log });
    cleanups.push(() => service.stop());
    await service.start();
    const [webhook, syslog] = service.status().listeners;
    expect(webhook).toMatchObject({ name: "webhook", running: false, error: expect.stringMatching(/EADDRINUSE/) });
    expect(syslog).toMatchObject({ name: "syslog", running: true });
  });

  it("names the bad key in a config error, and needs a PVE client for the PVE listeners", () => {
    expect(() => parseEventsConfig({ dedup_window_ms: -1 })).toThrow(/dedup_window_ms/);
    expect(() => parseEventsConfig({ notifiers: [{ type: "webhook", name: "a", url: "http://127.0.0.1/" }] })).toThrow(/spool_dir: required/);
    expect(() => parseEventsConfig({ notifiers: [{ type: "pager", name: "a", url: "http://x/" }], spool_dir: "/tmp" })).toThrow(/notifiers\.0\.type/);
    expect(() => EventService.fromConfig({ listeners: { pve_tasks: {} } }, { log: memoryLog().log })).toThrow(/PVE client/);
  });
});
