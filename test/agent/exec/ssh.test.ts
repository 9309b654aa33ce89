import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolError } from "../../../shared/errors.ts";
import { runSsh, type SshOptions } from "../../../agent/exec/ssh.ts";
import { startSshd, sshdUnavailable, type Sshd } from "../../support/sshd.ts";
import { diesWithin, readPid } from "./liveness.ts";

const unavailable = sshdUnavailable();
if (unavailable) console.warn(`SKIPPED: SSH execution tests need a real sshd: ${unavailable}`);

describe.skipIf(unavailable !== undefined)("runSsh against a real OpenSSH server", () => {
  let sshd: Sshd;
  let dir: string;
  const leftovers: number[] = [];

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), "ssh-exec-"));
  });
  afterAll(async () => {
    for (const pid of leftovers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await sshd?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function knownHosts(name: string, ...lines: string[]): string {
    const file = join(dir, name);
    writeFileSync(file, lines.map((l) => l + "\n").join(""));
    return file;
  }
  function opts(extra: Partial<SshOptions> & { command: string }): SshOptions {
    return { host: "127.0.0.1", port: sshd.port, username: sshd.username, privateKey: sshd.clientPrivateKey, knownHosts: [knownHosts("kh-ok", sshd.hostKeyLine)], ...extra };
  }
  async function refusal(p: Promise<unknown>): Promise<ToolError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, sshd.log().slice(-2000)).toBeInstanceOf(ToolError);
    return err as ToolError;
  }
  /** What `ssh-keygen -l` prints for the server's key in a known_hosts line. */
  function fingerprintOf(line: string): string {
    return execFileSync("ssh-keygen", ["-lf", knownHosts("fp", line)], { encoding: "utf8" }).split(" ")[1] as string;
  }

  it("runs a command and returns stdout, stderr and the exit code", async () => {
    const r = await runSsh(opts({ command: "echo hello from $(whoami); echo oops >&2; exit 3" }));
    expect(r).toMatchObject({ stdout: `hello from ${sshd.username}\n`, stderr: "oops\n", exit_code: 3, signal: null, truncated: false, timed_out: false, cancelled: false });
  });

  it("applies cwd, env (quoted safely) and stdin", async () => {
    const r = await runSsh(opts({ command: 'pwd; printf "%s\\n" "$ODD"; tr a-z A-Z', cwd: dir, env: { ODD: "it's $HOME `x`" }, stdin: "piped in\n" }));
    expect(r.stdout).toBe(`${dir}\nit's $HOME \`x\`\nPIPED IN\n`);
    expect(r.exit_code).toBe(0);
  });

  it("refuses an unknown host key, naming the host and its SHA256 fingerprint", async () => {
    const err = await refusal(runSsh(opts({ command: "echo never", knownHosts: [knownHosts("kh-empty")] })));
    const fingerprint = fingerprintOf(sshd.hostKeyLine);
    expect(err.message).toContain(`[127.0.0.1]:${sshd.port}`);
    expect(err.message).toContain(fingerprint);
    expect(err.message).toContain("not in known_hosts");
    expect(err.details).toMatchObject({ reason: "host_key_unknown", fingerprint });
  });

  it("refuses a host whose key differs from the known one", async () => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", join(dir, "impostor")]);
    const wrong = `[127.0.0.1]:${sshd.port} ${readFileSync(join(dir, "impostor.pub"), "utf8").trim()}`;
    const err = await refusal(runSsh(opts({ command: "echo never", knownHosts: [knownHosts("kh-wrong", wrong)] })));
    expect(err.message).toContain("REMOTE HOST IDENTIFICATION HAS CHANGED");
    expect(err.message).toContain(fingerprintOf(sshd.hostKeyLine));
    expect(err.message).toContain(fingerprintOf(wrong));
    expect(err.details).toMatchObject({ reason: "host_key_changed" });
  });

  it("does not trust a key listed for another port of the same host", async () => {
    const otherPort = sshd.hostKeyLine.replace(`:${sshd.port} `, `:${sshd.port + 1} `);
    const err = await refusal(runSsh(opts({ command: "echo never", knownHosts: [knownHosts("kh-port", otherPort)] })));
    expect(err.details).toMatchObject({ reason: "host_key_unknown" });
  });

  it("accepts a hashed known_hosts entry", async () => {
    const file = knownHosts("kh-hashed", sshd.hostKeyLine);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" });
    expect(readFileSync(file, "utf8")).toMatch(/^\|1\|/);
    const r = await runSsh(opts({ command: "echo hashed ok", knownHosts: [join(dir, "missing"), file] }));
    expect(r.stdout).toBe("hashed ok\n");
  });

  it("asks for the RSA host key when known_hosts has only that one (as PVE's cluster file often does)", async () => {
    const r = await runSsh(opts({ command: "echo rsa ok", knownHosts: [knownHosts("kh-rsa", sshd.rsaHostKeyLine)] }));
    expect(r.stdout).toBe("rsa ok\n");
  });

  it("reports a refused client key and a bad key clearly", async () => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", join(dir, "stranger")]);
    const denied = await refusal(runSsh(opts({ command: "echo never", privateKey: readFileSync(join(dir, "stranger"), "utf8") })));
    expect(denied.message).toContain(`refused our key for user '${sshd.username}'`);
    const bad = await refusal(runSsh(opts({ command: "echo never", privateKey: "not a key" })));
    expect(bad.code).toBe("invalid_arguments");
    const runAs = await refusal(runSsh(opts({ command: "id", runAs: { user: "nobody" } })));
    expect(runAs.code).toBe("invalid_arguments");
  });

  it("gives up on a server that never speaks SSH, and on an abort while connecting", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as AddressInfo).port;
    try {
      const started = Date.now();
      const late = await refusal(runSsh(opts({ command: "echo never", port, timeoutMs: 400 })));
      expect(late.code).toBe("deadline_exceeded");
      expect(Date.now() - started).toBeLessThan(1_500);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      const aborted = await refusal(runSsh(opts({ command: "echo never", port, signal: ac.signal })));
      expect(aborted.code).toBe("cancelled");
    } finally {
      silent.close();
    }
  });

  it("caps output over SSH too", async () => {
    const r = await runSsh(opts({ command: "head -c 10000000 /dev/zero | tr '\\0' 'y'", maxOutputBytes: 1000, timeoutMs: 20_000 }));
    expect(r).toMatchObject({ exit_code: 0, truncated: true, stdout_bytes: 10_000_000, output_cap_bytes: 1000 });
    expect(r.stdout).toBe("y".repeat(1000));
  });

  it("on timeout kills the remote process group and settles promptly", async () => {
    const pidFile = join(dir, "remote-child");
    const r = await runSsh(opts({ command: `sleep 30 & echo $! > ${pidFile}; echo started; sleep 30`, timeoutMs: 1_500 }));
    expect(r).toMatchObject({ timed_out: true, cancelled: false, exit_code: null, stdout: "started\n" });
    expect(r.signal).toMatch(/^SIG(TERM|KILL)$/);
    expect(r.duration_ms).toBeLessThan(2_500);
    const child = await readPid(pidFile);
    leftovers.push(child);
    expect(await diesWithin(child, 1_000)).toBe(true);
  });

  it("settles within a second of an abort and kills the remote children", async () => {
    const pidFile = join(dir, "remote-abort");
    const ac = new AbortController();
    const run = runSsh(opts({ command: `sleep 10 & echo $! > ${pidFile}; sleep 10`, timeoutMs: 60_000, signal: ac.signal }));
    const child = await readPid(pidFile);
    leftovers.push(child);
    const abortedAt = Date.now();
    ac.abort();
    const r = await run;
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
    expect(r.cancelled).toBe(true);
    expect(await diesWithin(child, 1_000)).toBe(true);
  });
});
