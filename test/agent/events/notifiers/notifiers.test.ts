import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Event } from "../../../../shared/event.ts";
import { Delivery } from "../../../../agent/events/delivery.ts";
import { notifierConfigSchema, type NotifierConfig } from "../../../../agent/events/notifiers/index.ts";
import { Spool } from "../../../../agent/events/spool.ts";
import { eventually, memoryLog, sampleEvent, startReceiver } from "../helpers.ts";

// A non-ASCII title exercises the ntfy header encoding.
const event: Event = { ...sampleEvent, title: "Task failed: VM start 101 – Überprüfung" };

const dirs: string[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Sends one event through a real Delivery (spool, retry loop, HTTP) and returns what the receiver got. */
async function deliver(config: Record<string, unknown>, e: Event = event) {
  const receiver = await startReceiver();
  closers.push(receiver.close);
  const dir = mkdtempSync(join(tmpdir(), "notify-"));
  dirs.push(dir);
  const cfg = notifierConfigSchema.parse({ name: "n", retry: { base_ms: 10, max_ms: 20 }, ...config, url: `${receiver.url}${config.url ?? "/hook"}` }) as NotifierConfig;
  const { log } = memoryLog();
  const delivery = new Delivery(cfg, new Spool({ dir, max_events: 10, max_bytes: 1 << 20, name: "n", log }), log);
  closers.unshift(() => delivery.stop());
  delivery.start();
  delivery.offer(e);
  await eventually(() => delivery.counters().delivered === 1, "delivery");
  return { got: receiver.deliveries[0], delivery };
}

describe("notifiers", () => {
  it("generic webhook: the event as JSON, its id, and an HMAC-SHA256 signature that verifies", async () => {
    const secret = "n8n-shared-secret-0123";
    const { got } = await deliver({ type: "webhook", secret, headers: { Authorization: "Bearer abc" } });
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.headers["x-pve-mcp-event-id"]).toBe(event.id);
    expect(got.headers.authorization).toBe("Bearer abc");
    expect(JSON.parse(got.body)).toEqual(event);
    // What a receiver does: HMAC the raw body with the shared secret and compare in constant time.
    const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(got.body).digest("hex")}`);
    const signature = Buffer.from(String(got.headers["x-pve-mcp-signature"]));
    expect(signature.length).toBe(expected.length);
    expect(timingSafeEqual(signature, expected)).toBe(true);
    const forged = Buffer.from(`sha256=${createHmac("sha256", "other-secret").update(got.body).digest("hex")}`);
    expect(timingSafeEqual(signature, forged)).toBe(false);
  });

  it("Discord: one embed coloured by severity, no mentions, wait=true", async () => {
    const { got } = await deliver({ type: "discord", url: "/api/webhooks/1/abc" });
    expect(got.url).toBe("/api/webhooks/1/abc?wait=true");
    const body = JSON.parse(got.body);
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect(body.embeds[0]).toMatchObject({ title: event.title, description: event.message, color: 0xe74c3c, timestamp: event.time, footer: { text: event.id } });
    expect(body.embeds[0].fields).toContainEqual({ name: "Node", value: "pve1", inline: true });
  });

  it("Gotify: POST /message with the app token in X-Gotify-Key and priority by severity", async () => {
    const { got } = await deliver({ type: "gotify", url: "/gotify", token: "app-token" });
    expect(got.url).toBe("/gotify/message");
    expect(got.headers["x-gotify-key"]).toBe("app-token");
    expect(JSON.parse(got.body)).toMatchObject({ title: event.title, message: event.message, priority: 8 });
  });

  it("ntfy: the message as body, Title/Priority/Tags headers, non-ASCII title RFC 2047-encoded", async () => {
    const { got } = await deliver({ type: "ntfy", url: "/pve-alerts", token: "tk_x" });
    expect(got.url).toBe("/pve-alerts");
    expect(got.body).toBe(event.message);
    expect(got.headers.priority).toBe("5");
    expect(got.headers.tags).toBe("x,pve-task,pve1");
    expect(got.headers.authorization).toBe("Bearer tk_x");
    const title = String(got.headers.title);
    expect(title).toMatch(/^=\?UTF-8\?B\?/);
    expect(Buffer.from(title.slice(10, -2), "base64").toString("utf8")).toBe(event.title);
  });

  it("sends only what the notifier's own filter matches", async () => {
    const { delivery } = await deliver({ type: "webhook", filter: { min_severity: "warning" } });
    delivery.offer({ ...event, id: "01KAQ7C1M0ZZZZZZZZZZZZZZZZ", severity: "info" });
    expect(delivery.counters()).toMatchObject({ received: 2, filtered: 1, delivered: 1 });
  });
});

describe("delivery retries", () => {
  it("retries 5xx and 429 until accepted, and drops a 4xx for good", async () => {
    let answers = [503, 429, 200, 400];
    const receiver = await startReceiver(0, () => answers.shift() ?? 200);
    closers.push(receiver.close);
    const dir = mkdtempSync(join(tmpdir(), "notify-"));
    dirs.push(dir);
    const { log, lines } = memoryLog();
    const cfg = notifierConfigSchema.parse({ type: "webhook", name: "n", url: receiver.url, retry: { base_ms: 5, max_ms: 10 } });
    const delivery = new Delivery(cfg, new Spool({ dir, max_events: 10, max_bytes: 1 << 20, name: "n", log }), log);
    closers.unshift(() => delivery.stop());
    delivery.start();
    delivery.offer(event);
    delivery.offer({ ...event, id: "01KAQ7C1M0YYYYYYYYYYYYYYYY" });
    await eventually(() => delivery.counters().spooled === 0, "spool drained");
    expect(delivery.counters()).toMatchObject({ delivered: 1, failed: 2, rejected: 1, spooled: 0 });
    expect(receiver.deliveries.map((d) => d.headers["x-pve-mcp-event-id"])).toEqual([event.id, event.id, event.id, "01KAQ7C1M0YYYYYYYYYYYYYYYY"]);
    expect(lines.some((l) => l.msg === "notifier refused an event; dropping it" && String(l.reason).startsWith("HTTP 400"))).toBe(true);
    answers = [];
  });
});
