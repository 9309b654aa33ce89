/**
 * /version and /cluster/* handlers, after pve-manager PVE/API2.pm and PVE/API2/Cluster.pm.
 */
import type { CallContext, RouteTable } from "../context.ts";
import { paramError } from "../errors.ts";
import { hasPrivileges } from "../permissions.ts";
import { nodeEntry, storageEntry, vmEntry } from "../resources.ts";
import { epoch, isQuorate } from "../state.ts";

/** Perl's default sort: plain string order. */
const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function clusterStatus({ sim }: CallContext): unknown[] {
  const { state } = sim;
  const cluster = { type: "cluster", id: "cluster", nodes: state.nodes.length, version: state.configVersion, name: state.clusterName, quorate: isQuorate(state) ? 1 : 0 };
  const nodes = state.nodes.map((n) => ({
    type: "node",
    id: `node/${n.name}`,
    name: n.name,
    nodeid: n.nodeid,
    local: n.name === state.localNode ? 1 : 0,
    online: n.online ? 1 : 0,
    ip: n.ip,
    level: "",
  }));
  return [cluster, ...nodes];
}

/** GET /cluster/resources: pools, guests, nodes, storages, SDN and network entries, filtered by privileges. */
function clusterResources({ sim, params, authid }: CallContext): unknown[] {
  const { state, access } = sim;
  const type = params.type as string | undefined;
  const now = epoch();
  const can = (path: string, priv: string): boolean => authid !== undefined && hasPrivileges(access, authid, path, [priv]);
  const out: unknown[] = [];
  if (!type || type === "vm") {
    // pve-manager iterates `sort keys %$idlist`: vmids in string order.
    const guests = [...state.guests.values()].sort((a, b) => byText(String(a.vmid), String(b.vmid)));
    for (const g of guests) if (can(`/vms/${g.vmid}`, "VM.Audit")) out.push(vmEntry(state, g, now));
  }
  if (!type || type === "node") {
    for (const n of state.nodes) out.push({ ...nodeEntry(state, n, now, can(`/nodes/${n.name}`, "Sys.Audit")), ...(n.online ? { "cgroup-mode": 2 } : {}) });
  }
  if (!type || type === "storage") {
    const storages = [...state.storages].sort((a, b) => byText(a.id, b.id));
    for (const s of storages) if (can(`/storage/${s.id}`, "Datastore.Audit")) for (const n of state.nodes) out.push(storageEntry(state, s, n));
  }
  // Nodes broadcast the newer "network" resources, so pve-manager skips their legacy "sdn" entries
  // (type=sdn then lists nothing); without a type filter every node lists its localnetwork zone.
  if (!type && can("/sdn/zones/localnetwork", "SDN.Audit")) {
    for (const n of state.nodes) {
      out.push({ id: `network/${n.name}/zone/localnetwork`, type: "network", "network-type": "zone", network: "localnetwork", node: n.name, status: "ok" });
    }
  }
  return out;
}

/**
 * GET /cluster/nextid. The reply is a JSON string ("103"), not a number: Perl stringifies the id
 * when it is used as a hash key, and JSON::XS then encodes it as a string; clients rely on that.
 */
function nextId({ sim, params }: CallContext): string {
  const used = sim.state.guests;
  if (params.vmid !== undefined) {
    const vmid = Number(params.vmid);
    if (used.has(vmid)) throw paramError({ vmid: `VM ${vmid} already exists` });
    return String(params.vmid);
  }
  let id = 100;
  while (used.has(id)) id++;
  return String(id);
}

export const clusterRoutes: RouteTable = {
  "GET /version": ({ sim }) => ({ ...sim.version }),
  "GET /cluster/status": clusterStatus,
  "GET /cluster/resources": clusterResources,
  "GET /cluster/nextid": nextId,
};
