import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mutation } from "../../sim/simulator.ts";
import { startStack, type Stack } from "../support/stack.ts";

/**
 * 100 tunnel drops, cut by the TCP proxy at random moments, while clients run reads and power calls
 * (guest_power start / shutdown, guest_stop), half with wait=false. Every call must end with its result, a retryable error or outcome_unknown; no mutating call
 * may reach PVE twice, and none may reach it without the client being told (success or outcome_unknown).
 */

const DROPS = 100;
const TASK_MS = 80;
const READ_TOOLS = ["guest_list", "node_list", "cluster_status"] as const;
/** qemu guests (start/stop always answer a task, whatever the state), each owned by one writer loop. */
const GUESTS = [
  { vmid: 100, node: "pve1" },
  { vmid: 101, node: "pve1" },
  { vmid: 105, node: "pve1" },
  { vmid: 102, node: "pve2" },
  { vmid: 104, node: "pve3" },
];
const RETRYABLE = new Set(["tunnel_lost", "agent_offline", "deadline_exceeded"]);

type ToolCallResult = { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent?: any; _meta?: any };

interface CallRecord {
  tool: string;
  mutating: boolean;
  vmid?: number;
  start: number;
  end: number;
  kind: "ok" | "retryable" | "outcome_unknown" | "other";
  code?: string;
  text?: string;
  upid?: string;
  /** The worker's call id when an error names it (the worker's own outcome_unknown does). */
  callId?: string;
}

describe("tunnel drops under load", () => {
  let stack: Stack;
  let clients: Client[] = [];

  beforeAll(async () => {
    stack = await startStack({
      proxy: true,
      taskDurationMs: TASK_MS,
      workerEnv: { CALL_TIMEOUT_MS: "20000", RECONNECT_GRACE_MS: "15000", CONFIRM_DESTRUCTIVE: "off" },
    });
    clients = await Promise.all([0, 1, 2].map(() => stack.client()));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await stack?.close();
  });

  it(`survives ${DROPS} forced drops: every call answered, no mutation twice, none lost`, async () => {
    const records: CallRecord[] = [];
    let stop = false;

    const call = async (client: Client, tool: string, args: Record<string, unknown>, mutating: boolean, vmid?: number) => {
      const start = Date.now();
      const rec: CallRecord = { tool, mutating, vmid, start, end: 0, kind: "other" };
      try {
        const result = (await client.callTool({ name: tool, arguments: args }, CallToolResultSchema, { timeout: 45_000 })) as ToolCallResult;
        rec.text = result.content.map((c) => c.text ?? "").join("\n");
        if (!result.isError) {
          rec.kind = "ok";
          rec.upid = result.structuredContent?.upid;
        } else {
          rec.code = result._meta?.code;
          rec.callId = result._meta?.details?.call_id;
          rec.upid = result._meta?.details?.upid;
          if (rec.code && RETRYABLE.has(rec.code) && result._meta?.retryable === true) rec.kind = "retryable";
          else if (rec.code === "outcome_unknown") rec.kind = "outcome_unknown";
        }
      } catch (err) {
        rec.code = "client_threw";
        rec.text = (err as Error).message;
      }
      rec.end = Date.now();
      records.push(rec);
      return rec;
    };

    const reader = async (client: Client, n: number) => {
      for (let i = n; !stop; i++) {
        const tool = READ_TOOLS[i % READ_TOOLS.length];
        const rec = await call(client, tool, {}, false);
        if (rec.kind !== "ok") await sleep(20);
      }
    };

    const writer = async (client: Client, guest: (typeof GUESTS)[number], n: number) => {
      for (let i = n; !stop; i++) {
        const running = stack.sim.state.guests.get(guest.vmid)?.running;
        const where = { vmid: guest.vmid, node: guest.node, type: "qemu", wait: i % 2 === 0, wait_seconds: 10 };
        if (!running) await call(client, "guest_power", { ...where, action: "start" }, true, guest.vmid);
        else if (i % 4 < 2) await call(client, "guest_power", { ...where, action: "shutdown" }, true, guest.vmid);
        else await call(client, "guest_stop", { ...where, action: "stop" }, true, guest.vmid);
        // Let the guest's task end, so the next call on it starts from a known state.
        await sleep(TASK_MS + 40);
      }
    };

    const loops = [
      ...clients.map((c, i) => reader(c, i)),
      ...GUESTS.map((g, i) => writer(clients[i % clients.length], g, i)),
    ];

    let drops = 0;
    let cuts = 0;
    const dropTimes: number[] = [];
    const started = Date.now();
    while (drops < DROPS && Date.now() - started < 150_000) {
      await sleep(30 + Math.random() * 500);
      cuts++;
      if (stack.proxy!.cut() > 0) {
        drops++;
        dropTimes.push(Date.now());
      }
    }
    await stack.agentConnected(true);
    await sleep(500);
    stop = true;
    const settled = await Promise.race([Promise.all(loops).then(() => true), sleep(60_000).then(() => false)]);
    expect(settled, "every client loop ended").toBe(true);
    await waitUntil(async () => {
      const health = (await (await fetch(`${stack.baseUrl}/healthz`)).json()) as { agents: Array<{ in_flight: number }> };
      return health.agents.every((a) => a.in_flight === 0);
    });
    await sleep(TASK_MS + 200);

    const verdict = judge(records, stack.sim.mutations);
    const mutatingCalls = records.filter((r) => r.mutating);
    const count = (pred: (r: CallRecord) => boolean) => records.filter(pred).length;
    const crossed = (r: CallRecord) => dropTimes.some((t) => r.start < t && t < r.end);
    const health = (await (await fetch(`${stack.baseUrl}/healthz`)).json()) as { agents: Array<{ reconnects: number }> };
    const byCode: Record<string, number> = {};
    for (const r of records) if (r.kind !== "ok") byCode[r.code ?? "?"] = (byCode[r.code ?? "?"] ?? 0) + 1;
    const summary = {
      drops_injected: drops,
      cuts_tried: cuts,
      seconds: Math.round((Date.now() - started) / 1000),
      calls_made: records.length,
      reads: records.length - mutatingCalls.length,
      mutating: mutatingCalls.length,
      successes: count((r) => r.kind === "ok"),
      mutating_successes: count((r) => r.mutating && r.kind === "ok"),
      retryable_errors: count((r) => r.kind === "retryable"),
      outcome_unknown: count((r) => r.kind === "outcome_unknown"),
      other_answers: count((r) => r.kind === "other"),
      calls_in_flight_at_a_drop: count(crossed),
      mutating_successes_across_a_drop: count((r) => r.mutating && r.kind === "ok" && crossed(r)),
      worker_saw_reconnects: health.agents[0]?.reconnects,
      errors_by_code: byCode,
      pve_mutations: verdict.mutations,
      duplicates: verdict.duplicates.length,
      silent_losses: verdict.silentLosses.length,
    };
    console.log(`[faults] tunnel drops: ${JSON.stringify(summary)}`);

    expect(drops).toBe(DROPS);
    expect(records.filter((r) => r.kind === "other").map((r) => `${r.tool}: [${r.code}] ${r.text?.slice(0, 300)}`)).toEqual([]);
    expect(verdict.duplicates, "mutations sharing a call id").toEqual([]);
    expect(verdict.untagged, "mutations without an X-Call-Id").toBe(0);
    expect(verdict.silentLosses).toEqual([]);
    // The soak means something only if calls really crossed the drops.
    expect(summary.mutating_successes).toBeGreaterThan(20);
    expect(summary.reads).toBeGreaterThan(50);
    expect(summary.mutating_successes_across_a_drop).toBeGreaterThan(5);
  }, 240_000);
});

interface Verdict {
  mutations: number;
  duplicates: string[];
  untagged: number;
  silentLosses: string[];
}

/**
 * Matches PVE's record of mutations with what clients were told. Writers call one guest at a time, so
 * a mutation belongs to the call on its guest whose time window contains it (or that names its task).
 */
function judge(records: CallRecord[], all: Mutation[]): Verdict {
  const mutations = all.filter((m) => /\/status\/(start|stop|shutdown)$/.test(m.path));
  const byCallId = new Map<string, Mutation[]>();
  let untagged = 0;
  for (const m of mutations) {
    if (!m.callId) {
      untagged++;
      continue;
    }
    byCallId.set(m.callId, [...(byCallId.get(m.callId) ?? []), m]);
  }
  const duplicates = [...byCallId].filter(([, ms]) => ms.length > 1).map(([id, ms]) => `${id}: ${ms.map((m) => m.path).join(", ")}`);
  const silentLosses: string[] = [];
  const claimed = new Set<string>();
  const vmidOf = (m: Mutation) => Number(/\/(\d+)\/status\//.exec(m.path)?.[1]);

  for (const r of records.filter((r) => r.mutating)) {
    if (r.kind === "ok") {
      const ms = mutations.filter((m) => m.upid === r.upid);
      if (ms.length !== 1) silentLosses.push(`successful call on ${r.vmid} (task ${r.upid}) has ${ms.length} PVE mutations`);
      for (const m of ms) if (m.callId) claimed.add(m.callId);
    }
    if (r.kind === "outcome_unknown") {
      for (const m of mutations) if (m.callId && (m.callId === r.callId || (r.upid && m.upid === r.upid))) claimed.add(m.callId);
    }
  }
  for (const [callId, ms] of byCallId) {
    if (claimed.has(callId)) continue;
    const m = ms[0];
    const owner = records.find((r) => r.mutating && r.vmid === vmidOf(m) && r.start <= m.time && m.time <= r.end);
    if (owner && (owner.kind === "outcome_unknown" || (owner.kind === "other" && owner.code === "pve_error"))) continue;
    silentLosses.push(
      owner
        ? `call ${callId} reached PVE (${m.path}) but the client was told [${owner.code}] ${owner.text?.slice(0, 200)}`
        : `call ${callId} reached PVE (${m.path}) outside any client call`,
    );
  }
  return { mutations: mutations.length, duplicates, untagged, silentLosses };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await sleep(50);
  }
}
