import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.ts";

type Result = { isError?: boolean; content: Array<{ text?: string }>; structuredContent?: any; _meta?: any };

/** An MCP client that answers elicitation requests with `answer`, recording each question. */
async function elicitingClient(stack: Stack, answer: "accept" | "decline" | "cancel", asked: string[]): Promise<Client> {
  const client = new Client({ name: "confirming", version: "1" }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push(req.params.message);
    return answer === "accept" ? { action: "accept", content: { confirm: true } } : { action: answer };
  });
  const token = await stack.token();
  await client.connect(new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

const stops = (stack: Stack, vmid: number) => stack.sim.mutations.filter((m) => m.path.endsWith(`/${vmid}/status/stop`)).length;

describe("human confirmation of destructive tools (CONFIRM_DESTRUCTIVE=elicit)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ taskDurationMs: 100 });
  }, 60_000);
  afterAll(async () => stack?.close());

  it("asks a client that can elicit, naming the target, and runs the call once accepted", async () => {
    const asked: string[] = [];
    const client = await elicitingClient(stack, "accept", asked);
    const result = (await client.callTool({ name: "guest_stop", arguments: { vmid: 100 } })) as Result;
    expect(result.isError, result.content[0]?.text).toBeFalsy();
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain("vmid 100");
    expect(asked[0]).toMatch(/destructive/);
    expect(stops(stack, 100)).toBe(1);
    await client.close();
  });

  it("sends nothing to Proxmox when the human declines", async () => {
    const asked: string[] = [];
    const client = await elicitingClient(stack, "decline", asked);
    const before = stack.sim.mutations.length;
    const result = (await client.callTool({ name: "guest_stop", arguments: { vmid: 102 } })) as Result;
    expect(result.isError).toBe(true);
    expect(result._meta.code).toBe("declined");
    expect(result.content[0].text).toContain("vmid 102");
    expect(asked).toHaveLength(1);
    expect(stack.sim.mutations.length).toBe(before);
    await client.close();
  });

  it("does not ask for a tool that is not destructive", async () => {
    const asked: string[] = [];
    const client = await elicitingClient(stack, "decline", asked);
    const result = (await client.callTool({ name: "guest_power", arguments: { vmid: 100, action: "start" } })) as Result;
    expect(result.isError, result.content[0]?.text).toBeFalsy();
    expect(asked).toHaveLength(0);
    await client.close();
  });

  it("runs the call for a client without elicitation support (it confirms destructive tools itself)", async () => {
    const client = await stack.client();
    const result = (await client.callTool({ name: "guest_stop", arguments: { vmid: 102 } })) as Result;
    expect(result.isError, result.content[0]?.text).toBeFalsy();
    expect(stops(stack, 102)).toBe(1);
    await client.close();
  });
});

describe("human confirmation required (CONFIRM_DESTRUCTIVE=require)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ taskDurationMs: 100, workerEnv: { CONFIRM_DESTRUCTIVE: "require" } });
  }, 60_000);
  afterAll(async () => stack?.close());

  it("refuses a destructive call from a client that cannot ask the human", async () => {
    const client = await stack.client();
    const result = (await client.callTool({ name: "guest_stop", arguments: { vmid: 100 } })) as Result;
    expect(result.isError).toBe(true);
    expect(result._meta.code).toBe("confirmation_required");
    expect(stops(stack, 100)).toBe(0);
    await client.close();
  });

  it("still runs it once a capable client's human accepts", async () => {
    const asked: string[] = [];
    const client = await elicitingClient(stack, "accept", asked);
    const result = (await client.callTool({ name: "guest_stop", arguments: { vmid: 100 } })) as Result;
    expect(result.isError, result.content[0]?.text).toBeFalsy();
    expect(stops(stack, 100)).toBe(1);
    await client.close();
  });
});
