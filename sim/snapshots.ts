/**
 * Guest snapshots as sections of the guest config, after pve-guest-common PVE/AbstractConfig.pm
 * (__snapshot_prepare, snapshot_delete, snapshot_rollback) with its checks and messages.
 */
import type { GuestType, SimGuest } from "./state.ts";
import { isDiskKey, volumeOf } from "./storage-content.ts";

export interface SimSnapshot {
  name: string;
  description?: string;
  /** Epoch seconds. */
  snaptime: number;
  /** QEMU: the RAM state was saved (a running VM resumes from it on rollback). */
  vmstate: boolean;
  /** The snapshot this one was taken on top of. */
  parent?: string;
  /** The guest config at snapshot time (without lock, parent or snapshot sections). */
  config: Record<string, string>;
  /** QEMU with vmstate: whether the VM was running. */
  running?: boolean;
}

const label = (type: GuestType): string => (type === "qemu" ? "VM" : "CT");

/** Checks of __snapshot_prepare that fail the task; returns nothing when the snapshot may be taken. */
export function snapshotPrepareError(g: SimGuest, snapname: string): string | undefined {
  if (g.config.template === "1") return "you can't take a snapshot if it's a template";
  if (g.config.lock) return `${label(g.type)} is locked (${g.config.lock})`;
  if (g.snapshots?.[snapname]) return `snapshot name '${snapname}' already used`;
  const local = Object.entries(g.config).find(([, v]) => /^local:/.test(v) && !/media=cdrom/.test(v));
  if (local) return "snapshot feature is not available";
  return undefined;
}

export function takeSnapshot(g: SimGuest, snapname: string, description: string | undefined, vmstate: boolean, now: number): SimSnapshot {
  const { lock: _lock, parent, ...config } = g.config;
  const snap: SimSnapshot = { name: snapname, snaptime: now, vmstate: vmstate && g.running, config, ...(parent ? { parent } : {}) };
  if (description) snap.description = description;
  if (snap.vmstate) snap.running = true;
  g.snapshots = { ...g.snapshots, [snapname]: snap };
  g.config.parent = snapname;
  return snap;
}

/** Removes a snapshot and re-links its children (and the current state) to its parent. */
export function deleteSnapshot(g: SimGuest, snapname: string): void {
  const snap = g.snapshots?.[snapname];
  if (!snap || !g.snapshots) return;
  const relink = (holder: { parent?: string }): void => {
    if (holder.parent !== snapname) return;
    if (snap.parent) holder.parent = snap.parent;
    else delete holder.parent;
  };
  for (const other of Object.values(g.snapshots)) relink(other);
  if (g.config.parent === snapname) {
    if (snap.parent) g.config.parent = snap.parent;
    else delete g.config.parent;
  }
  delete g.snapshots[snapname];
}

/** Copies the snapshot's config back to the current state (__snapshot_apply_config). */
export function rollbackSnapshot(g: SimGuest, snapname: string): SimSnapshot {
  const snap = g.snapshots![snapname];
  const kept = Object.fromEntries(Object.entries(g.config).filter(([k]) => /^unused\d+$/.test(k) || k === "description"));
  const next: Record<string, string> = { ...snap.config, ...kept, parent: snapname };
  // Disks added after the snapshot stay as unused volumes (__snapshot_rollback_get_unused).
  const volumes = (conf: Record<string, string>): string[] =>
    Object.entries(conf).filter(([k, v]) => isDiskKey(g.type, k) && !/media=cdrom/.test(v)).map(([, v]) => volumeOf(v));
  const keep = new Set(volumes(next));
  for (const volid of volumes(g.config)) {
    if (keep.has(volid)) continue;
    let n = 0;
    while (next[`unused${n}`] !== undefined) n++;
    next[`unused${n}`] = volid;
    keep.add(volid);
  }
  g.config = next;
  delete g.pending;
  return snap;
}
