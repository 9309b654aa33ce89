import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.ts";

describe("operating the worker", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 60_000);
  afterAll(async () => stack?.close());

  it("follows a call from the worker to the agent with one request id", async () => {
    const client = new Client({ name: "trace", version: "1" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${await stack.token()}`, "X-Request-Id": "trace-4242" } },
      }),
    );
    await client.callTool({ name: "node_list", arguments: {} });
    await client.close();
    await stack.agent.waitForOutput(/"msg":"call".*"request_id":"trace-4242".*"tool":"node_list".*"outcome":"ok"/, 5_000);
  });

  it("serves Prometheus metrics to an admin token: calls by tool and outcome, latency, agents", async () => {
    const client = await stack.client();
    await client.callTool({ name: "guest_status", arguments: { vmid: 100 } });
    await client.callTool({ name: "guest_status", arguments: { vmid: 999, node: "pve1", type: "qemu" } });
    await client.close();
    const denied = await fetch(`${stack.baseUrl}/metrics`, { headers: { Authorization: `Bearer ${await stack.token(["proxmox:read"])}` } });
    expect(denied.status).toBe(403);
    const res = await fetch(`${stack.baseUrl}/metrics`, { headers: { Authorization: `Bearer ${await stack.token(["admin"])}` } });
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await res.text();
    expect(text).toContain('pve_mcp_tool_calls_total{tool="guest_status",outcome="ok"} 1');
    expect(text).toContain('pve_mcp_tool_calls_total{tool="guest_status",outcome="pve_error"} 1');
    expect(text).toMatch(/pve_mcp_tool_call_duration_seconds_count\{tool="guest_status"\} 2/);
    expect(text).toContain('pve_mcp_agent_connected{agent="pve-test"} 1');
  });
});
