import { describe, expect, it } from "vitest";
import { ToolError } from "../../../shared/errors.ts";
import { runLocal } from "../../../agent/exec/run.ts";
import { ExecSlots } from "../../../agent/exec/slots.ts";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("ExecSlots", () => {
  it("lets at most N run and starts the waiters in arrival order", async () => {
    const slots = new ExecSlots(2);
    const started: string[] = [];
    const gates = { a: deferred(), b: deferred(), c: deferred(), d: deferred() };
    const runs = (Object.keys(gates) as (keyof typeof gates)[]).map((name) =>
      slots.run(async () => {
        started.push(name);
        await gates[name].promise;
        return name;
      }),
    );
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual(["a", "b"]);
    expect([slots.running, slots.waiting]).toEqual([2, 2]);
    gates.b.resolve();
    expect(await runs[1]).toBe("b");
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toEqual(["a", "b", "c"]);
    gates.a.resolve();
    gates.c.resolve();
    gates.d.resolve();
    expect(await Promise.all(runs)).toEqual(["a", "b", "c", "d"]);
    expect([slots.running, slots.waiting]).toEqual([0, 0]);
  });

  it("ends a wait on abort with 'cancelled', without taking a slot", async () => {
    const slots = new ExecSlots(1);
    const release = await slots.acquire();
    const ac = new AbortController();
    const waiting = slots.acquire(ac.signal);
    const next = slots.acquire();
    expect(slots.waiting).toBe(2);
    ac.abort();
    const err = await waiting.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe("cancelled");
    expect(slots.waiting).toBe(1);
    release();
    release(); // a second release must not free a second slot
    const releaseNext = await next;
    expect([slots.running, slots.waiting]).toEqual([1, 0]);
    releaseNext();
    expect(slots.running).toBe(0);
  });

  it("frees the slot when the task throws", async () => {
    const slots = new ExecSlots(1);
    await expect(slots.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(slots.running).toBe(0);
    expect(await slots.run(async () => 42)).toBe(42);
  });

  it("serialises real commands", async () => {
    const slots = new ExecSlots(1);
    const started = Date.now();
    const results = await Promise.all([1, 2, 3].map(() => slots.run(() => runLocal({ command: "sleep 0.2; echo ok" }))));
    expect(results.map((r) => r.stdout)).toEqual(["ok\n", "ok\n", "ok\n"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
  });
});
