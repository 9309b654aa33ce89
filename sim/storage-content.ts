/**
 * What the simulated storages hold, after pve-storage (Plugin.pm list_volumes / parse_volname,
 * LvmThinPlugin.pm list_images, API2/Storage/Content.pm). Files (ISO images, container templates,
 * backups) are kept as explicit volumes; guest disks (images, rootdir) are derived from the guest
 * configs, as LVM-thin lists the logical volumes the guests' disks are.
 */
import { createHash } from "node:crypto";
import type { GuestType, SimGuest, SimState, SimStorage } from "./state.ts";

export type FileContent = "iso" | "vztmpl" | "backup" | "snippets" | "import";

export interface SimVolume {
  volid: string;
  storage: string;
  /** The node whose local storage holds it; undefined on a shared storage. */
  node?: string;
  content: FileContent;
  format: string;
  size: number;
  /** Epoch seconds. */
  ctime: number;
  /** Owner guest (backups). */
  vmid?: number;
  /** Guest type of a backup. */
  subtype?: GuestType;
  notes?: string;
  protected?: boolean;
  /** The guest config a backup holds (the archive's qemu-server.conf / pct.conf), for restores. */
  config?: Record<string, string>;
}

/** One entry of GET .../storage/{storage}/content. */
export interface ContentEntry {
  volid: string;
  content: string;
  format: string;
  size: number;
  ctime?: number;
  vmid?: number;
  subtype?: string;
  notes?: string;
  protected?: number;
  parent?: string;
  used?: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** vzdump's archive timestamp, strftime("%Y_%m_%d-%H_%M_%S") (the simulated nodes run on UTC). */
export function dumpTimestamp(epochSec: number): string {
  const d = new Date(epochSec * 1000);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}-${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
}

/** The archive name vzdump writes: vzdump-qemu-100-2026_11_23-10_00_00.vma.zst or vzdump-lxc-200-....tar.zst. */
export function backupVolid(storage: string, type: GuestType, vmid: number, ctime: number, compress = "zstd"): { volid: string; format: string } {
  const ext = { zstd: ".zst", lzo: ".lzo", "1": ".lzo", gzip: ".gz", "0": "" }[compress] ?? ".zst";
  const base = type === "qemu" ? "vma" : "tar";
  return { volid: `${storage}:backup/vzdump-${type}-${vmid}-${dumpTimestamp(ctime)}.${base}${ext}`, format: `${base}${ext}` };
}

/** A size that looks like a compressed image of `bytes` of disks, stable per name. */
function compressedSize(name: string, bytes: number): number {
  const spread = parseInt(createHash("sha1").update(name).digest("hex").slice(0, 4), 16) / 0xffff;
  return Math.round(bytes * (0.18 + 0.12 * spread));
}

function backup(storage: string, g: SimGuest, ctime: number, notes: string, isProtected = false): SimVolume {
  const { volid, format } = backupVolid(storage, g.type, g.vmid, ctime);
  const disks = guestDiskBytes(g.config);
  return { volid, storage, content: "backup", format, size: compressedSize(volid, disks), ctime, vmid: g.vmid, subtype: g.type, notes, config: { ...g.config },
    ...(isProtected ? { protected: true } : {}) };
}

/** The seeded files: ISO images and templates on each node's `local`, nightly backups on the shared `backup` NFS storage. */
export function seedVolumes(now: number, guests: Map<number, SimGuest>): SimVolume[] {
  const nightly = (daysAgo: number, minute: number): number => {
    const midnight = Math.floor(now / 86400) * 86400;
    return midnight - daysAgo * 86400 + 2 * 3600 + minute * 60 + 3;
  };
  const vols: SimVolume[] = [
    { volid: "local:iso/debian-12.8.0-amd64-netinst.iso", storage: "local", node: "pve1", content: "iso", format: "iso", size: 663_748_608, ctime: now - 86400 * 90 },
    { volid: "local:iso/ubuntu-24.04.1-live-server-amd64.iso", storage: "local", node: "pve1", content: "iso", format: "iso", size: 2_773_874_688, ctime: now - 86400 * 60 },
    { volid: "local:iso/virtio-win-0.1.262.iso", storage: "local", node: "pve3", content: "iso", format: "iso", size: 708_315_136, ctime: now - 86400 * 45 },
  ];
  for (const node of ["pve1", "pve2", "pve3"]) {
    vols.push({ volid: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", storage: "local", node, content: "vztmpl", format: "tzst", size: 126_458_112, ctime: now - 86400 * 120 });
  }
  vols.push({ volid: "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz", storage: "local", node: "pve2", content: "vztmpl", format: "txz", size: 3_124_876, ctime: now - 86400 * 80 });
  const backed: Array<[number, number]> = [[100, 0], [101, 2], [102, 4], [200, 6], [201, 7], [203, 8]];
  for (const daysAgo of [1, 2, 3]) {
    for (const [vmid, minute] of backed) {
      const g = guests.get(vmid);
      if (g) vols.push(backup("backup", g, nightly(daysAgo, minute), `${g.config.name ?? g.config.hostname}`, vmid === 100 && daysAgo === 3));
    }
  }
  const web = guests.get(100);
  if (web) vols.push({ ...backup("local", web, now - 86400 * 10, "before upgrade"), node: "pve1" });
  return vols;
}

/** Disk keys of a guest config: qemu drives, LXC rootfs and mount points, unused volumes. */
export function isDiskKey(type: GuestType, key: string): boolean {
  if (/^unused\d+$/.test(key)) return true;
  if (type === "lxc") return key === "rootfs" || /^mp\d+$/.test(key);
  return /^(ide|sata|scsi|virtio)\d+$/.test(key) || key === "efidisk0" || key === "tpmstate0";
}

/** The volume of a disk value ("local-lvm:vm-100-disk-0,size=32G" -> "local-lvm:vm-100-disk-0"). */
export function volumeOf(value: string): string {
  return value.split(",")[0].replace(/^volume=/, "");
}

const sizeRe = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT])?(?:,|$)/;

function bytesOf(value: string): number {
  const m = sizeRe.exec(value);
  if (!m) return 0;
  return Math.round(Number(m[1]) * 1024 ** ({ K: 1, M: 2, G: 3, T: 4 }[(m[2] ?? "") as "K"] ?? 0));
}

/** Bytes of all disks of a config (CD-ROMs and cloud-init drives excluded). */
export function guestDiskBytes(config: Record<string, string>): number {
  return Object.entries(config)
    .filter(([k, v]) => (isDiskKey("qemu", k) || isDiskKey("lxc", k)) && !/media=cdrom/.test(v))
    .reduce((sum, [, v]) => sum + bytesOf(v), 0);
}

/** Guest disks (qemu `images`, container `rootdir`) on one storage as seen from `node`, from the configs. */
function guestVolumes(state: SimState, storage: SimStorage, node: string): ContentEntry[] {
  const out = new Map<string, ContentEntry>();
  for (const g of state.guests.values()) {
    if (!storage.shared && g.node !== node) continue;
    const configs = [g.config, g.pending ?? {}, ...Object.values(g.snapshots ?? {}).map((s) => s.config)];
    for (const conf of configs) {
      for (const [key, value] of Object.entries(conf)) {
        if (!isDiskKey(g.type, key)) continue;
        const volid = volumeOf(value);
        if (!volid.startsWith(`${storage.id}:`) || out.has(volid)) continue;
        const name = volid.slice(storage.id.length + 1);
        const owner = /^(?:\d+\/)?(?:vm|base)-(\d+)-/.exec(name);
        const content = g.type === "lxc" && !name.includes("cloudinit") ? "rootdir" : "images";
        const size = /cloudinit/.test(name) ? 4 * MiB : bytesOf(value);
        const entry: ContentEntry = { volid, content, format: storage.type === "lvmthin" ? "raw" : "qcow2", size, vmid: owner ? Number(owner[1]) : g.vmid };
        if (storage.type === "lvmthin") entry.ctime = g.config.meta ? Number(/ctime=(\d+)/.exec(g.config.meta)?.[1] ?? 0) || undefined : undefined;
        if (entry.ctime === undefined) delete entry.ctime;
        out.set(volid, entry);
      }
    }
  }
  return [...out.values()];
}

/** Content of a storage on a node, as PVE::Storage::template_list + vdisk_list combine it, sorted by volid. */
export function listContent(state: SimState, storage: SimStorage, node: string, filter: { content?: string[]; vmid?: number } = {}): ContentEntry[] {
  const files: ContentEntry[] = state.volumes
    .filter((v) => v.storage === storage.id && (storage.shared || v.node === node))
    .map((v) => {
      const e: ContentEntry = { volid: v.volid, content: v.content, format: v.format, size: v.size, ctime: v.ctime };
      if (v.vmid !== undefined) e.vmid = v.vmid;
      if (v.subtype) e.subtype = v.subtype;
      if (v.notes !== undefined) e.notes = v.notes.split("\n")[0];
      if (v.content === "backup") e.protected = v.protected ? 1 : 0;
      return e;
    });
  const all = [...files, ...(storage.content.some((c) => c === "images" || c === "rootdir") ? guestVolumes(state, storage, node) : [])];
  return all
    .filter((e) => !filter.content || filter.content.includes(e.content))
    .filter((e) => filter.vmid === undefined || e.vmid === filter.vmid)
    .sort((a, b) => (a.volid < b.volid ? -1 : a.volid > b.volid ? 1 : 0));
}

/** A file volume by volid as `node` sees it. */
export function findVolume(state: SimState, volid: string, node: string): SimVolume | undefined {
  return state.volumes.find((v) => v.volid === volid && (v.node === undefined || v.node === node));
}

/** The filesystem path PVE::Storage::path gives a volume. */
export function volumePath(storage: SimStorage, volname: string): string {
  if (storage.type === "lvmthin") return `/dev/${storage.options.vgname ?? "pve"}/${volname}`;
  const base = storage.options.path ?? `/mnt/pve/${storage.id}`;
  const [kind, ...rest] = volname.split("/");
  const dir = { iso: "template/iso", vztmpl: "template/cache", backup: "dump", snippets: "snippets", import: "import" }[kind];
  return dir ? `${base}/${dir}/${rest.join("/")}` : `${base}/images/${volname}`;
}

/** Next free disk name on a storage for a guest: vm-<vmid>-disk-<n> (PVE::Storage::Plugin::find_free_diskname). */
export function freeDiskName(state: SimState, storage: SimStorage, node: string, vmid: number, prefix = "vm"): string {
  const used = new Set(listContent(state, storage, node).map((e) => e.volid));
  for (const g of state.guests.values()) for (const v of Object.values(g.config)) used.add(volumeOf(v));
  for (let n = 0; ; n++) {
    const volid = `${storage.id}:${prefix}-${vmid}-disk-${n}`;
    if (!used.has(volid)) return volid;
  }
}

export const sizes = { GiB, MiB };
