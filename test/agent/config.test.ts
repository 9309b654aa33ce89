import { describe, expect, it } from "vitest";
import { parseAgentConfig } from "../../agent/config.ts";

const valid = {
  worker_url: "wss://mcp.example.com/agent",
  agent_id: "pve1",
  private_key: "/etc/pve-mcp/agent.key",
  pve: { url: "https://127.0.0.1:8006", token_id: "mcp@pve!agent", token_secret: "0b1c2d3e-0000-4000-8000-000000000000" },
};

describe("agent config", () => {
  it("accepts a valid config and fills defaults", () => {
    const cfg = parseAgentConfig(valid, "test");
    expect(cfg.max_concurrency).toBe(32);
    expect(cfg.pve.timeout_ms).toBe(30_000);
  });
  it("names the bad key and what was expected", () => {
    expect(() => parseAgentConfig({ ...valid, pve: { ...valid.pve, token_id: "root" } }, "agent.json")).toThrow(
      "invalid agent config (agent.json): pve.token_id: expected USER@REALM!TOKENID",
    );
    expect(() => parseAgentConfig({ ...valid, worker_url: "http://x" }, "f")).toThrow(/worker_url/);
    expect(() => parseAgentConfig({ ...valid, colour: "blue" }, "f")).toThrow(/colour/);
    expect(() => parseAgentConfig({ ...valid, pve: { ...valid.pve, fingerprint: "AB:CD" } }, "f")).toThrow(/pve.fingerprint: expected a SHA-256 fingerprint/);
  });
});

import { agentTools } from "../../agent/tools/index.ts";
import { toolDefinitions } from "../../shared/tools/index.ts";

describe("agent tool table", () => {
  it("implements every defined tool, and nothing undefined", () => {
    const implemented = [...agentTools().keys()].sort();
    expect(implemented).toEqual(toolDefinitions.map((d) => d.name).sort());
  });
});
