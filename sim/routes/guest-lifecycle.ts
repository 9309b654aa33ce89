/**
 * Guest lifecycle handlers: create and restore, clone, template, destroy, migrate and console
 * proxies, after qemu-server PVE/API2/Qemu.pm, QemuMigrate.pm and pve-container PVE/API2/LXC.pm,
 * LXC/Migrate.pm, with the checks PVE makes before forking the worker (HTTP 500) and inside it
 * (failing the task).
 */
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import type { CallContext, Handler, RouteTable } from "../context.ts";
import { die, paramError } from "../errors.ts";
import { allocateDisks, checkLock, guestVolumes, loadGuest, normalizeLxcNet, normalizeQemuNet, randomMac, type Conf } from "../guest-config.ts";
import { poolsOf } from "../pools.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { findVolume, freeDiskName, isDiskKey, volumeOf } from "../storage-content.ts";
import { diskSize, epoch, findNode, isQuorate, localGuest, markStarted, markStopped, type GuestType, type SimGuest, type SimState } from "../state.ts";
import { TaskFailure } from "../tasks.ts";
import { forkWorker, formatSize, logTime } from "../workers.ts";

const label = (type: GuestType): string => (type === "qemu" ? "VM" : "CT");

/** PVE::Cluster::check_vmid_unused. */
function vmidUsedError(state: SimState, vmid: number): string | undefined {
  const g = state.guests.get(vmid);
  return g ? `${label(g.type)} ${vmid} already exists on node '${g.node}'` : undefined;
}

function requireQuorum(state: SimState): void {
  if (!isQuorate(state)) throw die("cluster not ready - no quorum?");
}

/** Config keys the create call passes through to the new guest (everything but the call's own options). */
const createOnly = new Set(["node", "vmid", "archive", "ostemplate", "restore", "force", "storage", "unique", "start", "pool", "bwlimit", "live-restore",
  "ha-managed", "import-working-storage", "password", "ssh-public-keys", "ignore-unpack-errors"]);

function passedConfig(params: Record<string, unknown>): Conf {
  return Object.fromEntries(Object.entries(params).filter(([k, v]) => !createOnly.has(k) && v !== undefined).map(([k, v]) => [k, String(v)]));
}

function newGuest(vmid: number, type: GuestType, node: string, config: Conf): SimGuest {
  return { vmid, type, node, running: false, paused: false, checkpointed: false, config, load: { cpu: 0.03, mem: 0.3, net: 2_000, disk: 5_000 } };
}

function addToPool(state: SimState, vmid: number, poolid: unknown): void {
  if (poolid === undefined) return;
  const pool = poolsOf(state).find((p) => p.poolid === String(poolid));
  if (pool && !pool.vmids.includes(vmid)) pool.vmids.push(vmid);
}

function checkPool(state: SimState, poolid: unknown): void {
  if (poolid !== undefined && !poolsOf(state).some((p) => p.poolid === String(poolid))) throw die(`pool '${poolid}' does not exist`);
}

/** Disk creation lines, as lvcreate prints them. */
function createdLines(config: Conf, type: GuestType): string[] {
  return Object.entries(config)
    .filter(([k, v]) => isDiskKey(type, k) && !/^unused/.test(k) && !/media=cdrom/.test(v))
    .map(([, v]) => `  Logical volume "${volumeOf(v).split(":")[1]}" created.`);
}

function qemuDefaults(config: Conf, vmid: number): void {
  const now = epoch();
  config.meta ??= `creation-qemu=9.2.0,ctime=${now}`;
  config.smbios1 ??= `uuid=${randomUUID()}`;
  config.vmgenid ??= randomUUID();
  if (!config.boot) {
    const disks = Object.keys(config).filter((k) => /^(scsi|virtio|sata|ide)\d+$/.test(k)).sort();
    const nets = Object.keys(config).filter((k) => /^net\d+$/.test(k)).sort();
    const order = [...disks, ...nets];
    if (order.length) config.boot = `order=${order.join(";")}`;
  }
  for (const [k, v] of Object.entries(config)) if (/^net\d+$/.test(k)) config[k] = normalizeQemuNet(v, `${vmid}${k}`);
}

/** Moves the volumes of a backup's config onto `storage` (or keeps their storage), allocating fresh names. */
function restoredConfig(state: SimState, type: GuestType, node: string, vmid: number, backup: Conf, storage: string | undefined, unique: boolean): Conf {
  const conf: Conf = {};
  for (const [k, v] of Object.entries(backup)) {
    if (k === "lock" || k === "parent" || /^unused\d+$/.test(k)) continue;
    if (isDiskKey(type, k) && !/media=cdrom/.test(v)) {
      const sid = storage ?? /^([^:]+):/.exec(v)?.[1] ?? "local-lvm";
      const size = diskSize(v) ?? 4 * 1024 ** 3;
      const gib = Math.max(1, Math.ceil(size / 1024 ** 3));
      conf[k] = [`${sid}:${gib}`, ...v.split(",").slice(1).filter((o) => !o.startsWith("size="))].join(",");
    } else if (isDiskKey(type, k) && /cloudinit/.test(v)) {
      conf[k] = `${storage ?? volumeOf(v).split(":")[0]}:cloudinit,media=cdrom`;
    } else conf[k] = v;
    if (unique && /^net\d+$/.test(k)) conf[k] = v.replace(/([0-9A-F]{2}:){5}[0-9A-F]{2}/i, randomMac(`${vmid}${k}`));
  }
  allocateDisks(state, type, node, vmid, conf);
  for (const [k, v] of Object.entries(conf)) {
    if (isDiskKey(type, k) && /size=(\d+)G/.test(v)) {
      const orig = backup[k];
      const size = orig ? diskSize(orig) : undefined;
      if (size) conf[k] = v.replace(/size=[^,]+/, `size=${formatSize(size)}`);
    }
  }
  return conf;
}

function restoreLog(archive: string, path: string, conf: Conf, type: GuestType): string[] {
  const disks = Object.entries(conf).filter(([k, v]) => isDiskKey(type, k) && !/media=cdrom/.test(v) && !/^unused/.test(k));
  if (type === "lxc") {
    return [`recovering backed-up configuration from '${archive}'`, ...createdLines(conf, type), `restoring '${archive}' now..`,
      "extracting archive", "Total bytes read: 1245880320 (1.2GiB, 96MiB/s)", "merging backed-up and given configuration.."];
  }
  const total = disks.reduce((s, [, v]) => s + (diskSize(v) ?? 0), 0);
  return [
    `restore vma archive: zstd -q -d -c ${path} | vma extract -v -r /var/tmp/vzdumptmp${randomInt(10_000, 99_999)}.fifo - /var/tmp/vzdumptmp`,
    "CFG: size: 612 name: qemu-server.conf",
    ...disks.map(([k, v], i) => `DEV: dev_id=${i + 1} size: ${diskSize(v) ?? 0} devname: drive-${k}`),
    ...createdLines(conf, type),
    ...disks.map(([, v]) => `new volume ID is '${volumeOf(v)}'`),
    ...[10, 35, 60, 85, 100].map((p) => `progress ${p}% (read ${Math.round((total * p) / 100)} bytes, duration ${Math.round(p / 4)} sec)`),
    `total bytes read ${total}, sparse bytes ${Math.round(total * 0.58)} (58%)`,
    "rescan volumes...",
  ];
}

/** POST /nodes/{node}/qemu (create_vm) and its restore mode (archive). */
function createQemu(ctx: CallContext): string {
  const { params, sim, node } = ctx;
  const state = sim.state;
  const vmid = Number(params.vmid);
  const archive = params.archive === undefined ? undefined : String(params.archive);
  const force = truthy(params.force);
  requireQuorum(state);
  checkPool(state, params.pool);
  const config = passedConfig(params);
  const emsg = archive ? `unable to restore VM ${vmid} -` : `unable to create VM ${vmid} -`;
  if (archive) {
    for (const k of Object.keys(config)) if (isDiskKey("qemu", k)) throw paramError({ [k]: "option conflicts with option 'archive'" });
    const vol = findVolume(state, archive, node.name);
    if (!vol) throw die(`can't find file '${archive}'`);
    if (vol.subtype !== "qemu" || !vol.config) throw die(`ERROR: couldn't determine archive info from '${archive}'`);
  } else {
    for (const [k, v] of Object.entries(config)) if (/^net\d+$/.test(k)) config[k] = normalizeQemuNet(v, `${vmid}${k}`);
  }
  const existing = state.guests.get(vmid);
  const used = vmidUsedError(state, vmid);
  if (used && !(archive && force && existing?.node === node.name && existing.type === "qemu")) throw die(`${emsg} ${used}`);
  if (existing) {
    if (existing.config.protection === "1") throw die(`${emsg} - protection mode enabled`);
    checkLock(existing);
  }
  const g = existing ?? newGuest(vmid, "qemu", node.name, {});
  const previous = { ...g.config };
  g.config.lock = "create";
  if (!existing) state.guests.set(vmid, g);
  let completed = false;
  const fail = (err: unknown): never => {
    if (!existing) state.guests.delete(vmid);
    throw err;
  };

  if (archive) {
    const vol = findVolume(state, archive, node.name)!;
    const storageId = params.storage === undefined ? undefined : String(params.storage);
    const path = `/mnt/pve/${vol.storage}/dump/${archive.split("/").pop()}`;
    const preview = { ...vol.config! };
    return forkWorker(ctx, "qmrestore", String(vmid), () => {
      try {
        if (g.running) throw die(`${emsg} vm is running`);
        const conf = restoredConfig(state, "qemu", node.name, vmid, vol.config!, storageId, truthy(params.unique));
        Object.assign(conf, passedConfig(params));
        g.config = conf;
        g.node = node.name;
        delete g.pending;
        delete g.snapshots;
        addToPool(state, vmid, params.pool);
        completed = true;
        const lines = existing ? Object.entries(previous).filter(([k]) => isDiskKey("qemu", k) && !/media=cdrom/.test(previous[k]))
          .map(([, v]) => `  Logical volume "${volumeOf(v).split(":")[1]}" successfully removed.`) : [];
        if (truthy(params.start)) {
          markStarted(g, epoch());
          lines.push("Execute autostart");
        }
        return lines;
      } catch (err) {
        g.config = previous;
        return fail(err);
      }
    }, { log: restoreLog(archive, path, preview, "qemu"), cleanup: () => {
      if (!completed && existing) g.config = previous;
      if (g.config.lock === "create") delete g.config.lock;
    } });
  }

  const storageId = params.storage === undefined ? undefined : String(params.storage);
  allocateDisks(state, "qemu", node.name, vmid, config, storageId);
  qemuDefaults(config, vmid);
  return forkWorker(ctx, "qmcreate", String(vmid), () => {
    g.config = { ...config };
    addToPool(state, vmid, params.pool);
    completed = true;
    const lines = createdLines(config, "qemu");
    if (truthy(params.start)) {
      markStarted(g, epoch());
      lines.push("Execute autostart");
    }
    return lines;
  }, { cleanup: () => {
    if (!completed) state.guests.delete(vmid);
  } });
}

function ostypeOf(template: string): string {
  const name = template.split("/").pop() ?? "";
  for (const os of ["debian", "ubuntu", "alpine", "centos", "fedora", "archlinux", "opensuse", "almalinux", "rockylinux", "devuan", "gentoo", "nixos"]) {
    if (name.startsWith(os)) return os;
  }
  return "unmanaged";
}

/** POST /nodes/{node}/lxc (create_vm) and its restore mode (ostemplate is the backup, restore=1). */
function createLxc(ctx: CallContext): string {
  const { params, sim, node } = ctx;
  const state = sim.state;
  const vmid = Number(params.vmid);
  const archive = String(params.ostemplate);
  const restore = truthy(params.restore);
  const force = truthy(params.force);
  requireQuorum(state);
  const existing = state.guests.get(vmid);
  if (!(existing && existing.node === node.name && existing.type === "lxc" && restore && force)) {
    const used = vmidUsedError(state, vmid);
    if (used) throw die(used);
  } else {
    if (existing.running) throw die("can't overwrite running container");
    if (existing.config.protection === "1") throw die(`unable to restore CT ${vmid} - protection mode enabled`);
  }
  checkPool(state, params.pool);
  const storageId = String(params.storage ?? "local");
  const config = passedConfig(params);
  const emsg = restore ? `unable to restore CT ${vmid} -` : `unable to create CT ${vmid} -`;
  const vol = findVolume(state, archive, node.name);
  if (!restore) {
    config.rootfs ??= `${storageId}:4`;
    allocateDisks(state, "lxc", node.name, vmid, config, storageId);
    for (const [k, v] of Object.entries(config)) if (/^net\d+$/.test(k)) config[k] = normalizeLxcNet(v, `${vmid}${k}`);
  }
  if (existing) checkLock(existing);
  const g = existing ?? newGuest(vmid, "lxc", node.name, {});
  const previous = { ...g.config };
  g.config.lock = "create";
  if (!existing) state.guests.set(vmid, g);
  let completed = false;
  const work = (): string[] => {
    if (!vol) throw die(`${emsg} can't find file '${archive}'`);
    if (restore && (vol.subtype !== "lxc" || !vol.config)) throw die(`${emsg} ERROR: couldn't determine archive info from '${archive}'`);
    let conf: Conf;
    if (restore) {
      conf = restoredConfig(state, "lxc", node.name, vmid, vol.config!, params.storage === undefined ? undefined : storageId, truthy(params.unique));
      Object.assign(conf, config);
    } else {
      conf = { arch: "amd64", ostype: ostypeOf(archive), hostname: `CT${vmid}`, memory: "512", swap: "512", unprivileged: "1", ...config };
      if (params.unprivileged !== undefined) conf.unprivileged = truthy(params.unprivileged) ? "1" : "0";
    }
    g.config = conf;
    delete g.pending;
    delete g.snapshots;
    addToPool(state, vmid, params.pool);
    completed = true;
    if (truthy(params.start)) markStarted(g, epoch());
    return restore ? [] : [...createdLines(conf, "lxc"), `extracting archive '/var/lib/vz/template/cache/${archive.split("/").pop()}'`,
      "Total bytes read: 534917120 (511MiB, 117MiB/s)", "Detected container architecture: amd64", "Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ..."];
  };
  return forkWorker(ctx, restore ? "vzrestore" : "vzcreate", String(vmid), work, {
    log: restore && vol?.config ? restoreLog(archive, "", vol.config, "lxc") : undefined,
    cleanup: () => {
      if (completed) {
        if (g.config.lock === "create") delete g.config.lock;
        return;
      }
      if (existing) g.config = previous;
      else state.guests.delete(vmid);
    },
  });
}

const cloneSkip = /^(parent|snaptime|vmstate|snapstate|runningcpu|runningmachine|running-nets-host-mtu|lock|template|unused\d+)$/;

/** POST .../clone: full copy, or a linked clone of a template's base volumes. */
function clone(type: GuestType): Handler {
  return (ctx) => {
    const { params, sim, node } = ctx;
    const state = sim.state;
    const vmid = Number(params.vmid);
    const newid = Number(params.newid);
    const snapname = params.snapname === undefined ? undefined : String(params.snapname);
    const storageId = params.storage === undefined ? undefined : String(params.storage);
    let target = params.target === undefined ? undefined : String(params.target);
    if (target === node.name || target === "localhost") target = undefined;
    checkPool(state, params.pool);
    if (target && !findNode(state, target)) throw die(`no such cluster node '${target}'`);
    const storage = storageId === undefined ? undefined : state.storages.find((s) => s.id === storageId);
    if (storageId !== undefined) {
      if (!storage) throw die(`storage '${storageId}' does not exist`);
      const content = type === "qemu" ? "images" : "rootdir";
      if (!storage.content.includes(content)) {
        if (type === "qemu") throw paramError({ storage: `storage '${storageId}' does not support vm images` });
        throw die(`storage '${storageId}' does not support container directories`);
      }
      if (target && !storage.shared) throw die(`can't clone to non-shared storage '${storageId}'`);
    }
    requireQuorum(state);
    const src = loadGuest(ctx, type);
    checkLock(src);
    if (snapname && !src.snapshots?.[snapname]) throw die(`snapshot '${snapname}' does not exist`);
    const isTemplate = src.config.template === "1";
    const full = params.full === undefined ? !isTemplate : truthy(params.full);
    if (storageId !== undefined && !full) throw die("parameter 'storage' not allowed for linked clones");
    if (params.format !== undefined && !full) throw die("parameter 'format' not allowed for linked clones");
    if (type === "lxc" && full && src.running && !snapname) {
      throw die("Full clone of a running container is only possible from a snapshot, use the 'snapname' parameter");
    }
    const old = snapname ? src.snapshots![snapname].config : src.config;
    // Data disks and cloud-init drives get new volumes; CD-ROMs are copied as they are.
    const disks = Object.entries(old).filter(([k, v]) => isDiskKey(type, k) && !/^unused/.test(k) && (!/media=cdrom/.test(v) || /cloudinit/.test(v)));
    const local = disks.some(([, v]) => !state.storages.find((s) => s.id === volumeOf(v).split(":")[0])?.shared);
    if (target && (storage ? !storage.shared : local)) throw die(`can't clone ${label(type)} to node '${target}' (${label(type)} uses local storage)`);
    for (const [k, v] of disks) {
      const volid = volumeOf(v);
      const isBase = /:base-\d+-/.test(volid);
      if (!full && !isBase && !/cloudinit/.test(volid)) {
        throw die(type === "qemu" ? `Linked clone feature is not supported for '${volid}' (${k})` : `Linked clone feature for '${volid}' is not available`);
      }
    }
    const used = vmidUsedError(state, newid);
    if (used) throw die(type === "qemu" ? `unable to create VM ${newid}: config file already exists` : used);

    const placeholder = newGuest(newid, type, node.name, { lock: "clone" });
    state.guests.set(newid, placeholder);
    const cloneLines: string[] = [`create ${full ? "full" : "linked"} clone of drive${type === "lxc" ? "" : "s"} of ${label(type)} ${vmid} with ID ${newid}`];
    for (const [k, v] of disks) {
      const size = diskSize(v) ?? 0;
      const copy = full || /cloudinit/.test(v);
      cloneLines.push(`create ${copy ? "full" : "linked"} clone of drive ${k} (${volumeOf(v)})`);
      if (copy && size) for (const f of [0.25, 0.5, 0.75, 1]) cloneLines.push(`transferred ${formatSize(Math.round(size * f))} of ${formatSize(size)} (${(f * 100).toFixed(2)}%)`);
    }
    let completed = false;
    const upid = forkWorker(ctx, type === "qemu" ? "qmclone" : "vzclone", String(vmid), () => {
      const conf: Conf = {};
      for (const [k, v] of Object.entries(old)) {
        if (cloneSkip.test(k)) continue;
        if (/^net\d+$/.test(k)) conf[k] = type === "qemu" ? normalizeQemuNet(v.replace(/=([0-9A-F]{2}:){5}[0-9A-F]{2}/i, ""), `${newid}${k}`) : v.replace(/hwaddr=[^,]+/, `hwaddr=${randomMac(`${newid}${k}`)}`);
        else conf[k] = v;
      }
      const lines: string[] = [];
      for (const [k, v] of disks) {
        const volid = volumeOf(v);
        if (/cloudinit/.test(volid)) {
          conf[k] = [`${storageId ?? volid.split(":")[0]}:vm-${newid}-cloudinit`, ...v.split(",").slice(1)].join(",");
          continue;
        }
        const sid = storageId ?? volid.split(":")[0];
        const dest = state.storages.find((s) => s.id === sid)!;
        const newVolid = freeDiskName(state, dest, target ?? node.name, newid);
        conf[k] = [newVolid, ...v.split(",").slice(1)].join(",");
        lines.push(`  Logical volume "${newVolid.split(":")[1]}" created.`);
      }
      if (type === "qemu") {
        conf.name = params.name === undefined ? `Copy-of-VM-${old.name ?? vmid}` : String(params.name);
        conf.smbios1 = (conf.smbios1 ?? "").replace(/uuid=[^,]+/, `uuid=${randomUUID()}`) || `uuid=${randomUUID()}`;
        if (conf.vmgenid) conf.vmgenid = randomUUID();
      } else if (params.hostname !== undefined) conf.hostname = String(params.hostname);
      if (params.description !== undefined) conf.description = String(params.description);
      placeholder.config = conf;
      placeholder.node = target ?? node.name;
      addToPool(state, newid, params.pool);
      completed = true;
      return lines;
    }, { log: cloneLines, cleanup: () => {
        if (!completed) state.guests.delete(newid);
      } });
    return upid;
  };
}

/** POST .../template: the guest's disks become read-only base volumes; no way back. */
function template(type: GuestType): Handler {
  return (ctx) => {
    const g = loadGuest(ctx, type);
    const check = (): void => {
      checkLock(g);
      if (g.snapshots && Object.keys(g.snapshots).length) throw die(`unable to create template, because ${label(type)} contains snapshots`);
      if (g.config.template === "1" && !ctx.params.disk) throw die("you can't convert a template to a template");
      if (g.running) throw die(type === "qemu" ? "you can't convert a VM to template if VM is running" : "you can't convert a CT to template if the CT is running");
    };
    check();
    const upid = forkWorker(ctx, type === "qemu" ? "qmtemplate" : "vztemplate", String(g.vmid), () => {
      check();
      const lines: string[] = [];
      for (const [k, v] of Object.entries(g.config)) {
        if (!isDiskKey(type, k) || /^unused/.test(k) || /media=cdrom/.test(v) || (ctx.params.disk && ctx.params.disk !== k)) continue;
        const renamed = v.replace(/:vm-(\d+)-disk-/, ":base-$1-disk-");
        if (renamed !== v) lines.push(`  Renamed "${volumeOf(v).split(":")[1]}" to "${volumeOf(renamed).split(":")[1]}" in volume group "pve"`);
        g.config[k] = renamed;
      }
      g.config.template = "1";
      return lines;
    });
    return type === "qemu" ? upid : null;
  };
}

/** DELETE .../{vmid}: destroys the guest and its disks; purge also drops it from backup jobs. */
function destroy(type: GuestType): Handler {
  return (ctx) => {
    const { params, sim } = ctx;
    const vmid = Number(params.vmid);
    if (truthy(params.skiplock) && ctx.authid !== "root@pam") throw paramError({ skiplock: "Only root may use this option." });
    const g = loadGuest(ctx, type);
    const early = (): void => {
      if (g.config.protection === "1") throw die(`can't remove ${label(type)} ${vmid} - protection mode enabled`);
      if (type === "lxc") checkLock(g);
      if (type === "qemu" && g.running) throw die(`VM ${vmid} is running - destroy failed`);
    };
    early();
    if (type === "lxc" && g.running && !truthy(params.force)) throw die(`unable to destroy CT ${vmid} - container is running`);
    return forkWorker(ctx, type === "qemu" ? "qmdestroy" : "vzdestroy", String(vmid), () => {
      early();
      if (type === "qemu") checkLock(g, params.skiplock);
      const lines: string[] = [];
      if (type === "lxc" && g.running) {
        lines.push(`WARN: forced to stop CT ${vmid} before destroying!`);
        markStopped(g);
      }
      for (const volid of guestVolumes(g)) lines.push(`  Logical volume "${volid.split(":")[1]}" successfully removed.`);
      sim.state.guests.delete(vmid);
      // remove_vm_access: a destroyed guest leaves its pool.
      for (const pool of poolsOf(sim.state)) pool.vmids = pool.vmids.filter((v) => v !== vmid);
      if (truthy(params.purge)) {
        lines.push(`purging ${label(type)} ${vmid} from related configurations..`);
        for (const job of sim.state.backupJobs) {
          if (!job.vmid) continue;
          const rest = job.vmid.split(",").filter((v) => v !== String(vmid));
          job.vmid = rest.join(",");
        }
      }
      return lines;
    });
  };
}

/** POST .../migrate: offline, online (running VM) or restart mode (running container). */
function migrate(type: GuestType): Handler {
  return (ctx) => {
    const { params, sim, node } = ctx;
    const state = sim.state;
    const target = String(params.target);
    if (target === node.name) throw paramError({ target: "target is local node." });
    requireQuorum(state);
    const targetNode = findNode(state, target);
    if (!targetNode) throw die(`no such cluster node '${target}'`);
    for (const p of ["force", "migration_type", "migration_network"]) {
      if (type === "qemu" && truthy(params[p]) && ctx.authid !== "root@pam") throw paramError({ [p]: "Only root may use this option." });
    }
    const g = loadGuest(ctx, type);
    const online = truthy(params.online);
    const restart = truthy(params.restart);
    if (type === "qemu") {
      checkLock(g);
      if (g.running && !online) throw die("can't migrate running VM without --online");
    } else if (g.running && !online && !restart) {
      throw die("can't migrate running container without --online or --restart");
    }
    const running = g.running;
    const t = (): string => logTime();
    const who = `${label(type)} ${g.vmid}`;
    const disks = guestVolumes(g);
    const attached = new Set(Object.entries(g.config).filter(([k]) => isDiskKey(type, k) && !/^unused/.test(k)).map(([, v]) => volumeOf(v)));
    const localDisks = disks.filter((v) => !state.storages.find((s) => s.id === v.split(":")[0])?.shared);
    const started = Date.now();
    const duration = (): string => {
      const s = Math.max(1, Math.round((Date.now() - started) / 1000));
      return `00:00:${String(s).padStart(2, "0")}`;
    };

    const prepareError = ((): string | undefined => {
      if (type === "lxc" && running && online) return "lxc live migration is currently not implemented";
      if (type === "lxc" && running && !restart) return "running container can only be migrated in restart mode";
      if (!targetNode.online) return "Can't connect to destination address using public key authentication";
      return undefined;
    })();
    const diskErrors = type === "qemu" && running && !truthy(params["with-local-disks"])
      ? localDisks.filter((v) => attached.has(v)).map((v) => `can't migrate local disk '${v}': can't live migrate attached local disks without with-local-disks option`)
      : [];

    const log: string[] = [];
    if (type === "lxc" && running && restart && !prepareError) log.push(`${t()} shutdown CT ${g.vmid}`);
    log.push(`${t()} starting migration of ${who} to node '${target}' (${targetNode.ip})`);
    for (const v of localDisks) log.push(`${t()} found local disk '${v}' (${attached.has(v) ? "attached" : "unused"})`);
    if (!prepareError && !diskErrors.length) {
      if (type === "qemu" && running) {
        log.push(`${t()} starting VM ${g.vmid} on remote node '${target}'`, `${t()} start remote tunnel`, `${t()} starting storage migration`);
        for (const v of localDisks.filter((x) => attached.has(x))) {
          const size = Object.values(g.config).map((x) => (volumeOf(x) === v ? diskSize(x) : undefined)).find((x) => x) ?? 0;
          for (const f of [0.3, 0.7, 1]) log.push(`${t()} drive-${Object.keys(g.config).find((k) => volumeOf(g.config[k]) === v)}: transferred ${formatSize(Math.round(size * f))} of ${formatSize(size)} (${(f * 100).toFixed(2)}%) in ${Math.round(f * 10)}s`);
        }
        log.push(`${t()} starting online/live migration on unix:/run/qemu-server/${g.vmid}.migrate`, `${t()} migration active, transferred 1.2 GiB of 4.0 GiB VM-state, 1.1 GiB/s`,
          `${t()} average migration speed: 1.9 GiB/s - downtime 41 ms`, `${t()} migration status: completed`);
      } else {
        if (localDisks.length) log.push(`${t()} copying local disk images`);
        for (const v of localDisks) log.push(`${t()} volume '${v}' is '${v}' on the target`);
        if (type === "lxc" && running) log.push(`${t()} start container on target node`);
      }
    }

    return forkWorker(ctx, type === "qemu" ? "qmigrate" : "vzmigrate", String(g.vmid), () => {
      if (diskErrors.length) {
        const lines = diskErrors.map((e) => `${t()} ERROR: ${e}`);
        throw new TaskFailure("migration aborted", [...lines, `${t()} ERROR: migration aborted (duration ${duration()}): can't migrate VM - check log`]);
      }
      if (prepareError) throw new TaskFailure("migration aborted", [`${t()} ERROR: migration aborted (duration ${duration()}): ${prepareError}`]);
      g.node = target;
      if (type === "lxc" && running) markStarted(g, epoch());
      return [`${t()} migration finished successfully (duration ${duration()})`];
    }, { log, locks: [{ guest: g, lock: "migrate" }] });
  };
}

/** PVE::AccessControl::assemble_vnc_ticket: "PVEVNC:<hex time>::<signature>", signed over user, path and port. */
function vncTicket(): string {
  const hex = Math.floor(Date.now() / 1000).toString(16).toUpperCase();
  return `PVEVNC:${hex}::${randomBytes(192).toString("base64")}`;
}

const simCa = "-----BEGIN CERTIFICATE-----\nMIIFsimulatedPVEclusterCA\n-----END CERTIFICATE-----\n";

/** POST .../vncproxy and .../termproxy: a one-time ticket and the port of a proxy waiting 10 s for its client. */
function consoleProxy(type: GuestType, kind: "vnc" | "term"): Handler {
  return (ctx) => {
    // No proxyto: the node receiving the call runs the proxy and reaches the guest's node over SSH.
    const vmid = Number(ctx.params.vmid);
    const g = localGuest(ctx.sim.state, String(ctx.params.node), type, vmid);
    if (!g) throw die(`Configuration file 'nodes/${ctx.params.node}/${type === "qemu" ? "qemu-server" : "lxc"}/${vmid}.conf' does not exist`);
    if (kind === "term" && type === "lxc" && !g.running) throw die(`CT ${g.vmid} not running`);
    if (kind === "term" && type === "qemu" && !g.running) throw die(`VM ${g.vmid} not running`);
    const port = 5900 + randomInt(0, 100);
    const user = ctx.authid ?? "root@pam";
    const ticket = vncTicket();
    const upid = forkWorker(ctx, "vncproxy", String(g.vmid), () => {
      throw die("connection timed out");
    });
    if (kind === "term") return { user, ticket, port, upid };
    const password = randomBytes(6).toString("base64url").slice(0, 8);
    return { user, ticket: `${password}:${ticket}`, password, cert: simCa, port, upid };
  };
}

export const guestLifecycleRoutes: RouteTable = {
  "POST /nodes/{node}/qemu": createQemu,
  "POST /nodes/{node}/lxc": createLxc,
  "POST /nodes/{node}/qemu/{vmid}/clone": clone("qemu"),
  "POST /nodes/{node}/lxc/{vmid}/clone": clone("lxc"),
  "POST /nodes/{node}/qemu/{vmid}/template": template("qemu"),
  "POST /nodes/{node}/lxc/{vmid}/template": template("lxc"),
  "DELETE /nodes/{node}/qemu/{vmid}": destroy("qemu"),
  "DELETE /nodes/{node}/lxc/{vmid}": destroy("lxc"),
  "POST /nodes/{node}/qemu/{vmid}/migrate": migrate("qemu"),
  "POST /nodes/{node}/lxc/{vmid}/migrate": migrate("lxc"),
  "POST /nodes/{node}/qemu/{vmid}/vncproxy": consoleProxy("qemu", "vnc"),
  "POST /nodes/{node}/lxc/{vmid}/vncproxy": consoleProxy("lxc", "vnc"),
  "POST /nodes/{node}/qemu/{vmid}/termproxy": consoleProxy("qemu", "term"),
  "POST /nodes/{node}/lxc/{vmid}/termproxy": consoleProxy("lxc", "term"),
};

