import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ToolError } from "../../../shared/errors.ts";
import { execResultSchema, runLocal } from "../../../agent/exec/run.ts";
import { diesWithin, isAlive, readPid } from "./liveness.ts";

const dirs: string[] = [];
const leftovers: number[] = [];
function tempDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "exec-")));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

async function rejection(p: Promise<unknown>): Promise<ToolError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ToolError);
  return err as ToolError;
}

describe("runLocal", () => {
  it("returns stdout, stderr and the exit code", async () => {
    const r = await runLocal({ command: "echo out; echo err >&2; exit 7" });
    expect(execResultSchema.parse(r)).toEqual(r);
    expect(r).toMatchObject({
      exit_code: 7,
      signal: null,
      stdout: "out\n",
      stderr: "err\n",
      stdout_bytes: 4,
      stderr_bytes: 4,
      truncated: false,
      timed_out: false,
      cancelled: false,
    });
    expect(r.duration_ms).toBeLessThan(5_000);
  });

  it("runs bash (pipefail, arrays) and reports a death by signal", async () => {
    const bash = await runLocal({ command: "set -o pipefail; a=(x y z); echo ${#a[@]}; false | true; echo $?" });
    expect(bash.stdout).toBe("3\n1\n");
    const killed = await runLocal({ command: "kill -TERM $$" });
    expect(killed).toMatchObject({ exit_code: null, signal: "SIGTERM" });
  });

  it("applies cwd, env and stdin", async () => {
    const dir = tempDir();
    const r = await runLocal({ command: 'pwd; echo "$GREETING"; tr a-z A-Z', cwd: dir, env: { GREETING: "hi there" }, stdin: "line one\nline two\n" });
    expect(r.stdout).toBe(`${dir}\nhi there\nLINE ONE\nLINE TWO\n`);
    expect(r.exit_code).toBe(0);
  });

  it("gives the command a minimal environment, never the agent's own", async () => {
    process.env.PVE_TOKEN_SECRET = "agent-secret-must-not-leak";
    try {
      const r = await runLocal({ command: "env", env: { EXTRA: "1" } });
      expect(r.stdout).not.toContain("agent-secret-must-not-leak");
      const names = r.stdout.trim().split("\n").map((l) => l.split("=")[0]).sort();
      // No ~/.bashrc either: bash sees a socket on stdin and would otherwise read it.
      expect(names).toEqual(["EXTRA", "HOME", "LANG", "LOGNAME", "PATH", "PWD", "SHLVL", "USER", "_"]);
      expect(r.stdout).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
      expect(r.stdout).toContain("LANG=C.UTF-8\n");
    } finally {
      delete process.env.PVE_TOKEN_SECRET;
    }
  });

  it("caps 50 MB of output without buffering it", async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    const r = await runLocal({ command: "head -c 50000000 /dev/zero | tr '\\0' 'x'; echo done >&2", maxOutputBytes: 64 * 1024, timeoutMs: 20_000 });
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(r).toMatchObject({ exit_code: 0, truncated: true, stdout_bytes: 50_000_000, stderr: "done\n", output_cap_bytes: 65_536 });
    expect(r.stdout).toBe("x".repeat(65_536));
    const growthMb = (peak - before) / 1e6;
    // Node's own stdio pipes allocate a buffer per read and grow the process by 30+ MB here.
    expect(growthMb).toBeLessThan(15);
  });

  it("cuts capped output at a whole UTF-8 character", async () => {
    const r = await runLocal({ command: "printf 'a\\xc3\\xa9\\xe2\\x82\\xac'", maxOutputBytes: 4 });
    expect(r.stdout).toBe("aé");
    expect(r.stdout_bytes).toBe(6);
    expect(r.truncated).toBe(true);
  });

  it("on timeout kills the whole process group, also children that ignore SIGTERM", async () => {
    const dir = tempDir();
    const command = `sleep 30 & echo $! > ${dir}/child; (trap '' TERM; exec sleep 31) & echo $! > ${dir}/stubborn; sleep 30 | sleep 32`;
    const r = await runLocal({ command, timeoutMs: 500 });
    expect(r).toMatchObject({ timed_out: true, cancelled: false, exit_code: null, signal: "SIGTERM" });
    expect(r.duration_ms).toBeGreaterThanOrEqual(490);
    expect(r.duration_ms).toBeLessThan(1_500);
    const child = await readPid(`${dir}/child`);
    const stubborn = await readPid(`${dir}/stubborn`);
    leftovers.push(child, stubborn);
    expect(await diesWithin(child, 200)).toBe(true);
    // It ignores SIGTERM, so only the SIGKILL 500 ms later ends it.
    expect(await diesWithin(stubborn, 1_500)).toBe(true);
  });

  it("settles within a second of an abort and kills the children", async () => {
    const dir = tempDir();
    const ac = new AbortController();
    const run = runLocal({ command: `sleep 10 & echo $! > ${dir}/child; sleep 10`, timeoutMs: 60_000, signal: ac.signal });
    const child = await readPid(`${dir}/child`);
    leftovers.push(child);
    expect(isAlive(child)).toBe(true);
    const abortedAt = Date.now();
    ac.abort();
    const r = await run;
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
    expect(r).toMatchObject({ cancelled: true, timed_out: false, exit_code: null });
    expect(await diesWithin(child, 200)).toBe(true);
  });

  it("refuses to start when already aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    const err = await rejection(runLocal({ command: "echo never", signal: ac.signal }));
    expect(err.code).toBe("cancelled");
  });

  it("returns soon after the shell exits even if a background child keeps the output open", async () => {
    const r = await runLocal({ command: "sleep 20 & echo $!; echo done" });
    const [pid, done] = r.stdout.trim().split("\n");
    leftovers.push(Number(pid));
    expect(done).toBe("done");
    expect(r.exit_code).toBe(0);
    expect(r.duration_ms).toBeLessThan(1_000);
  });

  it("streams the newest output at most about four times a second", async () => {
    const calls: { at: number; stream: string; text: string }[] = [];
    const r = await runLocal({
      command: "for i in $(seq 1 60); do echo line$i; sleep 0.025; done; echo tail >&2",
      onOutput: (stream, text) => calls.push({ at: Date.now(), stream, text }),
    });
    expect(r.stdout.split("\n")).toHaveLength(61);
    const stdoutCalls = calls.filter((c) => c.stream === "stdout");
    expect(stdoutCalls.length).toBeGreaterThanOrEqual(3);
    expect(calls.length).toBeLessThanOrEqual(Math.ceil(r.duration_ms / 250) + 1);
    for (let i = 1; i < calls.length; i++) expect(calls[i]!.at - calls[i - 1]!.at).toBeGreaterThanOrEqual(240);
    // Each call carries what was printed since the one before, in order.
    const streamed = stdoutCalls.map((c) => c.text).join("");
    expect(streamed).toMatch(/^line1\nline2\n/);
    expect(r.stdout.startsWith(streamed)).toBe(true);
  });

  it("rejects bad options with invalid_arguments naming the field", async () => {
    expect((await rejection(runLocal({ command: "true", cwd: "/does/not/exist" }))).message).toContain("cwd: /does/not/exist");
    expect((await rejection(runLocal({ command: "true", cwd: "relative" }))).message).toContain("cwd");
    expect((await rejection(runLocal({ command: "true", env: { "BAD-NAME": "x" } }))).code).toBe("invalid_arguments");
    expect((await rejection(runLocal({ command: "true", timeoutMs: 0 }))).message).toContain("timeoutMs");
    expect((await rejection(runLocal({ command: "" }))).message).toContain("command");
  });

  it.skipIf(process.getuid?.() !== 0)("runs as another user with that user's ids and home", async () => {
    const r = await runLocal({ command: 'id -u; id -g; echo "$HOME $USER"; pwd', runAs: { user: "nobody" } });
    const [uid, gid, env, cwd] = r.stdout.trim().split("\n");
    expect(Number(uid)).toBe(65534);
    expect(Number(gid)).toBeGreaterThan(0);
    expect(env).toBe("/nonexistent nobody");
    // nobody's home does not exist, so the command starts in /.
    expect(cwd).toBe("/");
    const unknown = await rejection(runLocal({ command: "true", runAs: { user: "no-such-user-xyz" } }));
    expect(unknown.code).toBe("invalid_arguments");
    expect(unknown.message).toContain("no-such-user-xyz");
  });
});
