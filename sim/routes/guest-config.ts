/**
 * Guest configuration handlers: config read and update (sync PUT, async qemu POST), pending changes,
 * RRD data, disk resize / move / unlink and the cloud-init drive, after qemu-server PVE/API2/Qemu.pm
 * and pve-container PVE/API2/LXC.pm, LXC/Config.pm.
 */
import type { CallContext, Handler, RouteTable } from "../context.ts";
import { die, paramError } from "../errors.ts";
import { addUnused, checkLock, currentDigest, effectiveConfig, loadGuest, pendingList, updateConfig } from "../guest-config.ts";
import { checkPrivileges } from "../permissions.ts";
import { propertySchema, truthy, type Schema } from "../../shared/pve-schema/schema.ts";
import { guestStats } from "../stats.ts";
import { isDiskKey, volumeOf, freeDiskName } from "../storage-content.ts";
import { diskSize, epoch, type GuestType, type SimGuest } from "../state.ts";
import { forkWorker, formatSize } from "../workers.ts";

/** Config values the way the config parser returns them: integers and booleans as numbers, the rest as text. */
function typedConfig(conf: Record<string, string>, returns: Schema | null): Record<string, unknown> {
  const properties = (returns?.properties ?? {}) as Record<string, Schema>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(conf)) {
    const type = propertySchema(properties, key)?.type;
    out[key] = (type === "integer" || type === "boolean") && /^-?\d+$/.test(value) ? Number(value) : value;
  }
  return out;
}

function readConfig(type: GuestType): Handler {
  return (ctx) => {
    const { params } = ctx;
    if (truthy(params.snapshot) && truthy(params.current)) {
      const msg = "cannot use 'snapshot' parameter with 'current'";
      throw paramError({ snapshot: msg, current: msg });
    }
    const g = loadGuest(ctx, type);
    let conf: Record<string, string>;
    if (truthy(params.snapshot)) {
      const snap = g.snapshots?.[String(params.snapshot)];
      if (!snap) throw die(`snapshot '${params.snapshot}' does not exist`);
      conf = { ...snap.config, snaptime: String(snap.snaptime), ...(snap.description ? { description: snap.description } : {}) };
    } else {
      conf = effectiveConfig(g, truthy(params.current));
    }
    const out = typedConfig(conf, ctx.endpoint.returns);
    if (out.cipassword) out.cipassword = "**********";
    // delete_read_restricted_options: raw lxc.* keys are for root@pam only.
    if (type === "lxc" && ctx.authid !== "root@pam") delete out.lxc;
    return { ...out, digest: currentDigest(g) };
  };
}

function writeConfig(type: GuestType): Handler {
  return (ctx) => {
    updateConfig(ctx, loadGuest(ctx, type));
    return null;
  };
}

/** POST /qemu/{vmid}/config: the same update in a 'qmconfig' worker (PVE returns null when background_delay lets it finish). */
function writeConfigAsync(ctx: CallContext): string {
  const g = loadGuest(ctx, "qemu");
  let error: unknown;
  try {
    updateConfig(ctx, g);
  } catch (err) {
    error = err;
  }
  return forkWorker(ctx, "qmconfig", String(g.vmid), () => {
    if (error) throw error;
  });
}

function readPending(type: GuestType): Handler {
  return (ctx) => pendingList(loadGuest(ctx, type));
}

const rrdStep: Record<string, number> = { hour: 60, day: 1800, week: 10800, month: 43200, year: 604800 };

/** GET .../rrddata: 70 rows of the timeframe, derived from the guest's constant load with a gentle wave. */
function rrdData(type: GuestType): Handler {
  return (ctx) => {
    const g = loadGuest(ctx, type);
    const step = rrdStep[String(ctx.params.timeframe)];
    const max = ctx.params.cf === "MAX";
    const now = epoch();
    const end = Math.floor(now / step) * step;
    const s = guestStats(g, ctx.node, now);
    const rows: Array<Record<string, number>> = [];
    for (let i = 69; i >= 0; i--) {
      const time = end - i * step;
      const row: Record<string, number> = { time, maxcpu: s.cpus, maxmem: s.maxmem, maxdisk: s.maxdisk };
      const up = g.running && g.startedAt !== undefined && time >= g.startedAt;
      if (up) {
        const wave = 1 + 0.25 * Math.sin(time / (step * 7) + g.vmid) + (max ? 0.35 : 0);
        Object.assign(row, {
          cpu: Number(Math.min(1, g.load.cpu * wave).toFixed(6)),
          mem: Math.round(s.maxmem * Math.min(1, g.load.mem * (0.9 + 0.1 * wave))),
          disk: s.disk,
          netin: Number((g.load.net * wave).toFixed(2)),
          netout: Number((g.load.net * 0.38 * wave).toFixed(2)),
          diskread: Number((g.load.disk * wave).toFixed(2)),
          diskwrite: Number((g.load.disk * 0.62 * wave).toFixed(2)),
        });
      }
      rows.push(row);
    }
    return rows;
  };
}

const sizeRe = /^(\+)?(\d+(?:\.\d+)?)([KMGT])?$/;

function parseRequestedSize(text: string): { grow: boolean; bytes: number } {
  const m = sizeRe.exec(text);
  if (!m) throw die("internal error");
  const bytes = Number(m[2]) * 1024 ** ({ K: 1, M: 2, G: 3, T: 4 }[(m[3] ?? "") as "K"] ?? 0);
  return { grow: Boolean(m[1]), bytes: Math.trunc(bytes) };
}

function withSize(value: string, bytes: number): string {
  const parts = value.split(",").filter((p) => !p.startsWith("size="));
  return [...parts, `size=${formatSize(bytes)}`].join(",");
}

/** PUT .../resize: grows a disk in a 'resize' worker; qemu checks everything inside the worker, LXC before it. */
function resize(type: GuestType): Handler {
  return (ctx) => {
    const { params } = ctx;
    const disk = String(params.disk);
    const requested = parseRequestedSize(String(params.size));
    const g = loadGuest(ctx, type);
    const check = (): { newSize: number } | undefined => {
      if (type === "qemu") {
        if (params.digest && params.digest !== currentDigest(g)) throw die("checksum mismatch (file change by other user?)");
        checkLock(g, params.skiplock);
        if (!g.config[disk]) throw die(`disk '${disk}' does not exist`);
        if (/media=cdrom/.test(g.config[disk])) throw die("you can't resize a cdrom");
      } else {
        checkLock(g);
        if (params.digest && params.digest !== currentDigest(g)) throw die("detected modified configuration - file changed by other user? Try again.");
        if (!g.config[disk]) throw die(`unable to parse volume for '${disk}'`);
      }
      const size = diskSize(g.config[disk]) ?? 0;
      const newSize = requested.grow ? size + requested.bytes : requested.bytes;
      if (newSize < size) throw die(type === "qemu" ? "shrinking disks is not supported" : "unable to shrink disk size");
      if (newSize === size) {
        if (type === "lxc") throw die("disk is already at specified size");
        return undefined;
      }
      return { newSize };
    };
    const storeid = /^([^:]+):/.exec(g.config[disk] ?? "")?.[1];
    if (storeid && ctx.authid) checkPrivileges(ctx.sim.access, ctx.authid, `/storage/${storeid}`, ["Datastore.AllocateSpace"]);
    const early = type === "lxc" ? check() : undefined;
    return forkWorker(ctx, "resize", String(g.vmid), () => {
      const result = type === "lxc" ? early : check();
      if (!result) return [];
      const volid = volumeOf(g.config[disk]);
      g.config[disk] = withSize(g.config[disk], result.newSize);
      return [`  Size of logical volume ${volid.split(":")[1]} changed to ${formatSize(result.newSize)}.`];
    });
  };
}

/** POST /qemu/{vmid}/move_disk and /lxc/{vmid}/move_volume to another storage. */
function moveDisk(type: GuestType): Handler {
  return (ctx) => {
    const { params, sim } = ctx;
    const key = String(type === "qemu" ? params.disk : params.volume);
    const storeid = params.storage === undefined ? undefined : String(params.storage);
    if (params["target-vmid"] !== undefined) throw die("moving a disk to another guest is not simulated");
    if (!storeid) throw paramError({ storage: "property is missing and it is not optional" });
    const g = loadGuest(ctx, type);
    checkLock(g);
    if (type === "lxc" && g.running) throw die("cannot move volumes of a running container");
    if (type === "lxc" && /^unused\d+$/.test(key)) throw die(`cannot move volume '${key}', only configured volumes can be moved to another storage`);
    if (params.digest && params.digest !== currentDigest(g)) throw die("detected modified configuration - file changed by other user? Try again.");
    const value = g.config[key];
    if (!value) throw die(type === "qemu" ? `disk '${key}' does not exist` : `unable to parse volume for '${key}'`);
    if (/media=cdrom/.test(value)) throw die("you can't move a cdrom");
    const oldVolid = volumeOf(value);
    if (oldVolid.startsWith(`${storeid}:`)) throw die("you can't move to the same storage with same format");
    const storage = sim.state.storages.find((s) => s.id === storeid);
    if (!storage) throw die(`storage '${storeid}' does not exist`);
    const content = type === "qemu" ? "images" : "rootdir";
    if (!storage.content.includes(content)) {
      if (type === "qemu") throw paramError({ storage: `storage '${storeid}' does not support vm images` });
      throw die(`content type '${content}' is not available on storage '${storeid}'`);
    }
    const snapshotted = Object.values(g.snapshots ?? {}).some((s) => Object.values(s.config).some((v) => volumeOf(v) === oldVolid));
    if (snapshotted && truthy(params.delete)) throw die(type === "qemu" ? "you can't move a disk with snapshots and delete the source" : "you can't move a volume with snapshots and delete the source");
    const newVolid = freeDiskName(sim.state, storage, g.node, g.vmid);
    const size = diskSize(value) ?? 0;
    const steps = [0.25, 0.5, 0.75, 1].map((f) => `drive-${key}: transferred ${formatSize(Math.round(size * f))} of ${formatSize(size)} (${Math.round(f * 100)}.00%) in ${Math.round(f * 8)}s`);
    const log = [`create full clone of drive ${key} (${oldVolid})`, ...steps];
    return forkWorker(ctx, type === "qemu" ? "qmmove" : "move_volume", String(g.vmid), () => {
      const rest = value.split(",").slice(1);
      g.config[key] = [newVolid, ...rest].join(",");
      if (!truthy(params.delete)) addUnused(g.config, oldVolid);
      return [`drive-${key}: mirror-job finished`];
    }, { log, locks: [{ guest: g, lock: "disk" }] });
  };
}

/** PUT /qemu/{vmid}/unlink: detaches disks (to unusedN) or, with force, removes them and their volumes. */
function unlink(ctx: CallContext): null {
  const g = loadGuest(ctx, "qemu");
  checkLock(g);
  const ids = String(ctx.params.idlist).split(/[,;\s]+/).filter(Boolean);
  const force = truthy(ctx.params.force);
  for (const id of ids) {
    if (!isDiskKey("qemu", id)) throw paramError({ delete: `unknown option '${id}'` });
    const value = g.config[id];
    if (value === undefined) continue;
    delete g.config[id];
    // Unlinking an unusedN volume always removes it; a CD-ROM has no volume to keep.
    if (/media=cdrom/.test(value) || /^unused/.test(id) || force) continue;
    addUnused(g.config, volumeOf(value));
  }
  return null;
}

const cloudinitKeys = /^(cicustom|cipassword|citype|ciupgrade|ciuser|ipconfig\d+|nameserver|searchdomain|sshkeys)$/;
/** What the cloud-init drive of each guest was last generated from (the [special:cloudinit] section). */
const generated = new WeakMap<SimGuest, Record<string, string>>();

function cloudinitDrive(g: SimGuest): string | undefined {
  return Object.keys(g.config).find((k) => isDiskKey("qemu", k) && /cloudinit/.test(g.config[k]));
}

function cloudinitValues(g: SimGuest): Record<string, string> {
  return Object.fromEntries(Object.entries(g.config).filter(([k]) => cloudinitKeys.test(k)));
}

/** GET /qemu/{vmid}/cloudinit: each cloud-init option with the value on the drive and the pending one. */
function cloudinitPending(ctx: CallContext): unknown[] {
  const g = loadGuest(ctx, "qemu");
  const conf = cloudinitValues(g);
  const drive = generated.get(g) ?? conf;
  const mask = (k: string, v: string | undefined): string | undefined => (k === "cipassword" && v !== undefined ? "**********" : v);
  const out: unknown[] = [];
  for (const [key, value] of Object.entries(conf)) {
    const item: Record<string, unknown> = { key };
    if (drive[key] === undefined) item.pending = mask(key, value);
    else if (drive[key] !== value) Object.assign(item, { value: mask(key, drive[key]), pending: mask(key, value) });
    else item.value = mask(key, value);
    out.push(item);
  }
  for (const key of Object.keys(drive)) if (conf[key] === undefined) out.push({ key, delete: 1 });
  return out;
}

/** PUT /qemu/{vmid}/cloudinit: regenerates the drive from the current options (nothing happens without a drive). */
function cloudinitUpdate(ctx: CallContext): null {
  const g = loadGuest(ctx, "qemu");
  checkLock(g);
  if (cloudinitDrive(g)) generated.set(g, cloudinitValues(g));
  return null;
}

export const guestConfigRoutes: RouteTable = {
  "GET /nodes/{node}/qemu/{vmid}/config": readConfig("qemu"),
  "GET /nodes/{node}/lxc/{vmid}/config": readConfig("lxc"),
  "PUT /nodes/{node}/qemu/{vmid}/config": writeConfig("qemu"),
  "POST /nodes/{node}/qemu/{vmid}/config": writeConfigAsync,
  "PUT /nodes/{node}/lxc/{vmid}/config": writeConfig("lxc"),
  "GET /nodes/{node}/qemu/{vmid}/pending": readPending("qemu"),
  "GET /nodes/{node}/lxc/{vmid}/pending": readPending("lxc"),
  "GET /nodes/{node}/qemu/{vmid}/rrddata": rrdData("qemu"),
  "GET /nodes/{node}/lxc/{vmid}/rrddata": rrdData("lxc"),
  "PUT /nodes/{node}/qemu/{vmid}/resize": resize("qemu"),
  "PUT /nodes/{node}/lxc/{vmid}/resize": resize("lxc"),
  "POST /nodes/{node}/qemu/{vmid}/move_disk": moveDisk("qemu"),
  "POST /nodes/{node}/lxc/{vmid}/move_volume": moveDisk("lxc"),
  "PUT /nodes/{node}/qemu/{vmid}/unlink": unlink,
  "GET /nodes/{node}/qemu/{vmid}/cloudinit": cloudinitPending,
  "PUT /nodes/{node}/qemu/{vmid}/cloudinit": cloudinitUpdate,
};
