import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, type Sshd } from "../support/sshd.ts";
import { startStack, type Stack } from "../support/stack.ts";

type Result = { isError?: boolean; content: Array<{ text?: string }>; structuredContent?: any; _meta?: any };
const CAP = 256 * 1024;
const SECRET = "hunter2-very-secret";

function vmHwmKiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

describe("host commands through the worker and tunnel", () => {
  let stack: Stack;
  let client: Client;
  let sshd: Sshd;
  let dir: string;
  const call = async (name: string, args: Record<string, unknown>, c: Client = client) => (await c.callTool({ name, arguments: args }, CallToolResultSchema, { timeout: 60_000 })) as Result;

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), "exec-e2e-"));
    writeFileSync(join(dir, "known_hosts"), `${sshd.hostKeyLine}\n`);
    writeFileSync(join(dir, "id_ed25519"), sshd.clientPrivateKey, { mode: 0o600 });
    // `pct` cannot exist off a Proxmox host: a stand-in runs the command that pct would run in the container.
    writeFileSync(join(dir, "pct"), '#!/bin/sh\n[ "$1" = exec ] || exit 2\nshift 2\n[ "$1" = -- ] && shift\nexec "$@"\n');
    chmodSync(join(dir, "pct"), 0o755);
    stack = await startStack({
      agentConfig: {
        exec: {
          enabled: true,
          max_output_bytes: CAP,
          default_timeout_s: 30,
          audit_file: join(dir, "audit", "audit.jsonl"),
          pct: join(dir, "pct"),
          ssh: { user: "root", private_key: join(dir, "id_ed25519"), known_hosts: [join(dir, "known_hosts")], port: sshd.port, nodes: { pve2: "127.0.0.1", pve3: "localhost" } },
        },
      },
    });
    client = await stack.client();
  }, 90_000);

  afterAll(async () => {
    await client?.close();
    await stack?.close();
    await sshd?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs a command on the host and returns stdout, stderr and the exit code", async () => {
    const r = await call("host_exec", { command: "echo out; echo err >&2; exit 3" });
    expect(r.isError, r.content[0]?.text).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ exit_code: 3, stdout: "out\n", stderr: "err\n", truncated: false, target: "host", dry_run: false });
  });

  it("passes cwd, env and stdin", async () => {
    const r = await call("host_exec", { command: 'pwd; echo "$GREETING"; cat', cwd: "/tmp", env: { GREETING: "hello" }, stdin: "from stdin" });
    expect(r.structuredContent.stdout).toBe("/tmp\nhello\nfrom stdin");
  });

  it("refuses a catastrophic command, naming the rule and the part that matched, and runs nothing", async () => {
    const r = await call("host_exec", { command: "ls /tmp && systemctl stop pve-cluster" });
    expect(r.isError).toBe(true);
    expect(r._meta.code).toBe("policy_refused");
    expect(r.content[0].text).toContain("stop-core-service");
    expect(r.content[0].text).toContain("systemctl stop pve-cluster");
  });

  it("dry-runs a command: the decision without running it", async () => {
    const marker = join(dir, "dry-run-marker");
    const ok = await call("host_exec", { command: `touch ${marker}`, dry_run: true });
    expect(ok.structuredContent).toMatchObject({ dry_run: true, policy: { allowed: true } });
    expect(() => readFileSync(marker)).toThrow();
    const no = await call("host_exec", { command: "base64 -d <<< cm0gLXJmIC8K | sh", dry_run: true });
    expect(no.isError).toBeFalsy();
    expect(no.structuredContent.policy).toMatchObject({ allowed: false, rule: "pipe-to-shell" });
  });

  it("caps a command that prints 50 MB, flags the truncation, and the agent's memory stays far below it", async () => {
    const pid = stack.agent.child.pid as number;
    const before = vmHwmKiB(pid);
    const r = await call("host_exec", { command: "head -c 50000000 /dev/zero | tr '\\0' x" });
    expect(r.isError, r.content[0]?.text).toBeFalsy();
    expect(r.structuredContent.truncated).toBe(true);
    expect(r.structuredContent.stdout.length).toBe(CAP);
    expect(r.structuredContent.stdout_bytes).toBe(50_000_000);
    expect(r.structuredContent.output_cap_bytes).toBe(CAP);
    const grewMiB = (vmHwmKiB(pid) - before) / 1024;
    console.log(`agent peak RSS grew by ${grewMiB.toFixed(1)} MiB while the command printed 50 MB`);
    expect(grewMiB).toBeLessThan(20);
  });

  it("kills a command at its timeout, children included", async () => {
    const pidFile = join(dir, "timeout-child.pid");
    const r = await call("host_exec", { command: `sleep 60 & echo $! > ${pidFile}; wait`, timeout_s: 1 });
    expect(r.structuredContent.timed_out).toBe(true);
    const child = Number(readFileSync(pidFile, "utf8"));
    await new Promise((res) => setTimeout(res, 700));
    expect(alive(child)).toBe(false);
  });

  it("kills a 10-second command within a second of the client cancelling it", async () => {
    const pidFile = join(dir, "cancel-child.pid");
    const controller = new AbortController();
    const pending = client.callTool({ name: "host_exec", arguments: { command: `sleep 10 & echo $! > ${pidFile}; sleep 10` } }, CallToolResultSchema, { signal: controller.signal });
    pending.catch(() => undefined);
    let child = 0;
    for (let i = 0; i < 100 && !child; i++) {
      await new Promise((res) => setTimeout(res, 50));
      try {
        child = Number(readFileSync(pidFile, "utf8"));
      } catch {
        child = 0;
      }
    }
    expect(child).toBeGreaterThan(0);
    const cancelledAt = Date.now();
    controller.abort();
    while (alive(child) && Date.now() - cancelledAt < 3000) await new Promise((res) => setTimeout(res, 20));
    const tookMs = Date.now() - cancelledAt;
    console.log(`cancelled command's child died ${tookMs} ms after the cancel`);
    expect(alive(child)).toBe(false);
    expect(tookMs).toBeLessThan(1000);
  });

  it("runs a command on another node over SSH against a real sshd", async () => {
    const r = await call("node_exec", { node: "pve2", command: "echo over-ssh; id -un" });
    expect(r.isError, r.content[0]?.text).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ exit_code: 0, stdout: "over-ssh\nroot\n", target: "ssh:pve2" });
  });

  it("refuses an SSH host whose key is not in known_hosts", async () => {
    const r = await call("node_exec", { node: "pve3", command: "echo never" });
    expect(r.isError).toBe(true);
    expect(r._meta.code).toBe("host_key_rejected");
    expect(r.content[0].text).toMatch(/SHA256:/);
  });

  it("runs a command in a VM through the QEMU guest agent", async () => {
    const r = await call("guest_exec", { vmid: 100, command: "echo inside-vm; exit 4" });
    expect(r.isError, r.content[0]?.text).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ exit_code: 4, stdout: "inside-vm\n", target: "vm:100" });
    const off = await call("guest_exec", { vmid: 101, command: "true" });
    expect(off.isError).toBe(true);
    expect(off.content[0].text).toContain("VM 101 is not running");
  });

  it("runs a command in a container through pct exec on its node", async () => {
    const r = await call("guest_exec", { vmid: 200, command: "echo in-ct from $PWD", cwd: "/tmp" });
    expect(r.isError, r.content[0]?.text).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ exit_code: 0, stdout: "in-ct from /tmp\n", target: "lxc:200" });
  });

  it("keeps every attempt in the audit log, and no secret", async () => {
    await call("host_exec", { command: `mysql -uroot -p${SECRET} -e 'select 1' || true` });
    const r = await call("audit_read", { limit: 100 });
    const entries = r.structuredContent.entries as Array<{ decision: string; target: string; principal: string; command: string; rule?: string }>;
    expect(entries.some((e) => e.decision === "refused" && e.rule === "stop-core-service")).toBe(true);
    expect(entries.some((e) => e.decision === "dry_run")).toBe(true);
    expect(entries.some((e) => e.target === "ssh:pve2" && e.decision === "allowed")).toBe(true);
    expect(entries.some((e) => e.target === "vm:100")).toBe(true);
    expect(entries.some((e) => e.target === "lxc:200")).toBe(true);
    expect(entries.every((e) => e.principal === "test-user")).toBe(true);
    const file = readFileSync(join(dir, "audit", "audit.jsonl"), "utf8");
    expect(file).not.toContain(SECRET);
    expect(file.split("\n").filter(Boolean).length).toBeGreaterThanOrEqual(12);
  });

  it("offers none of these tools to a token without host:exec", async () => {
    const reader = await stack.client(["proxmox:read", "proxmox:write"]);
    const { tools } = await reader.listTools();
    expect(tools.map((t) => t.name).filter((n) => /exec|audit/.test(n))).toEqual([]);
    for (const name of ["host_exec", "node_exec", "guest_exec", "audit_read"]) {
      const r = await call(name, { command: "id", node: "pve2", vmid: 100, limit: 1 }, reader);
      expect(r.isError, name).toBe(true);
      expect(r._meta.code).toBe("missing_scope");
    }
    await reader.close();
  });
});
