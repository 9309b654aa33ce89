import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.ts";

/**
 * The agent is killed with SIGKILL while a guest_power call follows a long PVE task, then restarted.
 * Its journal (state_dir) has the call as started with the task's UPID: the call must not run again,
 * and the client learns `outcome_unknown` naming that task, from the agent (worker re-sent the call
 * within RECONNECT_GRACE_MS) or from the worker (grace ran out first).
 */

const TASK_MS = 6_000;

type ToolCallResult = { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent?: any; _meta?: any };

const text = (r: ToolCallResult) => r.content.map((c) => c.text ?? "").join("\n");
const startsOf = (stack: Stack, vmid: number) => stack.sim.mutations.filter((m) => m.path.endsWith(`/${vmid}/status/start`));

/** Starts a long guest_power call and resolves once the agent reports progress, i.e. it has POSTed and journaled the UPID. */
async function longStart(client: Client, vmid: number) {
  let progressed!: () => void;
  const progress = new Promise<void>((resolve) => (progressed = resolve));
  const result = client.callTool(
    { name: "guest_power", arguments: { vmid, node: "pve1", type: "qemu", action: "start", wait: true, wait_seconds: 30 } },
    CallToolResultSchema,
    { onprogress: () => progressed(), timeout: 60_000 },
  ) as Promise<ToolCallResult>;
  await Promise.race([progress, result.then((r) => Promise.reject(new Error(`answered before any progress: ${text(r)}`)))]);
  return { result };
}

for (const variant of [
  { name: "the agent, after the worker re-sends the call", graceMs: 20_000, downMs: 0, from: "agent" },
  { name: "the worker, when the agent is back only after the grace period", graceMs: 1_000, downMs: 2_000, from: "worker" },
] as const) {
  describe(`agent killed mid-call: outcome_unknown from ${variant.name}`, () => {
    let stack: Stack;
    let client: Client;

    beforeAll(async () => {
      stack = await startStack({ taskDurationMs: TASK_MS, workerEnv: { RECONNECT_GRACE_MS: String(variant.graceMs), CALL_TIMEOUT_MS: "50000" } });
      client = await stack.client();
    }, 60_000);

    afterAll(async () => {
      await client?.close();
      await stack?.close();
    });

    it("never runs the call a second time", async () => {
      const vmid = 101;
      const started = Date.now();
      const { result: call } = await longStart(client, vmid);
      const before = startsOf(stack, vmid);
      expect(before).toHaveLength(1);
      const { callId, upid } = before[0];
      expect(callId).toBeTruthy();
      expect(upid).toMatch(/^UPID:pve1:/);

      expect(await stack.agent.kill("SIGKILL")).toBe(null);
      await stack.agentConnected(false);
      await new Promise((r) => setTimeout(r, variant.downMs));
      await stack.startAgent();
      const result = await call;
      const answeredMs = Date.now() - started;

      expect(result.isError, text(result)).toBe(true);
      expect(result._meta.code).toBe("outcome_unknown");
      expect(result._meta.retryable).toBe(false);
      if (variant.from === "agent") {
        expect(text(result)).toContain(`It had started PVE task ${upid}`);
        expect(text(result)).toContain("it was not run again");
        expect(result._meta.details.upid).toBe(upid);
      } else {
        expect(text(result)).toMatch(/may or may not have run/);
        expect(result._meta.details.call_id).toBe(callId);
      }

      // Outlive the task and give a re-run every chance to show up in PVE's record.
      await new Promise((r) => setTimeout(r, Math.max(0, started + TASK_MS + 1_000 - Date.now())));
      const after = startsOf(stack, vmid);
      const forCall = stack.sim.mutations.filter((m) => m.callId === callId);
      console.log(
        `[faults] agent SIGKILL mid-call (${variant.from} answers): mutations for the call ${forCall.length}, starts of ${vmid} ${after.length}, answer [${result._meta.code}] after ${answeredMs} ms`,
      );
      expect(forCall).toHaveLength(1);
      expect(after).toHaveLength(1);

      // The restarted agent serves new calls normally.
      const again = (await client.callTool({ name: "guest_status", arguments: { vmid } })) as ToolCallResult;
      expect(again.isError, text(again)).toBeFalsy();
      expect(again.structuredContent.status).toBe("running");
    }, 60_000);
  });
}
