import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Event } from "../../../shared/event.ts";
import { Spool } from "../../../agent/events/spool.ts";
import { memoryLog } from "./helpers.ts";

const dirs: string[] = [];
function spoolDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "spool-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const ev = (n: number, message = `event ${n}`): Event => ({ id: `ID${String(n).padStart(24, "0")}`, time: "2026-11-23T09:00:00.000Z", source: "syslog", severity: "info", title: `t${n}`, message, metadata: {} });

describe("notifier spool", () => {
  it("keeps events on disk across a restart, in order, until removed", () => {
    const dir = spoolDir();
    const { log } = memoryLog();
    const first = new Spool({ dir, max_events: 10, max_bytes: 1 << 20, name: "n", log });
    first.append(ev(1));
    first.append(ev(2));
    first.append(ev(3));
    expect(first.append(ev(2))).toBe(false);
    first.remove(first.peek()!);
    const second = new Spool({ dir, max_events: 10, max_bytes: 1 << 20, name: "n", log });
    expect(second.size).toBe(2);
    expect(second.peek()?.event).toEqual(ev(2));
    second.append(ev(4));
    expect(readdirSync(dir).sort()).toEqual(["0000000000000002.json", "0000000000000003.json", "0000000000000004.json"]);
  });

  it("drops the oldest when full (by count or bytes), counts and logs it", () => {
    const dir = spoolDir();
    const { log, lines } = memoryLog();
    const spool = new Spool({ dir, max_events: 3, max_bytes: 1 << 20, name: "discord", log });
    for (let i = 1; i <= 5; i++) spool.append(ev(i));
    expect(spool.size).toBe(3);
    expect(spool.dropped).toBe(2);
    expect(spool.peek()?.event.id).toBe(ev(3).id);
    expect(lines.filter((l) => l.msg === "notifier spool dropped the oldest events: spool full")).toHaveLength(2);
    expect(lines[lines.length - 1]).toMatchObject({ notifier: "discord", dropped_total: 2 });

    const small = new Spool({ dir: spoolDir(), max_events: 100, max_bytes: 600, name: "n", log });
    for (let i = 1; i <= 5; i++) small.append(ev(i, "x".repeat(100)));
    expect(small.totalBytes).toBeLessThanOrEqual(600);
    expect(small.dropped).toBeGreaterThan(0);
    expect(small.peek()?.event.id).not.toBe(ev(1).id);
    expect(small.append(ev(9, "y".repeat(1000)))).toBe(false);
  });

  it("discards half-written and unreadable files on start, counting the unreadable", () => {
    const dir = spoolDir();
    writeFileSync(join(dir, "0000000000000001.json.tmp"), "{");
    writeFileSync(join(dir, "0000000000000002.json"), "not json");
    writeFileSync(join(dir, "0000000000000003.json"), JSON.stringify(ev(3)));
    const spool = new Spool({ dir, max_events: 10, max_bytes: 1 << 20, name: "n", log: memoryLog().log });
    expect(spool.size).toBe(1);
    expect(spool.dropped).toBe(1);
    expect(existsSync(join(dir, "0000000000000001.json.tmp"))).toBe(false);
    spool.append(ev(4));
    expect(existsSync(join(dir, "0000000000000004.json"))).toBe(true);
  });
});
