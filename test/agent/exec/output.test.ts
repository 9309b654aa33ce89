import { describe, expect, it } from "vitest";
import { OutputCapture } from "../../../agent/exec/output.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("OutputCapture", () => {
  it("keeps the first cap bytes per stream and counts the rest", () => {
    const capture = new OutputCapture(5);
    const reused = Buffer.from("abcdefgh");
    capture.push("stdout", reused.subarray(0, 3));
    reused.fill("z"); // the caller may reuse its buffer
    capture.push("stdout", Buffer.from("defgh"));
    capture.push("stderr", Buffer.from("err"));
    expect(capture.finish()).toEqual({ stdout: "abcde", stderr: "err", stdout_bytes: 8, stderr_bytes: 3, output_cap_bytes: 5, truncated: true });
  });

  it("streams only the newest lines, taking turns between streams, and stops at the total limit", async () => {
    const calls: [string, string][] = [];
    const capture = new OutputCapture(1000, (s, t) => calls.push([s, t]), { intervalMs: 30, maxChars: 12, totalBytes: 40 });
    capture.push("stdout", Buffer.from("old line\nnewer\nnewest\n"));
    capture.push("stderr", Buffer.from("warn\n"));
    await sleep(10);
    expect(calls).toEqual([["stdout", "newest\n"]]);
    await sleep(40);
    expect(calls[1]).toEqual(["stderr", "warn\n"]);
    for (let i = 0; i < 10; i++) {
      capture.push("stdout", Buffer.from(`chunk-${i}\n`));
      await sleep(35);
    }
    const total = calls.reduce((n, [, t]) => n + Buffer.byteLength(t), 0);
    // Calls stop once 40 bytes went out; the call that crossed the limit is the last.
    expect(total).toBeGreaterThanOrEqual(40);
    expect(total - Buffer.byteLength(calls.at(-1)![1])).toBeLessThan(40);
    expect(calls.length).toBeLessThan(8);
    expect(capture.finish().stdout).toContain("chunk-9\n");
  });

  it("joins a UTF-8 character split across chunks", async () => {
    const calls: string[] = [];
    const capture = new OutputCapture(100, (_, t) => calls.push(t), { intervalMs: 10, maxChars: 100, totalBytes: 100 });
    const euro = Buffer.from("€");
    capture.push("stdout", euro.subarray(0, 1));
    capture.push("stdout", euro.subarray(1));
    await sleep(20);
    expect(calls).toEqual(["€"]);
    expect(capture.finish().stdout).toBe("€");
  });
});
