import { describe, expect, it } from "vitest";
import { ToolError } from "../../../shared/errors.ts";
import type { Event } from "../../../shared/event.ts";
import { GuestCache, enricher } from "../../../agent/events/enrich.ts";
import { EventPipeline, type PipelineOptions } from "../../../agent/events/pipeline.ts";
import { memoryLog, raw } from "./helpers.ts";

function pipeline(opts: Partial<PipelineOptions> = {}) {
  let now = 1_000_000;
  const p = new EventPipeline({ dedupWindowMs: 60_000, rateLimit: { events: 1000, interval_ms: 1000 }, ringSize: 100, log: memoryLog().log, now: () => now, ...opts });
  return { p, advance: (ms: number) => (now += ms) };
}

describe("event pipeline", () => {
  it("normalises a raw event into the event shape with a ULID-like id", () => {
    const { p } = pipeline();
    const e = p.ingest(raw({ node: "pve1", time: new Date("2026-11-23T09:00:00Z"), metadata: { a: 1 } }))!;
    expect(e).toMatchObject({ source: "syslog", node: "pve1", severity: "info", title: "t", message: "m", time: "2026-11-23T09:00:00.000Z", metadata: { a: 1 } });
    expect(e.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it("gives the same id to the same happening (stable key) and different ids otherwise", () => {
    const a = pipeline().p.ingest(raw({ stableKey: "UPID:x", time: new Date(5000) }))!;
    const b = pipeline().p.ingest(raw({ stableKey: "UPID:x", time: new Date(5000) }))!;
    const c = pipeline().p.ingest(raw({ time: new Date(5000) }))!;
    expect(a.id).toBe(b.id);
    expect(c.id).not.toBe(a.id);
    expect(a.id.slice(0, 10)).toBe(c.id.slice(0, 10));
  });

  it("drops events the filter does not match, and counts them", () => {
    const { p } = pipeline({ filter: { min_severity: "warning" } });
    expect(p.ingest(raw({ severity: "info" }))).toBeUndefined();
    expect(p.ingest(raw({ severity: "error", title: "x" }))).toBeDefined();
    expect(p.counters()).toMatchObject({ received: 2, filtered: 1, delivered: 1 });
    expect(p.recent().events.map((e) => e.severity)).toEqual(["error"]);
  });

  it("deduplicates within the window and lets the event through again after it", () => {
    const { p, advance } = pipeline({ dedupWindowMs: 10_000 });
    expect(p.ingest(raw())).toBeDefined();
    advance(5_000);
    expect(p.ingest(raw())).toBeUndefined();
    expect(p.ingest(raw({ dedupKey: "other" }))).toBeDefined();
    advance(5_001);
    expect(p.ingest(raw())).toBeDefined();
    expect(p.counters()).toMatchObject({ received: 4, deduplicated: 1, delivered: 3 });
  });

  it("rate-limits per key with a token bucket that refills over the interval", () => {
    const { p, advance } = pipeline({ dedupWindowMs: 0, rateLimit: { events: 3, interval_ms: 1_000 } });
    const results = Array.from({ length: 5 }, (_, i) => p.ingest(raw({ message: `m${i}`, node: "pve1" })));
    expect(results.filter(Boolean)).toHaveLength(3);
    expect(p.ingest(raw({ message: "other node", node: "pve2" }))).toBeDefined();
    advance(334);
    expect(p.ingest(raw({ message: "refilled", node: "pve1" }))).toBeDefined();
    expect(p.ingest(raw({ message: "empty again", node: "pve1" }))).toBeUndefined();
    expect(p.counters()).toMatchObject({ rate_limited: 3, delivered: 5 });
  });

  it("enriches events with guest name and type from the cache, and a task's node from its UPID", () => {
    const cache = new GuestCache();
    cache.update([{ id: "qemu/100", type: "qemu", vmid: 100, name: "web", node: "pve2" }]);
    const { p } = pipeline({ enrich: enricher(cache) });
    const guest = p.ingest(raw({ metadata: { vmid: "100" } }))!;
    expect(guest.metadata).toMatchObject({ vmid: 100, guest_name: "web", guest_type: "qemu" });
    expect(guest.node).toBe("pve2");
    const task = p.ingest(raw({ message: "other", metadata: { upid: "UPID:pve3:00001234:00ABCDEF:6922CE4D:vzdump::root@pam:" } }))!;
    expect(task.node).toBe("pve3");
  });

  it("keeps a bounded ring readable by cursor, and says when events were missed", () => {
    const { p } = pipeline({ ringSize: 10, dedupWindowMs: 0 });
    for (let i = 1; i <= 15; i++) p.ingest(raw({ message: `m${i}` }));
    const newest = p.recent(undefined, undefined, 3);
    expect(newest.events.map((e) => e.message)).toEqual(["m13", "m14", "m15"]);
    expect(newest.cursor).toBe(15);
    const page = p.recent(undefined, 2, 4);
    expect(page.missed).toBe(true);
    expect(page.events.map((e) => e.message)).toEqual(["m6", "m7", "m8", "m9"]);
    const next = p.recent(undefined, page.cursor, 100);
    expect(next.events.map((e) => e.message)).toEqual(["m10", "m11", "m12", "m13", "m14", "m15"]);
    expect(next.missed).toBe(false);
    expect(p.recent(undefined, next.cursor).events).toEqual([]);
    expect(p.recent({ include: ["m1"] }, 10).events.map((e) => e.message)).toEqual(["m11", "m12", "m13", "m14", "m15"]);
  });

  it("waitFor resolves with the first matching event and ignores others", async () => {
    const { p } = pipeline({ dedupWindowMs: 0 });
    const waiting = p.waitFor({ include: ["needle"] }, 5_000);
    p.ingest(raw({ message: "hay" }));
    p.ingest(raw({ message: "a needle" }));
    p.ingest(raw({ message: "another needle" }));
    const found = (await waiting) as Event;
    expect(found.message).toBe("a needle");
  });

  it("waitFor returns null at the timeout, ticking meanwhile, and rejects on abort", async () => {
    const p = new EventPipeline({ dedupWindowMs: 0, rateLimit: { events: 10, interval_ms: 1000 }, ringSize: 10, tickMs: 50, log: memoryLog().log });
    const started = Date.now();
    const ticks: number[] = [];
    expect(await p.waitFor({ include: ["never"] }, 230, undefined, (t) => ticks.push(t.remaining_ms))).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(220);
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(ticks[ticks.length - 1]).toBeLessThan(ticks[0]);
    const controller = new AbortController();
    const waiting = p.waitFor(undefined, 5_000, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(ToolError);
  });

  it("waitFor with `since` finds an event that arrived between a read and the wait", async () => {
    const { p } = pipeline();
    const { cursor } = p.recent();
    p.ingest(raw({ message: "early bird" }));
    expect((await p.waitFor({ include: ["early"] }, 100, undefined, undefined, cursor))?.message).toBe("early bird");
  });
});
