import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { node18 } from "../support/node18.ts";
import { systemNode } from "../support/processes.ts";
import { AGENT_BUNDLE, startStack, type Stack } from "../support/stack.ts";

describe("the agent bundle on the Node that Proxmox hosts ship", () => {
  it("runs on the machine's Node 20 and on Node 18", () => {
    for (const node of [systemNode(), node18()]) {
      const major = execFileSync(node, ["--version"]).toString().trim();
      expect(["v18", "v20"]).toContain(major.split(".")[0]);
      expect(execFileSync(node, [AGENT_BUNDLE, "version"]).toString().trim()).toMatch(/^\d+\.\d+\.\d+$/);
    }
  }, 200_000);

  describe("serving calls on Node 18 (PVE 8)", () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ agentNode: node18() });
    }, 200_000);
    afterAll(async () => stack?.close());

    it("connects, signs its token and calls the simulator over pinned TLS", async () => {
      const client = await stack.client(["proxmox:read"]);
      const result = (await client.callTool({ name: "guest_list", arguments: { node: "pve2" } })) as unknown as { structuredContent: { guests: Array<{ node: string }> } };
      expect(result.structuredContent.guests.length).toBeGreaterThan(0);
      expect(result.structuredContent.guests.every((g) => g.node === "pve2")).toBe(true);
      await client.close();
    });
  });
});
