import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PveClusterListener } from "../../../../agent/events/listeners/pve-cluster.ts";
import type { PveReader } from "../../../../agent/events/listeners/pve.ts";
import { PveClient } from "../../../../agent/pve.ts";
import { startSimulator, type Simulator } from "../../../../sim/simulator.ts";
import { collector, eventually, memoryLog } from "../helpers.ts";

// The cluster listener against the Proxmox VE simulator, through the agent's real PVE client: the reply
// shapes of /cluster/resources and /cluster/status are PVE's, not the test's.
describe("PVE cluster listener on the simulator", () => {
  let sim: Simulator;
  let client: PveClient;
  let reader: PveReader;

  beforeAll(async () => {
    sim = await startSimulator({ taskDurationMs: 20 });
    client = new PveClient({ url: sim.url, token_id: sim.token.tokenid, token_secret: sim.token.secret, fingerprint: sim.fingerprint, timeout_ms: 5_000 });
    reader = { get: (path, params) => client.request("GET", path, params) };
  });
  afterAll(async () => {
    await client?.close();
    await sim?.close();
  });

  it("reports a guest stopped through the API and a node going offline", async () => {
    const { emit, events } = collector();
    const listener = new PveClusterListener({ reader, emit, log: memoryLog().log, interval_ms: 60_000, storage_threshold_pct: 100 });
    await listener.poll();
    expect(events).toEqual([]);
    expect(listener.counters()).toMatchObject({ invalid: 0, errors: 0 });

    const rows = (await reader.get("/cluster/resources", { type: "vm" })) as Array<{ vmid: number; node: string; status: string; type: string }>;
    const guest = rows.find((r) => r.type === "qemu" && r.status === "running");
    expect(guest).toBeDefined();
    const upid = (await client.request("POST", `/nodes/${guest!.node}/qemu/${guest!.vmid}/status/stop`)) as string;
    const taskStatus = async () => ((await client.request("GET", `/nodes/${guest!.node}/tasks/${encodeURIComponent(upid)}/status`)) as { status: string }).status;
    await eventually(async () => (await taskStatus()) === "stopped", "the stop task");
    await listener.poll();
    expect(events.map((e) => [e.metadata?.type, e.metadata?.vmid])).toContainEqual(["guest-stopped", guest!.vmid]);

    const other = sim.state.nodes.find((n) => n.name !== sim.state.localNode)!.name;
    sim.setNodeOnline(other, false);
    await listener.poll();
    expect(events.filter((e) => e.metadata?.type === "node-offline").map((e) => e.node)).toEqual([other]);
    sim.setNodeOnline(other, true);
  });
});
