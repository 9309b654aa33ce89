/**
 * Guest config changes as qemu-server (API2/Qemu.pm update_vm, QemuServer.pm vmconfig_hotplug_pending /
 * vmconfig_apply_pending, create_disks) and pve-container (LXC/Config.pm update_pct_config) make them:
 * changes go to the [PENDING] section; a stopped guest applies them at once, a running one hot-plugs
 * what it can and keeps the rest pending until its next start. New disks given as "<storage>:<GiB>"
 * are allocated as vm-<vmid>-disk-<n>; a removed disk stays as an unused volume.
 */
import { createHash } from "node:crypto";
import type { CallContext } from "./context.ts";
import { die, paramError } from "./errors.ts";
import { freeDiskName, isDiskKey, volumeOf } from "./storage-content.ts";
import { localGuest, type GuestType, type SimGuest, type SimState } from "./state.ts";

export type Conf = Record<string, string>;

const label = (type: GuestType): string => (type === "qemu" ? "VM" : "CT");
const dir = (type: GuestType): string => (type === "qemu" ? "qemu-server" : "lxc");

export function configPath(type: GuestType, node: string, vmid: number): string {
  return `nodes/${node}/${dir(type)}/${vmid}.conf`;
}

/** AbstractConfig::load_config on the executing node. */
export function loadGuest(ctx: CallContext, type: GuestType, vmid = Number(ctx.params.vmid)): SimGuest {
  const g = localGuest(ctx.sim.state, ctx.node.name, type, vmid);
  if (!g) throw die(`Configuration file '${configPath(type, ctx.node.name, vmid)}' does not exist`);
  return g;
}

/** AbstractConfig::check_lock: "VM is locked (backup)". */
export function checkLock(g: SimGuest, skiplock?: unknown): void {
  if (g.config.lock && !skiplock) throw die(`${label(g.type)} is locked (${g.config.lock})`);
}

/** The message of check_lock, for checks made inside a worker. */
export function lockError(g: SimGuest): string | undefined {
  return g.config.lock ? `${label(g.type)} is locked (${g.config.lock})` : undefined;
}

/** AbstractConfig::add_unused_volume: the lowest free unusedN, no duplicates. */
export function addUnused(conf: Conf, volid: string): void {
  let free: string | undefined;
  for (let i = 255; i >= 0; i--) {
    const key = `unused${i}`;
    if (conf[key] === volid) return;
    if (conf[key] === undefined) free = key;
  }
  if (!free) throw die("Too many unused volumes - please delete them first.");
  conf[free] = volid;
}

/** A stable locally administered MAC in Proxmox's BC:24:11 range. */
export function randomMac(seed: string): string {
  const h = createHash("sha256").update(`${seed}:${Math.random()}`).digest("hex").toUpperCase();
  return `BC:24:11:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}

const qemuModels = ["e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b", "i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3"];

/** parse_net + print_net: the model carries the MAC ("virtio=BC:24:11:..."); a missing MAC is generated. */
export function normalizeQemuNet(value: string, seed: string): string {
  const parts = value.split(",").filter(Boolean);
  let model = "virtio";
  let mac: string | undefined;
  const rest: string[] = [];
  for (const part of parts) {
    const [k, v] = part.includes("=") ? [part.slice(0, part.indexOf("=")), part.slice(part.indexOf("=") + 1)] : [part, undefined];
    if (qemuModels.includes(k)) {
      model = k;
      if (v) mac = v;
    } else if (k === "model" && v) model = v;
    else if (k === "macaddr" && v) mac = v;
    else rest.push(part);
  }
  return [`${model}=${(mac ?? randomMac(seed)).toUpperCase()}`, ...rest].join(",");
}

/** LXC networks get a hwaddr and type=veth when missing. */
export function normalizeLxcNet(value: string, seed: string): string {
  const parts = value.split(",").filter(Boolean);
  if (!parts.some((p) => p.startsWith("hwaddr="))) parts.push(`hwaddr=${randomMac(seed)}`);
  if (!parts.some((p) => p.startsWith("type="))) parts.push("type=veth");
  return parts.sort((a, b) => (a.split("=")[0] === "name" ? -1 : b.split("=")[0] === "name" ? 1 : a < b ? -1 : 1)).join(",");
}

const qemuNewDisk = /^(?:([^/:\s]+):)?(\d+(?:\.\d+)?)$/;

/**
 * create_disks / LXC create_disks: every disk value of the form "<storage>:<size in GiB>" becomes a new
 * volume on that storage. Checks the storage as check_storage_access does.
 */
export function allocateDisks(state: SimState, type: GuestType, node: string, vmid: number, settings: Conf, defaultStorage?: string): void {
  for (const [key, value] of Object.entries(settings)) {
    if (!isDiskKey(type, key) || /^unused/.test(key)) continue;
    const [first, ...opts] = value.split(",");
    const volume = first.replace(/^volume=/, "");
    if (type === "qemu" && /media=cdrom/.test(value)) {
      const ci = /^([^:]+):cloudinit$/.exec(volume);
      if (ci) settings[key] = [`${ci[1]}:vm-${vmid}-cloudinit`, ...opts].join(",");
      continue;
    }
    const m = qemuNewDisk.exec(volume);
    if (!m) {
      const storeid = /^([^:]+):/.exec(volume)?.[1];
      if (storeid && !state.storages.some((s) => s.id === storeid)) throw die(`storage '${storeid}' does not exist`);
      continue;
    }
    const storeid = m[1] ?? defaultStorage;
    if (!storeid) throw die("no storage ID specified (and no default storage)");
    const storage = state.storages.find((s) => s.id === storeid);
    if (!storage) throw die(`storage '${storeid}' does not exist`);
    const content = type === "qemu" ? "images" : "rootdir";
    if (!storage.content.includes(content)) {
      if (type === "qemu") throw paramError({ storage: `storage '${storeid}' does not support vm images` });
      throw die(`storage '${storeid}' does not support container directories`);
    }
    const gib = Number(m[2]);
    const size = key === "efidisk0" || key === "tpmstate0" ? "4M" : `${gib}G`;
    const volid = freeDiskName(state, storage, node, vmid);
    const kept = opts.filter((o) => !o.startsWith("size="));
    settings[key] = [volid, ...kept, `size=${size}`].join(",");
  }
}

const qemuFastPlug = new Set(["description", "hookscript", "lock", "migrate_downtime", "migrate_speed", "name", "onboot", "protection", "shares", "startup", "tags", "vmstatestorage",
  "cicustom", "cipassword", "citype", "ciupgrade", "ciuser", "nameserver", "searchdomain", "sshkeys"]);
const lxcFastPlug = new Set(["description", "onboot", "startup", "protection", "hostname", "hookscript", "cores", "tags", "lock"]);

function qemuHotplugs(g: SimGuest): Set<string> {
  const spec = g.config.hotplug ?? "network,disk,usb";
  if (spec === "1") return new Set(["network", "disk", "usb", "cpu", "memory"]);
  if (spec === "0") return new Set();
  return new Set(spec.split(","));
}

/** Can a running guest take this change without a restart (vmconfig_hotplug_pending)? */
function hotpluggable(g: SimGuest, key: string, deleting: boolean): boolean {
  if (g.type === "lxc") {
    if (lxcFastPlug.has(key) || /^net\d+$/.test(key) || ["memory", "swap", "cpulimit", "cpuunits"].includes(key)) return true;
    if (/^unused\d+$/.test(key)) return true;
    return !deleting && /^(mp|dev)\d+$/.test(key) && g.config[key] === undefined;
  }
  if (qemuFastPlug.has(key) || /^ipconfig\d+$/.test(key)) return true;
  const hot = qemuHotplugs(g);
  if (/^net\d+$/.test(key)) return hot.has("network");
  if (/^unused\d+$/.test(key)) return true;
  if (isDiskKey("qemu", key)) return hot.has("disk") && !/^(ide|sata)\d+$/.test(key) && key !== "efidisk0" && key !== "tpmstate0";
  if (key === "cores" || key === "vcpus") return hot.has("cpu");
  if (key === "memory") return hot.has("memory");
  return false;
}

function pendingDeletes(g: SimGuest): string[] {
  return (g.pending?.delete ?? "").split(",").filter(Boolean);
}

function setPendingDeletes(g: SimGuest, keys: string[]): void {
  g.pending ??= {};
  if (keys.length) g.pending.delete = [...new Set(keys)].join(",");
  else delete g.pending.delete;
  if (!Object.keys(g.pending).length) delete g.pending;
}

/** Applies one deletion to the current config; a disk's volume is kept as unusedN. */
function applyDelete(g: SimGuest, key: string): void {
  const value = g.config[key];
  if (value === undefined) return;
  delete g.config[key];
  if (isDiskKey(g.type, key) && !/^unused/.test(key) && !/media=cdrom/.test(value)) {
    const volid = volumeOf(value);
    if (/^[^/:\s]+:/.test(volid)) addUnused(g.config, volid);
  }
}

/** vmconfig_apply_pending (stopped guest) or vmconfig_hotplug_pending (running guest, only what can be hot-plugged). */
export function applyPending(g: SimGuest, onlyHotplug: boolean): void {
  if (!g.pending) return;
  const deletes = pendingDeletes(g);
  const left: string[] = [];
  for (const key of deletes) {
    if (onlyHotplug && !hotpluggable(g, key, true)) left.push(key);
    else applyDelete(g, key);
  }
  setPendingDeletes(g, left);
  for (const [key, value] of Object.entries(g.pending ?? {})) {
    if (key === "delete") continue;
    if (onlyHotplug && !hotpluggable(g, key, false)) continue;
    const old = g.config[key];
    if (old !== undefined && isDiskKey(g.type, key) && volumeOf(old) !== volumeOf(value) && !/media=cdrom/.test(old)) addUnused(g.config, volumeOf(old));
    g.config[key] = value;
    delete g.pending![key];
  }
  if (g.pending && !Object.keys(g.pending).length) delete g.pending;
}

const requiredLxc = new Set(["memory", "rootfs", "ostype"]);

/**
 * PUT/POST .../config: validates the delete list, checks the digest and the lock, writes the changes to
 * [PENDING] and applies what the guest's state allows. Returns the keys that changed.
 */
export function updateConfig(ctx: CallContext, g: SimGuest): string[] {
  const params = { ...ctx.params };
  const digest = params.digest as string | undefined;
  const skiplock = params.skiplock;
  const deleteList = String(params.delete ?? "").split(/[,;\s]+/).filter(Boolean);
  const revert = String(params.revert ?? "").split(/[,;\s]+/).filter(Boolean);
  for (const k of ["node", "vmid", "digest", "delete", "revert", "skiplock", "force", "background_delay", "skip_cloud_init"]) delete params[k];
  const set: Conf = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
  if (skiplock && ctx.authid !== "root@pam") throw paramError({ skiplock: "Only root may use this option." });
  if (!deleteList.length && !revert.length && !Object.keys(set).length) throw die("no options specified");
  for (const key of deleteList) {
    if (set[key] !== undefined) throw paramError({ delete: `you can't use '-${key}' and -delete ${key}' at the same time` });
    if (revert.includes(key)) throw paramError({ revert: `you can't use '-delete ${key}' and -revert ${key}' at the same time` });
  }
  const current = currentDigest(g);
  if (g.type === "qemu") {
    if (digest && digest !== current) throw die("checksum mismatch (file change by other user?)");
    checkLock(g, skiplock);
  } else {
    checkLock(g, undefined);
    if (digest && digest !== current) throw die("detected modified configuration - file changed by other user? Try again.");
    for (const key of deleteList) {
      if (requiredLxc.has(key)) throw die(`unable to delete required option '${key}'`);
      if (key === "unprivileged") throw die(`unable to delete read-only option: '${key}'`);
    }
  }
  const seed = `${g.vmid}`;
  for (const [key, value] of Object.entries(set)) {
    if (/^net\d+$/.test(key)) set[key] = g.type === "qemu" ? normalizeQemuNet(value, seed + key) : normalizeLxcNet(value, seed + key);
  }
  allocateDisks(ctx.sim.state, g.type, g.node, g.vmid, set);
  for (const key of revert) if (g.pending) delete g.pending[key];
  const deletes = pendingDeletes(g);
  for (const key of deleteList) {
    if (g.config[key] === undefined && g.pending?.[key] === undefined) continue; // PVE warns "cannot delete '<key>' - not set in current configuration!"
    if (g.pending?.[key] !== undefined) delete g.pending[key];
    deletes.push(key);
  }
  setPendingDeletes(g, deletes.filter((k) => g.config[k] !== undefined));
  for (const [key, value] of Object.entries(set)) {
    g.pending ??= {};
    g.pending[key] = value;
    setPendingDeletes(g, pendingDeletes(g).filter((k) => k !== key));
  }
  applyPending(g, g.running);
  return [...deleteList, ...Object.keys(set)];
}

/** The config as GET .../config returns it: pending values applied unless `current` is set. */
export function effectiveConfig(g: SimGuest, current: boolean): Conf {
  if (current || !g.pending) return { ...g.config };
  const out: Conf = { ...g.config };
  for (const key of pendingDeletes(g)) delete out[key];
  for (const [k, v] of Object.entries(g.pending)) if (k !== "delete") out[k] = v;
  return out;
}

/** The SHA-1 of the whole config file, [PENDING] and snapshot sections included. */
export function currentDigest(g: SimGuest): string {
  const section = (conf: Conf): string =>
    Object.keys(conf)
      .sort()
      .map((k) => `${k}: ${conf[k]}\n`)
      .join("");
  let text = section(g.config);
  if (g.pending) text += `\n[PENDING]\n${section(g.pending)}`;
  for (const [name, snap] of Object.entries(g.snapshots ?? {})) text += `\n[${name}]\n${section(snap.config)}snaptime: ${snap.snaptime}\n`;
  return createHash("sha1").update(text).digest("hex");
}

/** GET .../pending: every key with its current value, its pending value and whether it is to be deleted. */
export function pendingList(g: SimGuest): Array<Record<string, unknown>> {
  const deletes = new Set(pendingDeletes(g));
  const out: Array<Record<string, unknown>> = [];
  for (const [key, value] of Object.entries({ ...g.config, digest: currentDigest(g) })) {
    const item: Record<string, unknown> = { key, value };
    if (g.pending?.[key] !== undefined) item.pending = g.pending[key];
    if (deletes.has(key)) item.delete = 1;
    out.push(item);
  }
  for (const [key, value] of Object.entries(g.pending ?? {})) {
    if (key === "delete" || g.config[key] !== undefined) continue;
    out.push({ key, pending: value });
  }
  return out;
}

/** Volumes a guest owns (current config, pending, snapshots), for destroy and migration. */
export function guestVolumes(g: SimGuest): string[] {
  const confs = [g.config, g.pending ?? {}, ...Object.values(g.snapshots ?? {}).map((s) => s.config)];
  const vols = new Set<string>();
  for (const conf of confs) {
    for (const [k, v] of Object.entries(conf)) {
      if (isDiskKey(g.type, k) && /^[^/:\s]+:/.test(volumeOf(v)) && !/^[^:]+:iso\//.test(volumeOf(v))) vols.add(volumeOf(v));
    }
  }
  return [...vols];
}
