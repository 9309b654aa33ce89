import { request } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventsConfigSchema } from "../../../../agent/events/config.ts";
import { WebhookListener } from "../../../../agent/events/listeners/webhook.ts";
import type { RawEvent } from "../../../../agent/events/source.ts";
import { collector, memoryLog } from "../helpers.ts";

const SECRET = "s3cret-0123456789abcdef";

/** The body a PVE webhook target sends with the template we document. */
function pveBody(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    title: "vzdump backup status (pve1.example.com): backup failed",
    message: "Details\n=======\nVMID  Name  Status\n100   web   err\n",
    severity: "error",
    timestamp: 1763888461,
    fields: { hostname: "pve1", type: "vzdump", "job-id": "backup-daily" },
    ...overrides,
  });
}

function post(port: number, body: string | Buffer, headers: Record<string, string> = {}, path = "/pve-webhook", method = "POST"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("PVE webhook listener", () => {
  let listener: WebhookListener;
  let events: RawEvent[];

  beforeEach(async () => {
    const c = collector();
    events = c.events;
    listener = new WebhookListener({ host: "127.0.0.1", port: 0, path: "/pve-webhook", secret: SECRET, secret_header: "X-Webhook-Secret", max_body_bytes: 4096, emit: c.emit, log: memoryLog().log });
    await listener.start();
  });
  afterEach(async () => {
    await listener.stop();
  });

  it("turns a POST with the right secret header into an event", async () => {
    const res = await post(listener.port, pveBody(), { "Content-Type": "application/json", "X-Webhook-Secret": SECRET });
    expect(res.status).toBe(200);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: "pve-notify",
      node: "pve1",
      severity: "error",
      title: "vzdump backup status (pve1.example.com): backup failed",
      time: new Date(1763888461 * 1000),
      metadata: { type: "vzdump", pve_severity: "error", fields: { "job-id": "backup-daily" } },
    });
  });

  it("answers 401 to a wrong secret and emits nothing", async () => {
    const res = await post(listener.port, pveBody(), { "Content-Type": "application/json", "X-Webhook-Secret": "wrong-secret-0123456789" });
    expect(res.status).toBe(401);
    const missing = await post(listener.port, pveBody(), { "Content-Type": "application/json" });
    expect(missing.status).toBe(401);
    expect(events).toHaveLength(0);
    expect(listener.counters()).toMatchObject({ received: 2, rejected: 2, emitted: 0 });
  });

  it("accepts the secret in the body when the target sends no header, and keeps it out of the event", async () => {
    const res = await post(listener.port, pveBody({ secret: SECRET }), { "Content-Type": "application/json" });
    expect(res.status).toBe(200);
    expect(JSON.stringify(events[0])).not.toContain(SECRET);
  });

  it("answers 413 over the size limit, declared or streamed", async () => {
    const big = Buffer.alloc(5000, "a");
    expect((await post(listener.port, big, { "X-Webhook-Secret": SECRET })).status).toBe(413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: listener.port, path: "/pve-webhook", method: "POST", headers: { "X-Webhook-Secret": SECRET, "Transfer-Encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write(Buffer.alloc(3000, "b"));
      req.end(Buffer.alloc(3000, "c"));
    });
    expect(chunked).toBe(413);
    expect(events).toHaveLength(0);
  });

  it("answers 400 to garbage", async () => {
    const headers = { "Content-Type": "application/json", "X-Webhook-Secret": SECRET };
    expect((await post(listener.port, '{"title": "broken', headers)).status).toBe(400);
    expect((await post(listener.port, "[1,2,3]", headers)).status).toBe(400);
    expect((await post(listener.port, "", headers)).status).toBe(400);
    expect((await post(listener.port, '{"fields":{}}', headers)).status).toBe(400);
    expect((await post(listener.port, Buffer.from([0xff, 0xfe, 0x00]), { "X-Webhook-Secret": SECRET })).status).toBe(400);
    expect(events).toHaveLength(0);
    expect(listener.counters().malformed).toBe(5);
  });

  it("takes a plain-text body (template `{{ message }}`) with the title from a header", async () => {
    const res = await post(listener.port, "Backup of VM 100 failed\nmore lines", { "Content-Type": "text/plain", "X-Webhook-Secret": SECRET, Title: "backup failed", Severity: "warning" });
    expect(res.status).toBe(200);
    expect(events[0]).toMatchObject({ title: "backup failed", severity: "warning", message: "Backup of VM 100 failed\nmore lines" });
  });

  it("answers 405 to other methods and 404 to other paths", async () => {
    expect((await post(listener.port, "", { "X-Webhook-Secret": SECRET }, "/pve-webhook", "GET")).status).toBe(405);
    expect((await post(listener.port, pveBody(), { "X-Webhook-Secret": SECRET }, "/other")).status).toBe(404);
  });
});

describe("webhook listener binding", () => {
  it("refuses a non-loopback address, in the config and in the listener", () => {
    const make = () => new WebhookListener({ host: "0.0.0.0", port: 0, path: "/", secret: SECRET, secret_header: "X-Webhook-Secret", max_body_bytes: 1024, emit: () => {}, log: memoryLog().log });
    expect(make).toThrow(/loopback/);
    const parsed = eventsConfigSchema.safeParse({ listeners: { webhook: { host: "192.168.1.10", secret: SECRET } } });
    expect(parsed.success).toBe(false);
    expect(eventsConfigSchema.safeParse({ listeners: { webhook: { host: "::1", secret: SECRET } } }).success).toBe(true);
  });
});
