/**
 * The mutable model of the simulated cluster "sim": three nodes, their guests and storages. Tests
 * read it directly (Simulator.state); handlers read and change it. Guest configs are kept as the text
 * values of /etc/pve/nodes/<node>/{qemu-server,lxc}/<vmid>.conf lines.
 *
 * Seeded guests:
 *
 *   vmid  type  node  state     name
 *   100   qemu  pve1  running   web01
 *   101   qemu  pve1  stopped   db01
 *   105   qemu  pve1  stopped   staging01
 *   9000  qemu  pve1  template  debian12-tmpl
 *   200   lxc   pve1  running   dns01
 *   102   qemu  pve2  running   app01
 *   201   lxc   pve2  running   proxy01
 *   203   lxc   pve2  running   monitor01
 *   104   qemu  pve3  running   win11-desk
 *   202   lxc   pve3  stopped   build01
 */
import { createHash, randomBytes } from "node:crypto";
import { seedBackupJobs, type SimBackupJob } from "./backups.ts";
import type { SimSnapshot } from "./snapshots.ts";
import { seedVolumes, type SimVolume } from "./storage-content.ts";

export type GuestType = "qemu" | "lxc";

export interface SimNode {
  name: string;
  nodeid: number;
  ip: string;
  /** False while the node is unreachable (setNodeOnline); the simulator itself always answers as pve1. */
  online: boolean;
  cpuModel: string;
  sockets: number;
  cores: number;
  /** Logical CPUs (threads). */
  cpus: number;
  mhz: string;
  memTotal: number;
  /** Memory the host uses without any guest. */
  baseMemUsed: number;
  swapTotal: number;
  rootfsTotal: number;
  rootfsUsed: number;
  /** Epoch seconds. */
  bootTime: number;
  /** CPU fraction the host uses without any guest. */
  baseCpu: number;
  sslFingerprint: string;
  /** systemd units started or stopped through the API since the seed: true while running (sim/host.ts). */
  services: Map<string, boolean>;
}

/** Constant activity of a running guest, from which the counters are derived. */
export interface GuestLoad {
  /** Fraction of the guest's CPUs in use. */
  cpu: number;
  /** Fraction of its memory in use. */
  mem: number;
  /** Bytes per second received; sent is a fixed share of it. */
  net: number;
  /** Bytes per second read from disk; written is a fixed share of it. */
  disk: number;
}

export interface SimGuest {
  vmid: number;
  type: GuestType;
  node: string;
  running: boolean;
  /** QEMU only: paused by the suspend call (qmpstatus 'paused'). */
  paused: boolean;
  /** LXC only: checkpointed by the suspend call, so resume can restore it. */
  checkpointed: boolean;
  /** Epoch seconds of the last start, while running. */
  startedAt?: number;
  pid?: number;
  config: Record<string, string>;
  load: GuestLoad;
  /** The [PENDING] section: changes that apply at the next start; `delete` lists keys to remove. */
  pending?: Record<string, string>;
  /** Snapshot sections of the config file, by name. */
  snapshots?: Record<string, SimSnapshot>;
  /** Test hook: the guest OS ignores ACPI shutdown requests, so a shutdown runs into its timeout. */
  ignoresShutdown?: boolean;
}

export interface SimStorage {
  id: string;
  type: "dir" | "lvmthin" | "nfs";
  content: string[];
  shared: boolean;
  /** Remaining storage.cfg lines, for realism. */
  options: Record<string, string>;
  /** Bytes per node (or of the share). */
  total: number;
  /** Bytes used besides guest disks. */
  baseUsed: number;
}

export interface SimState {
  clusterName: string;
  /** corosync config_version */
  configVersion: number;
  /** The node that answers the API; calls for other nodes are proxied as pveproxy does. */
  localNode: string;
  nodes: SimNode[];
  /** Keyed by vmid, which PVE keeps unique across the cluster and guest types. */
  guests: Map<number, SimGuest>;
  storages: SimStorage[];
  /** Files on the storages (ISO images, templates, backups); guest disks are derived from the configs. */
  volumes: SimVolume[];
  /** Scheduled backup jobs (/etc/pve/jobs.cfg vzdump sections). */
  backupJobs: SimBackupJob[];
}

/** Epoch seconds, the unit of every PVE time field. */
export function epoch(): number {
  return Math.floor(Date.now() / 1000);
}

const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

function fakeFingerprint(): string {
  return [...randomBytes(32)].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/** Stable pseudo-identifiers (smbios uuid, vmgenid, MAC) so a seed looks the same on every run. */
function derived(vmid: number, what: string, length: number): string {
  return createHash("sha256").update(`${vmid}:${what}`).digest("hex").slice(0, length);
}

function uuid(vmid: number, what: string): string {
  const h = derived(vmid, what, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function mac(vmid: number, nic: number): string {
  const h = derived(vmid, `mac${nic}`, 6).toUpperCase();
  return `BC:24:11:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}

function node(name: string, nodeid: number, now: number, big: boolean): SimNode {
  return {
    name,
    nodeid,
    ip: `10.0.0.${10 + nodeid}`,
    online: true,
    cpuModel: big ? "AMD EPYC 7313P 16-Core Processor" : "Intel(R) Xeon(R) E-2288G CPU @ 3.70GHz",
    sockets: 1,
    cores: big ? 16 : 8,
    cpus: big ? 32 : 16,
    mhz: big ? "2999.998" : "3700.000",
    memTotal: (big ? 128 : 64) * GiB,
    baseMemUsed: Math.round(3.1 * GiB),
    swapTotal: 8 * GiB,
    rootfsTotal: Math.round(94.3 * GiB),
    rootfsUsed: Math.round((11.2 + nodeid) * GiB),
    bootTime: now - 86400 * (30 + 7 * nodeid) - 3600 * nodeid,
    baseCpu: 0.012 * nodeid,
    sslFingerprint: fakeFingerprint(),
    services: new Map(),
  };
}

interface QemuSeed {
  vmid: number;
  node: string;
  name: string;
  running: boolean;
  cores: number;
  memory: number;
  disk: string;
  extra?: Record<string, string>;
  load?: GuestLoad;
}

function qemu(seed: QemuSeed, now: number): SimGuest {
  const { vmid } = seed;
  const config: Record<string, string> = {
    boot: "order=scsi0;ide2;net0",
    cores: String(seed.cores),
    cpu: "x86-64-v2-AES",
    ide2: "none,media=cdrom",
    memory: String(seed.memory),
    meta: `creation-qemu=9.2.0,ctime=${now - 86400 * 200 - vmid * 3600}`,
    name: seed.name,
    net0: `virtio=${mac(vmid, 0)},bridge=vmbr0,firewall=1`,
    numa: "0",
    ostype: "l26",
    scsi0: `local-lvm:vm-${vmid}-disk-0,iothread=1,size=${seed.disk}`,
    scsihw: "virtio-scsi-single",
    smbios1: `uuid=${uuid(vmid, "smbios")}`,
    sockets: "1",
    vmgenid: uuid(vmid, "vmgenid"),
    ...seed.extra,
  };
  return guest(vmid, "qemu", seed.node, seed.running, config, seed.load, now);
}

interface LxcSeed {
  vmid: number;
  node: string;
  hostname: string;
  running: boolean;
  cores: number;
  memory: number;
  disk: string;
  ostype: string;
  ip: string;
  extra?: Record<string, string>;
  load?: GuestLoad;
}

function lxc(seed: LxcSeed, now: number): SimGuest {
  const { vmid } = seed;
  const config: Record<string, string> = {
    arch: "amd64",
    cores: String(seed.cores),
    features: "nesting=1",
    hostname: seed.hostname,
    memory: String(seed.memory),
    net0: `name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=${mac(vmid, 0)},ip=${seed.ip},type=veth`,
    onboot: "1",
    ostype: seed.ostype,
    rootfs: `local-lvm:vm-${vmid}-disk-0,size=${seed.disk}`,
    swap: "512",
    unprivileged: "1",
    ...seed.extra,
  };
  return guest(vmid, "lxc", seed.node, seed.running, config, seed.load, now);
}

const idle: GuestLoad = { cpu: 0.02, mem: 0.35, net: 1200, disk: 4000 };

function guest(vmid: number, type: GuestType, nodeName: string, running: boolean, config: Record<string, string>, load: GuestLoad | undefined, now: number): SimGuest {
  const g: SimGuest = { vmid, type, node: nodeName, running: false, paused: false, checkpointed: false, config, load: load ?? idle };
  if (running) markStarted(g, now - 86400 * 12 - vmid * 37);
  return g;
}

/** Puts a guest in the running state as of `at` (epoch seconds), with a fresh process id. */
export function markStarted(g: SimGuest, at: number): void {
  g.running = true;
  g.paused = false;
  g.startedAt = at;
  g.pid = 1000 + ((g.vmid * 7919 + at) % 4_000_000);
}

export function markStopped(g: SimGuest): void {
  g.running = false;
  g.paused = false;
  g.startedAt = undefined;
  g.pid = undefined;
}

/** The seeded cluster as of `now` (epoch seconds). */
export function seedState(now: number): SimState {
  const nodes = [node("pve1", 1, now, true), node("pve2", 2, now, true), node("pve3", 3, now, false)];
  const guests = [
    qemu({ vmid: 100, node: "pve1", name: "web01", running: true, cores: 2, memory: 4096, disk: "32G",
      extra: { agent: "1", onboot: "1", tags: "prod;web" }, load: { cpu: 0.031, mem: 0.52, net: 48_000, disk: 21_000 } }, now),
    qemu({ vmid: 101, node: "pve1", name: "db01", running: false, cores: 4, memory: 8192, disk: "64G",
      extra: { agent: "1", balloon: "4096", scsi1: "local-lvm:vm-101-disk-1,iothread=1,size=200G", tags: "db;prod" } }, now),
    qemu({ vmid: 105, node: "pve1", name: "staging01", running: false, cores: 2, memory: 2048, disk: "20G", extra: { tags: "staging" } }, now),
    qemu({ vmid: 9000, node: "pve1", name: "debian12-tmpl", running: false, cores: 2, memory: 2048, disk: "3G",
      extra: { template: "1", ciuser: "debian", ide2: "local-lvm:vm-9000-cloudinit,media=cdrom", ipconfig0: "ip=dhcp", serial0: "socket", vga: "serial0",
        scsi0: "local-lvm:base-9000-disk-0,iothread=1,size=3G" } }, now),
    qemu({ vmid: 102, node: "pve2", name: "app01", running: true, cores: 4, memory: 8192, disk: "48G",
      extra: { agent: "1", onboot: "1", tags: "app;prod" }, load: { cpu: 0.124, mem: 0.67, net: 91_000, disk: 55_000 } }, now),
    qemu({ vmid: 104, node: "pve3", name: "win11-desk", running: true, cores: 4, memory: 8192, disk: "80G",
      extra: { bios: "ovmf", machine: "pc-q35-9.2+pve1", ostype: "win11", cpu: "x86-64-v2-AES",
        efidisk0: "local-lvm:vm-104-disk-1,efitype=4m,pre-enrolled-keys=1,size=4M", tpmstate0: "local-lvm:vm-104-disk-2,size=4M,version=v2.0" },
      load: { cpu: 0.087, mem: 0.81, net: 12_000, disk: 30_000 } }, now),
    lxc({ vmid: 200, node: "pve1", hostname: "dns01", running: true, cores: 1, memory: 512, disk: "8G", ostype: "debian", ip: "10.0.0.53/24",
      extra: { tags: "infra" }, load: { cpu: 0.004, mem: 0.21, net: 3_000, disk: 800 } }, now),
    lxc({ vmid: 201, node: "pve2", hostname: "proxy01", running: true, cores: 2, memory: 1024, disk: "4G", ostype: "alpine", ip: "10.0.0.80/24",
      extra: { tags: "infra" }, load: { cpu: 0.018, mem: 0.30, net: 120_000, disk: 2_000 } }, now),
    lxc({ vmid: 202, node: "pve3", hostname: "build01", running: false, cores: 4, memory: 4096, disk: "32G", ostype: "ubuntu", ip: "dhcp",
      extra: { onboot: "0" } }, now),
    lxc({ vmid: 203, node: "pve2", hostname: "monitor01", running: true, cores: 2, memory: 2048, disk: "16G", ostype: "debian", ip: "10.0.0.90/24",
      extra: { tags: "monitoring" }, load: { cpu: 0.046, mem: 0.58, net: 25_000, disk: 12_000 } }, now),
  ];
  const storages: SimStorage[] = [
    { id: "backup", type: "nfs", content: ["backup"], shared: true, total: 4 * TiB, baseUsed: Math.round(1.37 * TiB),
      options: { server: "10.0.0.50", export: "/srv/pve-backup", path: "/mnt/pve/backup", "prune-backups": "keep-daily=7,keep-weekly=4" } },
    { id: "local", type: "dir", content: ["backup", "iso", "vztmpl"], shared: false, total: Math.round(94.3 * GiB), baseUsed: Math.round(14.8 * GiB),
      options: { path: "/var/lib/vz" } },
    { id: "local-lvm", type: "lvmthin", content: ["images", "rootdir"], shared: false, total: Math.round(832.4 * GiB), baseUsed: 0,
      options: { thinpool: "data", vgname: "pve" } },
  ];
  const byId = new Map(guests.map((g) => [g.vmid, g]));
  return { clusterName: "sim", configVersion: 3, localNode: "pve1", nodes, guests: byId, storages,
    volumes: seedVolumes(now, byId), backupJobs: seedBackupJobs() };
}

export function findNode(state: SimState, name: string): SimNode | undefined {
  return state.nodes.find((n) => n.name === name);
}

/** The guest whose config lives on `nodeName` with this type, as PVE's per-node config lookup sees it. */
export function localGuest(state: SimState, nodeName: string, type: GuestType, vmid: number): SimGuest | undefined {
  const g = state.guests.get(vmid);
  return g && g.type === type && g.node === nodeName ? g : undefined;
}

/** corosync quorum: more than half of the votes (one per node). */
export function isQuorate(state: SimState): boolean {
  return state.nodes.filter((n) => n.online).length * 2 > state.nodes.length;
}

/** The guest config as the text of its .conf file; its SHA-1 is the `digest` PVE returns. */
export function configText(g: SimGuest): string {
  return Object.keys(g.config)
    .sort()
    .map((k) => `${k}: ${g.config[k]}\n`)
    .join("");
}

export function configDigest(g: SimGuest): string {
  return createHash("sha1").update(configText(g)).digest("hex");
}

/** PVE::JSONSchema::parse_size: "32G" and friends to bytes. */
export function parseSize(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(\d+(?:\.\d+)?)([KMGT](?:iB)?)?$/.exec(value);
  if (!m) return undefined;
  const power = { K: 1, M: 2, G: 3, T: 4 }[(m[2] ?? "")[0] as "K" | "M" | "G" | "T"] ?? 0;
  return Math.trunc(Number(m[1]) * 1024 ** power);
}

/** The `size=` of a disk property string such as "local-lvm:vm-100-disk-0,size=32G". */
export function diskSize(spec: string | undefined): number | undefined {
  return parseSize(/(?:^|,)size=([^,]+)/.exec(spec ?? "")?.[1]);
}
