import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentRegistry, memoryStore } from "../../worker/registry.ts";
import { waitFor } from "../support/ports.ts";
import { startProcess, systemNode, type Proc } from "../support/processes.ts";
import { AGENT_BUNDLE, startStack, type Stack } from "../support/stack.ts";

describe("enrollment", () => {
  let stack: Stack;
  let dir: string;
  let enrolledAgent: Proc | undefined;
  const admin = async (path: string, init: RequestInit = {}) =>
    fetch(`${stack.baseUrl}${path}`, { ...init, headers: { Authorization: `Bearer ${await stack.token(["admin"])}`, "Content-Type": "application/json", ...(init.headers ?? {}) } });
  const mintCode = async () => ((await (await admin("/admin/enrollment-codes", { method: "POST", body: "{}" })).json()) as { code: string }).code;
  const runAgent = (args: string[]) => startProcess(systemNode(), [AGENT_BUNDLE, ...args]);
  const agentStatus = async (id: string) =>
    ((await (await fetch(`${stack.baseUrl}/healthz`)).json()) as { agents: Array<{ id: string; connected: boolean }> }).agents.find((a) => a.id === id);

  beforeAll(async () => {
    stack = await startStack();
    dir = mkdtempSync(join(tmpdir(), "enroll-"));
  }, 60_000);
  afterAll(async () => {
    await enrolledAgent?.kill();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("needs the admin scope to mint a code", async () => {
    const res = await fetch(`${stack.baseUrl}/admin/enrollment-codes`, { method: "POST", headers: { Authorization: `Bearer ${await stack.token(["proxmox:read", "proxmox:write", "host:exec"])}` }, body: "{}" });
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
  });

  it("enrolls an agent with a one-time code; the agent then serves calls; the code cannot be reused", async () => {
    const code = await mintCode();
    expect(code).toMatch(/^pmc_[A-Z2-9]{5}(-[A-Z2-9]{5}){3}$/);
    const keyFile = join(dir, "agent.key");
    const enroll = runAgent(["enroll", "--worker", stack.baseUrl, "--code", code, "--agent-id", "pve-enrolled", "--key", keyFile]);
    expect(await enroll.exited, enroll.output()).toBe(0);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, "utf8")).toContain("BEGIN PRIVATE KEY");

    const config = join(dir, "agent.json");
    writeFileSync(
      config,
      JSON.stringify({
        worker_url: `${stack.baseUrl.replace("http", "ws")}/agent`,
        agent_id: "pve-enrolled",
        private_key: keyFile,
        pve: { url: stack.sim.url, token_id: stack.sim.token.tokenid, token_secret: stack.sim.token.secret, fingerprint: stack.sim.fingerprint },
        reconnect_max_ms: 500,
      }),
    );
    enrolledAgent = runAgent(["run", "--config", config]);
    await waitFor(async () => (await agentStatus("pve-enrolled"))?.connected, "enrolled agent connected");

    const client = new Client({ name: "t", version: "1" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${stack.baseUrl}/agents/pve-enrolled/mcp`), { requestInit: { headers: { Authorization: `Bearer ${await stack.token()}` } } }),
    );
    const result = (await client.callTool({ name: "node_list", arguments: {} })) as unknown as { structuredContent: { nodes: unknown[] } };
    expect(result.structuredContent.nodes).toHaveLength(3);
    await client.close();

    const again = await fetch(`${stack.baseUrl}/enroll`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code, agent_id: "other", public_key: { kty: "OKP", crv: "Ed25519", x: "A".repeat(43) } }),
    });
    expect(again.status).toBe(410);
    expect(((await again.json()) as { error: string }).error).toBe("code_used");
  });

  it("refuses an unknown code and a private key", async () => {
    const bad = await fetch(`${stack.baseUrl}/enroll`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: "pmc_NOPE", agent_id: "x", public_key: { kty: "OKP", crv: "Ed25519", x: "A".repeat(43) } }),
    });
    expect(bad.status).toBe(401);
    const priv = await fetch(`${stack.baseUrl}/enroll`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: await mintCode(), agent_id: "x", public_key: { kty: "OKP", crv: "Ed25519", x: "A".repeat(43), d: "secret" } }),
    });
    expect(priv.status).toBe(400);
    expect(((await priv.json()) as { error_description: string }).error_description).toMatch(/private part/);
  });

  it("lists agents, and a revoked agent is dropped at once and cannot reconnect", async () => {
    const list = (await (await admin("/admin/agents")).json()) as { agents: Array<{ id: string; source: string }> };
    expect(list.agents.map((a) => `${a.id}:${a.source}`).sort()).toEqual(["pve-enrolled:enrolled", "pve-test:AGENT_KEYS"]);
    const res = await admin("/admin/agents/pve-enrolled", { method: "DELETE" });
    expect(res.status).toBe(200);
    expect((await agentStatus("pve-enrolled"))?.connected).toBe(false);
    await enrolledAgent!.waitForOutput(/"status":401/, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await agentStatus("pve-enrolled"))?.connected).toBe(false);
  });
});

describe("enrollment codes expire", () => {
  it("refuses an expired code", async () => {
    const registry = new AgentRegistry(memoryStore());
    const { code } = await registry.createCode(-1);
    const result = await registry.enroll(code, "late", { kty: "OKP", crv: "Ed25519", x: "B".repeat(43) });
    expect(result).toMatchObject({ ok: false, status: 410, error: "code_expired" });
  });
});
