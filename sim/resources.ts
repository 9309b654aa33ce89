/**
 * Cluster-wide resource entries as PVE::API2Tools builds them from pmxcfs RRD data
 * (extract_node_stats, extract_vm_stats, extract_storage_stats in pve-manager PVE/API2Tools.pm).
 * pmxcfs drops RRD entries older than five minutes (status.c rrd_entry_is_old), so for a node that
 * is offline the simulator shows the settled state: no statistics for the node, its guests and its
 * storages, only their identity and status 'offline' / 'unknown'.
 */
import { guestStats, nodeStats, storageUsage } from "./stats.ts";
import { findNode, type SimGuest, type SimNode, type SimState, type SimStorage } from "./state.ts";

export function nodeEntry(state: SimState, node: SimNode, nowSec: number, withStats: boolean): Record<string, unknown> {
  const entry: Record<string, unknown> = { id: `node/${node.name}`, node: node.name, type: "node", status: "offline" };
  if (!node.online) return entry;
  const s = nodeStats(state, node, nowSec);
  entry.status = "online";
  // RRD field 1 is the subscription level; '' without a subscription.
  entry.level = "";
  if (withStats) Object.assign(entry, { uptime: s.uptime, cpu: s.cpu, mem: s.mem, disk: s.disk, maxcpu: s.maxcpu, maxmem: s.maxmem, maxdisk: s.maxdisk });
  return entry;
}

export function vmEntry(state: SimState, g: SimGuest, nowSec: number): Record<string, unknown> {
  const entry: Record<string, unknown> = { id: `${g.type}/${g.vmid}`, vmid: g.vmid, node: g.node, type: g.type, status: "unknown" };
  const host = findNode(state, g.node);
  if (host?.online) {
    const s = guestStats(g, host, nowSec);
    Object.assign(entry, {
      uptime: s.uptime,
      name: guestName(g),
      status: g.running ? "running" : "stopped",
      template: g.config.template === "1" ? 1 : 0,
      maxcpu: s.cpus,
      cpu: s.cpu,
      maxmem: s.maxmem,
      mem: s.mem,
      maxdisk: s.maxdisk,
      disk: s.disk,
      netin: s.netin,
      netout: s.netout,
      diskread: s.diskread,
      diskwrite: s.diskwrite,
      memhost: s.mem,
    });
  }
  // lock and tags come from the guest config, which pmxcfs shares cluster-wide.
  if (g.config.lock) entry.lock = g.config.lock;
  if (g.config.tags !== undefined) entry.tags = g.config.tags;
  return entry;
}

export function storageEntry(state: SimState, storage: SimStorage, node: SimNode): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    id: `storage/${node.name}/${storage.id}`,
    storage: storage.id,
    node: node.name,
    type: "storage",
    plugintype: storage.type,
    status: "unknown",
    shared: storage.shared ? 1 : 0,
    content: contentString(storage),
  };
  if (!node.online) return entry;
  const usage = storageUsage(state, storage, node.name);
  return { ...entry, maxdisk: usage.total, disk: usage.used, status: "available" };
}

/** PVE::Storage::Plugin::content_hash_to_string: sorted, comma-separated. */
export function contentString(storage: SimStorage): string {
  return [...storage.content].sort().join(",");
}

/** The name vmstatus reports: the VM name, or the container hostname without whitespace. */
export function guestName(g: SimGuest): string {
  if (g.type === "qemu") return g.config.name || `VM ${g.vmid}`;
  return (g.config.hostname || `CT${g.vmid}`).replace(/\s/g, "");
}
