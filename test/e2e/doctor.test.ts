import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.ts";
import { startProcess, systemNode } from "../support/processes.ts";
import { AGENT_BUNDLE, startStack, type Stack } from "../support/stack.ts";

describe("pve-mcp-agent doctor against the simulator", () => {
  let stack: Stack;
  let dir: string;
  beforeAll(async () => {
    stack = await startStack();
    dir = mkdtempSync(join(tmpdir(), "doctor-"));
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function doctor(change: (cfg: Record<string, any>) => void): Promise<{ code: number | null; out: string }> {
    const cfg = structuredClone(stack.agentConfig);
    change(cfg);
    const file = join(dir, `agent-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(cfg), { mode: 0o600 });
    const proc = startProcess(systemNode(), [AGENT_BUNDLE, "doctor", "--config", file]);
    const code = await proc.exited;
    return { code, out: proc.output() };
  }

  it("passes every check when all is well", async () => {
    const { code, out } = await doctor(() => undefined);
    expect(out, out).not.toContain("FAIL");
    for (const check of ["worker", "clock", "enrollment", "pve-tls", "pve-auth", "pve-privileges"]) expect(out).toMatch(new RegExp(`ok\\s+${check}:`));
    expect(code).toBe(0);
  });

  it("explains a wrong token secret", async () => {
    const { code, out } = await doctor((c) => (c.pve.token_secret = "00000000-0000-4000-8000-000000000000"));
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL pve-auth: PVE refused token root@pam!mcp/);
    expect(out).toMatch(/fix: the token secret is wrong or the token was deleted/);
  });

  it("explains a token that lacks a privilege, naming the tools that will fail", async () => {
    const { code, out } = await doctor((c) => {
      c.pve.token_id = stack.sim.readonlyToken.tokenid;
      c.pve.token_secret = stack.sim.readonlyToken.secret;
    });
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL pve-privileges: the token lacks VM\.PowerMgmt/);
    expect(out).toContain("guest_power (VM.PowerMgmt)");
  });

  it("explains a changed certificate fingerprint and gives the new one", async () => {
    const { code, out } = await doctor((c) => (c.pve.fingerprint = Array(32).fill("AB").join(":")));
    expect(code).toBe(1);
    expect(out).toContain(`FAIL pve-tls: PVE's certificate changed: it presents ${stack.sim.fingerprint}`);
    expect(out).toContain(`set pve.fingerprint to ${stack.sim.fingerprint}`);
  });

  it("explains an unreachable worker", async () => {
    const port = await freePort();
    const { code, out } = await doctor((c) => (c.worker_url = `ws://127.0.0.1:${port}/agent`));
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL worker: cannot reach the worker at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it("explains an agent the worker does not know", async () => {
    const { code, out } = await doctor((c) => (c.agent_id = "stranger"));
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL enrollment: the worker refused agent 'stranger': agent 'stranger' is not registered/);
  });
});
