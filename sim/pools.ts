/**
 * Resource pools of the simulated cluster (the pool section of /etc/pve/user.cfg), beside the
 * SimState like the other family models; tests reach it with `poolsOf(sim.state)`.
 */
import type { SimState } from "./state.ts";

export interface SimPool {
  poolid: string;
  comment?: string;
  vmids: number[];
  storages: string[];
}

const models = new WeakMap<SimState, SimPool[]>();

export function poolsOf(state: SimState): SimPool[] {
  let pools = models.get(state);
  if (!pools) {
    pools = [
      { poolid: "lab", comment: "Test lab", vmids: [105, 202], storages: [] },
      { poolid: "prod", comment: "Production services", vmids: [100, 101, 102, 200, 201], storages: ["backup"] },
    ];
    models.set(state, pools);
  }
  return pools;
}
