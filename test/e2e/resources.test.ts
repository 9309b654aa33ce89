import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.ts";

describe("MCP resources and prompts", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 60_000);
  afterAll(async () => stack?.close());

  it("reads a guest's config and a node's status as resources", async () => {
    const client = await stack.client(["proxmox:read"]);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual(["proxmox://guests/{vmid}/config", "proxmox://nodes/{node}/status"]);
    const config = await client.readResource({ uri: "proxmox://guests/100/config" });
    const guest = JSON.parse((config.contents[0] as { text: string }).text);
    expect(guest.vmid).toBe(100);
    expect(JSON.stringify(guest)).toContain("digest");
    const status = JSON.parse(((await client.readResource({ uri: "proxmox://nodes/pve2/status" })).contents[0] as { text: string }).text);
    expect(status.node).toBe("pve2");
    expect(status.memory.total).toBeGreaterThan(0);
    await expect(client.readResource({ uri: "proxmox://guests/999/config" })).rejects.toThrow(/999/);
    await client.close();
  });

  it("offers workflow prompts that name the tools to use", async () => {
    const client = await stack.client(["proxmox:read"]);
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual(["backup_coverage", "diagnose_guest_start", "plan_node_upgrade"]);
    const prompt = await client.getPrompt({ name: "diagnose_guest_start", arguments: { vmid: "105" } });
    const text = (prompt.messages[0].content as { text: string }).text;
    expect(text).toContain("Guest 105");
    expect(text).toContain("task_info");
    await expect(client.getPrompt({ name: "plan_node_upgrade", arguments: {} })).rejects.toThrow(/needs: node/);
    await client.close();
  });
});
