import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../sim/simulator.ts";
import { freePort } from "../support/ports.ts";
import { startStack, type Stack } from "../support/stack.ts";

type Result = { isError?: boolean; content: Array<{ text?: string }>; structuredContent?: any };

describe("several PVE endpoints, and failover between a cluster's node addresses", () => {
  let stack: Stack;
  let standalone: Simulator;
  let deadPort: number;
  beforeAll(async () => {
    standalone = await startSimulator();
    standalone.state.guests.get(100)!.config.name = "standalone-web";
    deadPort = await freePort();
    stack = await startStack({
      agentConfig: (sim) => ({
        // The first node address of the cluster is down (nothing listens); the second answers.
        pve: { url: `https://127.0.0.1:${deadPort}`, failover_urls: [sim.url], token_id: sim.token.tokenid, token_secret: sim.token.secret, fingerprint: sim.fingerprint },
        endpoints: { standalone: { url: standalone.url, token_id: standalone.token.tokenid, token_secret: standalone.token.secret, fingerprint: standalone.fingerprint } },
      }),
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await standalone?.close();
  });

  it("offers an endpoint argument naming each configured endpoint", async () => {
    const client = await stack.client(["proxmox:read"]);
    const { tools } = await client.listTools();
    const schema = tools.find((t) => t.name === "guest_status")!.inputSchema as { properties: Record<string, { enum?: string[] }> };
    expect(schema.properties.endpoint.enum).toEqual(["default", "standalone"]);
    await client.close();
  });

  it("reads through the cluster's second address while the first is down, writes included", async () => {
    const client = await stack.client();
    const list = (await client.callTool({ name: "guest_list", arguments: {} })) as Result;
    expect(list.isError, list.content[0]?.text).toBeFalsy();
    const start = (await client.callTool({ name: "guest_power", arguments: { vmid: 101, action: "start" } })) as Result;
    expect(start.isError, start.content[0]?.text).toBeFalsy();
    expect(stack.sim.mutations.filter((m) => m.path.endsWith("/101/status/start"))).toHaveLength(1);
    await client.close();
  });

  it("addresses the standalone host by name, and refuses an unknown one", async () => {
    const client = await stack.client(["proxmox:read"]);
    const there = (await client.callTool({ name: "guest_status", arguments: { vmid: 100, endpoint: "standalone" } })) as Result;
    expect(there.structuredContent.name).toBe("standalone-web");
    const here = (await client.callTool({ name: "guest_status", arguments: { vmid: 100 } })) as Result;
    expect(here.structuredContent.name).not.toBe("standalone-web");
    const unknown = (await client.callTool({ name: "node_list", arguments: { endpoint: "nowhere" } })) as Result;
    expect(unknown.isError).toBe(true);
    expect(unknown.content[0].text).toContain("unknown endpoint 'nowhere'; this agent has: default, standalone");
    await client.close();
  });
});
