import type { Event } from "../../shared/event.ts";
import type { Logger } from "../../shared/log.ts";
import { clusterResourceRow, type ClusterResource } from "../tools/replies.ts";
import { parseRows, parseUpid, type PveReader } from "./listeners/pve.ts";

export interface GuestInfo {
  vmid: number;
  type: string;
  name?: string;
  node?: string;
}

/**
 * What the agent knows about guests, by vmid, for enriching events. Kept current by whoever already
 * reads /cluster/resources (the cluster listener) or by `refresh`; lookups never call PVE.
 */
export class GuestCache {
  private guests = new Map<number, GuestInfo>();
  updatedAt = 0;

  update(rows: ClusterResource[]): void {
    const next = new Map<number, GuestInfo>();
    for (const row of rows) {
      if ((row.type !== "qemu" && row.type !== "lxc") || row.vmid === undefined) continue;
      next.set(row.vmid, { vmid: row.vmid, type: row.type, name: row.name, node: row.node });
    }
    this.guests = next;
    this.updatedAt = Date.now();
  }

  async refresh(reader: PveReader, log: Logger): Promise<void> {
    const reply = await reader.get("/cluster/resources", { type: "vm" });
    this.update(parseRows(clusterResourceRow, reply, "/cluster/resources", log).rows);
  }

  get(vmid: number): GuestInfo | undefined {
    return this.guests.get(vmid);
  }

  get size(): number {
    return this.guests.size;
  }
}

/** Adds guest name and type for an event naming a vmid, and a node for a task event that lacks one. */
export function enricher(cache: GuestCache): (event: Event) => Event {
  return (event) => {
    const metadata = { ...event.metadata };
    let node = event.node;
    const vmid = Number(metadata.vmid);
    const guest = Number.isInteger(vmid) && vmid > 0 ? cache.get(vmid) : undefined;
    if (guest) {
      metadata.vmid = vmid;
      metadata.guest_type ??= guest.type;
      if (guest.name) metadata.guest_name ??= guest.name;
      node ??= guest.node;
    }
    if (!node && typeof metadata.upid === "string") node = parseUpid(metadata.upid)?.node;
    return { ...event, ...(node ? { node } : {}), metadata };
  };
}
