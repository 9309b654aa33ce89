/**
 * Guest snapshot handlers (list, create, delete, rollback, snapshot config), after qemu-server and
 * pve-container API2 snapshot methods and pve-guest-common PVE/AbstractConfig.pm. The checks of
 * __snapshot_prepare and snapshot_rollback run inside the worker, so they fail the task.
 */
import type { CallContext, Handler, RouteTable } from "../context.ts";
import { die, paramError } from "../errors.ts";
import { currentDigest, loadGuest } from "../guest-config.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { deleteSnapshot, rollbackSnapshot, snapshotPrepareError, takeSnapshot } from "../snapshots.ts";
import { epoch, markStarted, markStopped, type GuestType } from "../state.ts";
import { volumeOf, isDiskKey } from "../storage-content.ts";
import { forkWorker } from "../workers.ts";

const label = (type: GuestType): string => (type === "qemu" ? "VM" : "CT");

/** The volume names (without storage) of a config's data disks: what LVM snapshots are taken of. */
function diskVolumes(type: GuestType, conf: Record<string, string>): Array<{ key: string; volid: string; name: string }> {
  return Object.entries(conf)
    .filter(([k, v]) => isDiskKey(type, k) && !/^unused/.test(k) && !/media=cdrom/.test(v))
    .map(([key, v]) => ({ key, volid: volumeOf(v), name: volumeOf(v).split(":")[1] }));
}

function list(type: GuestType): Handler {
  return (ctx) => {
    const g = loadGuest(ctx, type);
    const out: Array<Record<string, unknown>> = Object.values(g.snapshots ?? {}).map((s) => {
      const item: Record<string, unknown> = { name: s.name, snaptime: s.snaptime, description: s.description ?? "" };
      if (type === "qemu") item.vmstate = s.vmstate ? 1 : 0;
      if (s.parent) item.parent = s.parent;
      return item;
    });
    const current: Record<string, unknown> = { name: "current", digest: currentDigest(g), running: g.running ? 1 : 0, description: "You are here!" };
    if (g.config.parent) current.parent = g.config.parent;
    out.push(current);
    return out;
  };
}

function create(type: GuestType): Handler {
  return (ctx) => {
    const snapname = String(ctx.params.snapname);
    if (snapname === "current") throw die("unable to use snapshot name 'current' (reserved name)");
    if (snapname.toLowerCase() === "pending") throw die("unable to use snapshot name 'pending' (reserved name)");
    const g = loadGuest(ctx, type);
    const vmstate = type === "qemu" && truthy(ctx.params.vmstate);
    const prepareError = snapshotPrepareError(g, snapname);
    const disks = diskVolumes(type, g.config);
    const log = prepareError ? [] : [
      ...(vmstate && g.running ? ["saving VM state and RAM using storage 'local-lvm'", "1.51 MiB in 0s", "completed saving the VM state in 2s, saved 1.08 GiB (412.6 MiB/s)"] : []),
      ...(type === "qemu" && g.running && !vmstate && /^(1|enabled=1)/.test(g.config.agent ?? "") ? ["issuing guest-agent 'fs-freeze' command", "issuing guest-agent 'fs-thaw' command"] : []),
      ...disks.map((d) => `snapshotting '${d.key}' (${d.volid})`),
      ...disks.map((d) => `  Logical volume "snap_${d.name}_${snapname}" created.`),
    ];
    const description = ctx.params.description === undefined ? undefined : String(ctx.params.description);
    const upid = forkWorker(ctx, type === "qemu" ? "qmsnapshot" : "vzsnapshot", String(g.vmid), () => {
      if (prepareError) throw die(prepareError);
      takeSnapshot(g, snapname, description, vmstate, epoch());
    }, { log, locks: prepareError ? [] : [{ guest: g, lock: "snapshot" }] });
    return upid;
  };
}

function remove(type: GuestType): Handler {
  return (ctx) => {
    const snapname = String(ctx.params.snapname);
    const g = loadGuest(ctx, type);
    const force = truthy(ctx.params.force);
    const problem = ((): string | undefined => {
      const lock = g.config.lock;
      if (lock && !(force && lock === "snapshot-delete")) return `${label(type)} is locked (${lock})`;
      if (g.config.template === "1") return "you can't delete a snapshot if vm is a template";
      if (!g.snapshots?.[snapname]) return `snapshot '${snapname}' does not exist`;
      return undefined;
    })();
    const snap = g.snapshots?.[snapname];
    const log = problem || !snap ? [] : diskVolumes(type, snap.config).map((d) => `  Logical volume "snap_${d.name}_${snapname}" successfully removed.`);
    return forkWorker(ctx, type === "qemu" ? "qmdelsnapshot" : "vzdelsnapshot", String(g.vmid), () => {
      if (problem) throw die(problem);
      deleteSnapshot(g, snapname);
    }, { log, locks: problem ? [] : [{ guest: g, lock: "snapshot-delete" }] });
  };
}

function rollback(type: GuestType): Handler {
  return (ctx) => {
    const snapname = String(ctx.params.snapname);
    const g = loadGuest(ctx, type);
    const start = truthy(ctx.params.start);
    const problem = ((): string | undefined => {
      if (g.config.template === "1") return "you can't rollback if vm is a template";
      if (!g.snapshots?.[snapname]) return `snapshot '${snapname}' does not exist`;
      if (g.config.lock) return `${label(type)} is locked (${g.config.lock})`;
      return undefined;
    })();
    const snap = g.snapshots?.[snapname];
    const log = problem || !snap ? [] : diskVolumes(type, snap.config).map((d) => `  Logical volume "${d.name}" successfully removed.`);
    return forkWorker(ctx, type === "qemu" ? "qmrollback" : "vzrollback", String(g.vmid), () => {
      if (problem) throw die(problem);
      const lines: string[] = [];
      // __snapshot_rollback_vm_stop: a running guest is stopped first.
      if (g.running) markStopped(g);
      const restored = rollbackSnapshot(g, snapname);
      if (type === "qemu" && restored.vmstate) {
        markStarted(g, epoch());
        lines.push("VM was running when the snapshot was taken - resuming from the saved RAM state");
      } else if (start) {
        markStarted(g, epoch());
        lines.push(`${label(type)} ${g.vmid} started with PID ${g.pid}.`);
      }
      return lines;
    }, { log, locks: problem ? [] : [{ guest: g, lock: "rollback" }] });
  };
}

function snapshotConfig(type: GuestType): Handler {
  return (ctx: CallContext) => {
    const g = loadGuest(ctx, type);
    const snap = g.snapshots?.[String(ctx.params.snapname)];
    if (!snap) throw die(`snapshot '${ctx.params.snapname}' does not exist`);
    return { ...snap.config, snaptime: snap.snaptime, ...(snap.description ? { description: snap.description } : {}), ...(snap.parent ? { parent: snap.parent } : {}) };
  };
}

function updateSnapshot(type: GuestType): Handler {
  return (ctx: CallContext) => {
    const g = loadGuest(ctx, type);
    const snap = g.snapshots?.[String(ctx.params.snapname)];
    if (ctx.params.snapname === "current") throw paramError({ snapname: "unable to update 'current' snapshot" });
    if (!snap) throw die(`snapshot '${ctx.params.snapname}' does not exist`);
    if (ctx.params.description !== undefined) snap.description = String(ctx.params.description);
    return null;
  };
}

function index(type: GuestType): Handler {
  return (ctx) => {
    const g = loadGuest(ctx, type);
    if (!g.snapshots?.[String(ctx.params.snapname)]) throw die(`snapshot '${ctx.params.snapname}' does not exist`);
    return [{ cmd: "rollback" }, { cmd: "config" }];
  };
}

export const snapshotRoutes: RouteTable = Object.fromEntries(
  (["qemu", "lxc"] as const).flatMap((type) => [
    [`GET /nodes/{node}/${type}/{vmid}/snapshot`, list(type)],
    [`POST /nodes/{node}/${type}/{vmid}/snapshot`, create(type)],
    [`GET /nodes/{node}/${type}/{vmid}/snapshot/{snapname}`, index(type)],
    [`DELETE /nodes/{node}/${type}/{vmid}/snapshot/{snapname}`, remove(type)],
    [`POST /nodes/{node}/${type}/{vmid}/snapshot/{snapname}/rollback`, rollback(type)],
    [`GET /nodes/{node}/${type}/{vmid}/snapshot/{snapname}/config`, snapshotConfig(type)],
    [`PUT /nodes/{node}/${type}/{vmid}/snapshot/{snapname}/config`, updateSnapshot(type)],
  ]),
);
