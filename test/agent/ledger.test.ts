import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CallLedger } from "../../agent/ledger.ts";

const dirs: string[] = [];
function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ledger-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("call ledger", () => {
  it("runs a call id once: a repeat while running joins it, a repeat after gets the same outcome", async () => {
    const ledger = new CallLedger();
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const exec = async () => {
      runs++;
      await gate;
      return { text: `run ${runs}` };
    };
    const first = ledger.run("call-aaaaaaaa", "t", true, exec);
    const second = ledger.run("call-aaaaaaaa", "t", true, exec);
    release();
    expect(await first).toEqual({ ok: true, result: { text: "run 1" } });
    expect(await second).toEqual({ ok: true, result: { text: "run 1" } });
    expect(await ledger.run("call-aaaaaaaa", "t", true, exec)).toEqual({ ok: true, result: { text: "run 1" } });
    expect(runs).toBe(1);
  });

  it("forgets acknowledged calls", async () => {
    const ledger = new CallLedger();
    await ledger.run("call-bbbbbbbb", "t", false, async () => ({ text: "x" }));
    expect(ledger.has("call-bbbbbbbb")).toBe(true);
    ledger.ack(["call-bbbbbbbb"]);
    expect(ledger.has("call-bbbbbbbb")).toBe(false);
  });

  it("keeps finished mutating outcomes across a restart, until acknowledged", async () => {
    const dir = stateDir();
    const before = new CallLedger(dir);
    await before.run("call-cccccccc", "guest_power", true, async () => ({ text: "started", structured: { ok: 1 } }));
    const after = new CallLedger(dir);
    let ran = false;
    const outcome = await after.run("call-cccccccc", "guest_power", true, async () => {
      ran = true;
      return { text: "again" };
    });
    expect(ran).toBe(false);
    expect(outcome).toEqual({ ok: true, result: { text: "started", structured: { ok: 1 } } });
    after.ack(["call-cccccccc"]);
    expect(new CallLedger(dir).has("call-cccccccc")).toBe(false);
  });

  it("answers 'outcome unknown' with the started task for a call cut by a crash, and never re-runs it", async () => {
    const dir = stateDir();
    const crashed = new CallLedger(dir);
    void crashed.run("call-dddddddd", "guest_power", true, async (note) => {
      note({ upid: "UPID:pve1:0000A1B2:00C0FFEE:65000000:qmstart:105:root@pam:" });
      return new Promise(() => undefined); // the process dies before this settles
    });
    expect(readFileSync(join(dir, "calls.jsonl"), "utf8")).toContain('"s":"start"');
    const restarted = new CallLedger(dir);
    let ran = false;
    const outcome = await restarted.run("call-dddddddd", "guest_power", true, async () => {
      ran = true;
      return { text: "x" };
    });
    expect(ran).toBe(false);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.code).toBe("outcome_unknown");
    expect(outcome.message).toContain("UPID:pve1:0000A1B2");
    expect(outcome.retryable).toBe(false);
  });
});
