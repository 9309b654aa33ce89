import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.ts";

/**
 * Flow control per call: a command floods output for seconds while its client does not read. What the
 * worker holds for that client is bounded by the agent's output cap and progress throttle, not by how
 * much the command prints.
 */
describe("a flood of output towards a client that does not read", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ agentConfig: { exec: { enabled: true, max_output_bytes: 65_536, audit_file: "/tmp/pve-mcp-flow-audit/audit.jsonl" } } });
  }, 60_000);
  afterAll(async () => stack?.close());

  it("keeps the buffered answer small while 20 MB are printed over 3 s", async () => {
    const headers = { Authorization: `Bearer ${await stack.token()}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
    const init = await fetch(stack.mcpUrl, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "slow", version: "1" } } }),
    });
    const sid = init.headers.get("mcp-session-id") as string;
    await init.text();
    const session = { ...headers, "Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18" };
    await (await fetch(stack.mcpUrl, { method: "POST", headers: session, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).text();
    const flood = "for i in $(seq 1 30); do head -c 700000 /dev/zero | tr '\\0' x; sleep 0.1; done";
    const res = await fetch(stack.mcpUrl, {
      method: "POST",
      headers: session,
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "host_exec", arguments: { command: flood }, _meta: { progressToken: "p1" } } }),
    });
    // The client reads nothing until the command is over.
    await new Promise((r) => setTimeout(r, 4_000));
    const body = await res.text();
    const progress = body.split("\n").filter((l) => l.startsWith("data:") && l.includes("notifications/progress")).length;
    const result = body.split("\n").find((l) => l.startsWith("data:") && l.includes('"id":2'));
    expect(result).toBeDefined();
    const structured = JSON.parse((result as string).slice(5)).result.structuredContent;
    console.log(`printed ${structured.stdout_bytes} bytes; the client's answer was ${body.length} bytes with ${progress} progress notifications`);
    expect(structured.stdout_bytes).toBe(21_000_000);
    expect(structured.truncated).toBe(true);
    // At most ~4 progress notes a second of at most 2 KiB each, plus the capped result.
    expect(progress).toBeLessThanOrEqual(4 * 6);
    expect(body.length).toBeLessThan(65_536 * 2 + progress * 2_200 + 16_384);
  });
});
