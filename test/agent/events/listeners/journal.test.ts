import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JournalListener, journalEvent } from "../../../../agent/events/listeners/journal.ts";
import { collector, eventually, memoryLog } from "../helpers.ts";

// journald does not run where these tests run: the fixture is a hand-written sample in the format of
// `journalctl -o json` (see its first line), and the spawn path runs a fake `journalctl` found on PATH.
const FIXTURE = join(import.meta.dirname, "..", "fixtures", "journal.jsonl");
const lines = readFileSync(FIXTURE, "utf8").split("\n").filter((l) => l && !l.startsWith("#"));

describe("journal entry parser", () => {
  it("parses every line of the recorded sample", () => {
    const events = lines.map(journalEvent);
    expect(events.every(Boolean)).toBe(true);
    expect(events[0]).toMatchObject({
      source: "journal",
      node: "pve1",
      severity: "info",
      time: new Date(Math.floor(1763888461204318 / 1000)),
      title: expect.stringMatching(/^pvedaemon: <root@pam> starting task UPID:pve1:/),
      metadata: { unit: "pvedaemon.service", identifier: "pvedaemon", pid: 671521, priority: 6, transport: "syslog" },
    });
    expect(events[0]?.stableKey).toMatch(/^s=c4e1a7b2f09d4d3e8a6b5c2d1e0f9a8b;i=3f1a2;/);
  });

  it("decodes a byte-array MESSAGE and strips its colour escapes", () => {
    const coloured = lines.map(journalEvent).find((e) => e?.metadata?.identifier === "backup-check");
    expect(coloured).toMatchObject({ severity: "error", message: "ERROR: backup storage 'pbs-nas' is not online", metadata: { unit: "backup-check.service" } });
  });

  it("maps PRIORITY 0-7 and keeps systemd's UNIT apart from the sender's unit", () => {
    const events = lines.map(journalEvent);
    expect(events.map((e) => e?.severity)).toEqual(["info", "info", "info", "info", "info", "warning", "notice", "warning", "notice", "error", "error", "error", "info"]);
    expect(events[2]?.metadata).toMatchObject({ unit: "init.scope", subject_unit: "100.scope", message_id: "39f53479d3a045ac8e11786248231fbf" });
  });

  it("says so when journalctl left out a value over 4096 bytes (null)", () => {
    expect(journalEvent(lines[lines.length - 1])?.message).toMatch(/larger than 4096 bytes/);
  });

  it("takes the first value of a repeated field and skips lines that are not entries", () => {
    expect(journalEvent(JSON.stringify({ MESSAGE: ["first", [104, 105]], PRIORITY: "3" }))).toMatchObject({ message: "first", severity: "error" });
    expect(journalEvent(JSON.stringify({ MESSAGE: [[104, 105], "second"] }))?.message).toBe("hi");
    expect(journalEvent("-- No entries --")).toBeUndefined();
    expect(journalEvent("[1,2]")).toBeUndefined();
    expect(journalEvent(JSON.stringify({ MESSAGE: { nested: true } }))).toBeUndefined();
  });
});

describe("journal listener (fake journalctl on PATH)", () => {
  let dir: string;
  let oldPath: string | undefined;
  let listener: JournalListener | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "journal-"));
    // Prints the fixture (as a real journalctl prints its backlog), records its arguments, then follows forever.
    writeFileSync(
      join(dir, "journalctl"),
      `#!/bin/sh\necho "$@" >> "${join(dir, "args")}"\ngrep -v '^#' "${FIXTURE}"\nexec sleep 600\n`,
    );
    chmodSync(join(dir, "journalctl"), 0o755);
    oldPath = process.env.PATH;
    process.env.PATH = `${dir}:${oldPath}`;
  });
  afterEach(async () => {
    await listener?.stop();
    process.env.PATH = oldPath;
    rmSync(dir, { recursive: true, force: true });
  });

  it("spawns journalctl -f -o json for the units and emits every line", async () => {
    const { emit, events } = collector();
    listener = new JournalListener({ units: ["pvedaemon.service", "corosync.service"], max_priority: 6, command: "journalctl", restart: { base_ms: 10, max_ms: 50 }, emit, log: memoryLog().log });
    await listener.start();
    await eventually(() => events.length === lines.length, "every fixture line");
    expect(readFileSync(join(dir, "args"), "utf8").trim()).toBe("-f -o json --no-pager -u pvedaemon.service -u corosync.service -p 6 --lines=0");
    expect(listener.counters()).toMatchObject({ received: lines.length, emitted: lines.length, malformed: 0 });
  });

  it("resumes after the last cursor it saved, across a restart", async () => {
    const cursorFile = join(dir, "cursor");
    const first = collector();
    listener = new JournalListener({ units: [], command: "journalctl", cursor_file: cursorFile, restart: { base_ms: 10, max_ms: 50 }, emit: first.emit, log: memoryLog().log });
    await listener.start();
    await eventually(() => first.events.length === lines.length, "every fixture line");
    await listener.stop();
    const last = JSON.parse(lines[lines.length - 1]).__CURSOR;
    expect(readFileSync(cursorFile, "utf8").trim()).toBe(last);
    listener = new JournalListener({ units: [], command: "journalctl", cursor_file: cursorFile, restart: { base_ms: 10, max_ms: 50 }, emit: () => {}, log: memoryLog().log });
    await listener.start();
    await eventually(() => readFileSync(join(dir, "args"), "utf8").trim().split("\n").length === 2, "second spawn");
    expect(readFileSync(join(dir, "args"), "utf8").trim().split("\n")[1]).toBe(`-f -o json --no-pager --after-cursor=${last}`);
  });

  it("keeps trying, and stops promptly, when journalctl is not installed", async () => {
    listener = new JournalListener({ units: [], command: join(dir, "no-such-journalctl"), restart: { base_ms: 10, max_ms: 20 }, emit: () => {}, log: memoryLog().log });
    await listener.start();
    await eventually(() => (listener?.counters().restarts ?? 0) >= 2, "two restarts");
    const started = Date.now();
    await listener.stop();
    expect(Date.now() - started).toBeLessThan(500);
    expect(listener.counters().errors).toBeGreaterThanOrEqual(2);
  });

  it("restarts journalctl with backoff when it exits", async () => {
    writeFileSync(join(dir, "journalctl"), `#!/bin/sh\necho "$@" >> "${join(dir, "args")}"\nexit 1\n`);
    const { log, lines: logged } = memoryLog();
    listener = new JournalListener({ units: [], command: "journalctl", restart: { base_ms: 10, max_ms: 40 }, emit: () => {}, log });
    await listener.start();
    await eventually(() => (listener?.counters().restarts ?? 0) >= 3, "three restarts");
    expect(logged.some((l) => l.msg === "journalctl exited; restarting")).toBe(true);
  });
});
