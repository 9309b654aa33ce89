import type { Severity } from "../../../shared/event.ts";
import type { Logger } from "../../../shared/log.ts";
import { clusterResourceRow, type ClusterResource } from "../../tools/replies.ts";
import type { Emit } from "../source.ts";
import { PollingListener, clusterStatusRow, parseRows, type ClusterStatus, type PveReader } from "./pve.ts";

export interface PveClusterOptions {
  reader: PveReader;
  emit: Emit;
  log: Logger;
  interval_ms: number;
  /** Storage usage (percent) that raises a warning, once per crossing. */
  storage_threshold_pct: number;
  /** Usage the storage must fall below before it can warn again (default: threshold − 5). */
  storage_rearm_pct?: number;
  /** Called with every /cluster/resources reply, e.g. to refresh the guest cache used for enrichment. */
  onResources?: (rows: ClusterResource[]) => void;
}

interface Guest {
  vmid: number;
  type: string;
  node?: string;
  name?: string;
  status?: string;
  hastate?: string;
}

interface Snapshot {
  guests: Map<string, Guest>;
  nodes: Map<string, boolean>;
  quorate?: boolean;
}

interface Change {
  type: string;
  severity: Severity;
  title: string;
  message?: string;
  node?: string;
  metadata?: Record<string, unknown>;
}

const haSeverity: Record<string, Severity> = { error: "error", fence: "error", recovery: "warning", freeze: "notice" };

/**
 * Polls GET /cluster/resources and /cluster/status and reports what changed since the previous poll:
 * guests started, stopped, created, deleted or migrated, HA state changes, nodes going offline or
 * online, quorum lost or regained, and storage filling past a threshold. The first poll is the baseline
 * and reports no changes; a storage already above the threshold is reported then, since it is a
 * condition, not a change.
 */
export class PveClusterListener extends PollingListener {
  readonly name = "pve-cluster";
  private readonly opts: PveClusterOptions;
  private previous?: Snapshot;
  private readonly storageAbove = new Map<string, boolean>();

  constructor(opts: PveClusterOptions) {
    super(opts.interval_ms, opts.log);
    this.opts = opts;
  }

  async poll(signal?: AbortSignal): Promise<void> {
    this.stats.received++;
    const [resourcesReply, statusReply] = await Promise.all([this.opts.reader.get("/cluster/resources"), this.opts.reader.get("/cluster/status")]);
    if (signal?.aborted) return;
    const resources = parseRows(clusterResourceRow, resourcesReply, "/cluster/resources", this.opts.log);
    const status = parseRows(clusterStatusRow, statusReply, "/cluster/status", this.opts.log);
    this.stats.invalid += resources.invalid + status.invalid;
    this.opts.onResources?.(resources.rows);
    const next = snapshot(resources.rows, status.rows);
    const changes = [...(this.previous ? diff(this.previous, next) : []), ...this.storageChanges(resources.rows)];
    this.previous = next;
    for (const change of changes) this.report(change);
  }

  /** Threshold with hysteresis: warn when usage reaches the threshold, re-arm once it falls below the re-arm mark. */
  private storageChanges(rows: ClusterResource[]): Change[] {
    const threshold = this.opts.storage_threshold_pct;
    const rearm = this.opts.storage_rearm_pct ?? threshold - 5;
    const changes: Change[] = [];
    const seen = new Set<string>();
    for (const row of rows) {
      if (row.type !== "storage" || !row.storage || !row.maxdisk || row.disk === undefined) continue;
      // Shared storage is listed once per node with the same usage: one alarm, not one per node.
      const key = row.shared ? row.storage : `${row.node}/${row.storage}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const pct = Math.round((row.disk / row.maxdisk) * 1000) / 10;
      const where = row.shared ? `shared storage ${row.storage}` : `storage ${row.storage} on ${row.node}`;
      const above = this.storageAbove.get(key) ?? false;
      const metadata = { storage: row.storage, pct, used: row.disk, total: row.maxdisk, shared: Boolean(row.shared), threshold_pct: threshold };
      const node = row.shared ? undefined : row.node;
      if (!above && pct >= threshold) {
        this.storageAbove.set(key, true);
        changes.push({ type: "storage-usage", severity: "warning", title: `Storage ${row.storage} is ${pct}% full`, message: `${capitalise(where)} is ${pct}% full (threshold ${threshold}%)`, node, metadata });
      } else if (above && pct < rearm) {
        this.storageAbove.set(key, false);
        changes.push({ type: "storage-usage-normal", severity: "info", title: `Storage ${row.storage} back to ${pct}%`, message: `${capitalise(where)} is back below ${rearm}% (${pct}%)`, node, metadata });
      }
    }
    return changes;
  }

  private report(change: Change): void {
    this.stats.emitted++;
    this.opts.emit({
      source: "pve-cluster",
      node: change.node,
      severity: change.severity,
      title: change.title,
      message: change.message ?? change.title,
      metadata: { type: change.type, ...change.metadata },
    });
  }
}

function snapshot(resources: ClusterResource[], status: ClusterStatus[]): Snapshot {
  const guests = new Map<string, Guest>();
  const nodes = new Map<string, boolean>();
  for (const row of resources) {
    if ((row.type === "qemu" || row.type === "lxc") && row.vmid !== undefined) {
      guests.set(row.id, { vmid: row.vmid, type: row.type, node: row.node, name: row.name, status: row.status, hastate: row.hastate });
    } else if (row.type === "node" && row.node) {
      nodes.set(row.node, row.status === "online");
    }
  }
  let quorate: boolean | undefined;
  for (const row of status) {
    if (row.type === "cluster") quorate = row.quorate;
    else if (row.type === "node" && row.online !== undefined) nodes.set(row.name, row.online);
  }
  return { guests, nodes, quorate };
}

function diff(before: Snapshot, after: Snapshot): Change[] {
  const changes: Change[] = [];
  for (const [id, guest] of after.guests) {
    const old = before.guests.get(id);
    if (!old) changes.push(guestChange(guest, "guest-created", "info", "created"));
    else changes.push(...guestChanges(old, guest));
  }
  for (const [id, guest] of before.guests) {
    if (!after.guests.has(id)) changes.push(guestChange(guest, "guest-deleted", "notice", "deleted"));
  }
  for (const [node, online] of after.nodes) {
    const was = before.nodes.get(node);
    if (was === undefined || was === online) continue;
    changes.push(
      online
        ? { type: "node-online", severity: "notice", title: `Node ${node} is online`, node, metadata: { online } }
        : { type: "node-offline", severity: "error", title: `Node ${node} is offline`, node, metadata: { online } },
    );
  }
  if (before.quorate !== undefined && after.quorate !== undefined && before.quorate !== after.quorate) {
    changes.push(
      after.quorate
        ? { type: "quorum-regained", severity: "notice", title: "Cluster quorum regained", metadata: { quorate: true } }
        : { type: "quorum-lost", severity: "critical", title: "Cluster quorum lost", message: "The cluster lost quorum: /etc/pve is read-only and guests cannot be started or changed", metadata: { quorate: false } },
    );
  }
  return changes;
}

function guestChanges(old: Guest, now: Guest): Change[] {
  const changes: Change[] = [];
  if (old.node && now.node && old.node !== now.node) {
    changes.push(guestChange(now, "guest-migrated", "notice", `migrated from ${old.node} to ${now.node}`, { from_node: old.node, to_node: now.node }));
  }
  if (old.status !== now.status && now.status) {
    if (now.status === "running") changes.push(guestChange(now, "guest-started", "info", "started", { previous_status: old.status }));
    else if (now.status === "stopped") changes.push(guestChange(now, "guest-stopped", "notice", "stopped", { previous_status: old.status }));
    else changes.push(guestChange(now, "guest-status", now.status === "unknown" ? "warning" : "info", `is now ${now.status} (was ${old.status ?? "?"})`, { previous_status: old.status }));
  }
  if ((old.hastate ?? "") !== (now.hastate ?? "")) {
    const severity = haSeverity[now.hastate ?? ""] ?? "info";
    changes.push(guestChange(now, "ha-state", severity, `HA state ${old.hastate ?? "none"} → ${now.hastate ?? "none"}`, { previous_hastate: old.hastate }));
  }
  return changes;
}

function guestChange(guest: Guest, type: string, severity: Severity, what: string, extra: Record<string, unknown> = {}): Change {
  const label = `${guest.type === "lxc" ? "CT" : "VM"} ${guest.vmid}${guest.name ? ` (${guest.name})` : ""}`;
  return {
    type,
    severity,
    title: `${label} ${what}`,
    message: `${label} on ${guest.node ?? "?"} ${what}`,
    node: guest.node,
    metadata: { vmid: guest.vmid, guest_type: guest.type, ...(guest.name ? { guest_name: guest.name } : {}), status: guest.status, ...(guest.hastate ? { hastate: guest.hastate } : {}), ...extra },
  };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
