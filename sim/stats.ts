/**
 * Live-looking numbers derived from the model at a point in time: what pvestatd, /proc and the
 * QEMU/LXC status code would report. Deterministic, so tests can rely on them: counters grow with
 * uptime at each guest's constant rate.
 */
import { diskSize, type SimGuest, type SimNode, type SimState, type SimStorage } from "./state.ts";

const MiB = 1024 * 1024;

export interface GuestStats {
  cpus: number;
  maxmem: number;
  maxdisk: number;
  disk: number;
  uptime: number;
  cpu: number;
  mem: number;
  netin: number;
  netout: number;
  diskread: number;
  diskwrite: number;
  maxswap: number;
  swap: number;
}

/** get_current_memory: the memory option is "4096" or "current=4096,..." in MiB, default 512. */
function qemuMemoryMiB(spec: string | undefined): number {
  const m = /^(?:current=)?(\d+)/.exec(spec ?? "");
  return m ? Number(m[1]) : 512;
}

/** PVE::QemuServer::Drive::bootdisk_size: the first disk of the boot order that is not a CD-ROM. */
function qemuBootDiskSize(config: Record<string, string>): number | undefined {
  const order = /(?:^|,)order=([^,]+)/.exec(config.boot ?? "")?.[1]?.split(";") ?? [config.bootdisk ?? "scsi0"];
  const disk = order.find((d) => /^(scsi|virtio|sata|ide)\d+$/.test(d) && config[d] && !/media=cdrom/.test(config[d]));
  return disk ? diskSize(config[disk]) : undefined;
}

export function guestStats(g: SimGuest, host: SimNode, nowSec: number): GuestStats {
  const c = g.config;
  const qemu = g.type === "qemu";
  const cpus = qemu
    ? Number(c.vcpus) || Math.min(Number(c.sockets || 1) * Number(c.cores || 1), host.cpus)
    : Number(c.cores) || Number(c.cpulimit) || host.cpus;
  const maxmem = (qemu ? qemuMemoryMiB(c.memory) : Number(c.memory || 512)) * MiB;
  const maxdisk = (qemu ? qemuBootDiskSize(c) : diskSize(c.rootfs) ?? 4 * 1024 ** 3) ?? 0;
  const maxswap = qemu ? 0 : Number(c.swap || 0) * MiB;
  const uptime = g.running && g.startedAt !== undefined ? Math.max(0, nowSec - g.startedAt) : 0;
  if (!g.running) {
    return { cpus, maxmem, maxdisk, disk: 0, uptime: 0, cpu: 0, mem: 0, netin: 0, netout: 0, diskread: 0, diskwrite: 0, maxswap, swap: 0 };
  }
  const { load } = g;
  return {
    cpus,
    maxmem,
    maxdisk,
    // QEMU cannot see inside the guest's disk; for containers the rootfs usage is known.
    disk: qemu ? 0 : Math.round(maxdisk * 0.31),
    uptime,
    cpu: g.paused ? 0 : load.cpu,
    mem: Math.round(maxmem * load.mem),
    netin: Math.round(uptime * load.net),
    netout: Math.round(uptime * load.net * 0.38),
    diskread: Math.round(uptime * load.disk),
    diskwrite: Math.round(uptime * load.disk * 0.62),
    maxswap,
    swap: qemu ? 0 : Math.round(maxswap * 0.02),
  };
}

export interface NodeStats {
  uptime: number;
  cpu: number;
  wait: number;
  maxcpu: number;
  mem: number;
  maxmem: number;
  swap: number;
  disk: number;
  maxdisk: number;
  loadavg: [string, string, string];
}

export function nodeStats(state: SimState, node: SimNode, nowSec: number): NodeStats {
  const guests = [...state.guests.values()].filter((g) => g.node === node.name && g.running).map((g) => guestStats(g, node, nowSec));
  const busyCpus = guests.reduce((sum, s) => sum + s.cpu * s.cpus, 0);
  const cpu = Math.min(1, node.baseCpu + busyCpus / node.cpus);
  const load = cpu * node.cpus;
  return {
    uptime: nowSec - node.bootTime,
    cpu: Number(cpu.toFixed(6)),
    wait: 0.000412,
    maxcpu: node.cpus,
    mem: node.baseMemUsed + guests.reduce((sum, s) => sum + s.mem, 0),
    maxmem: node.memTotal,
    swap: Math.round(node.swapTotal * 0.01),
    disk: node.rootfsUsed,
    maxdisk: node.rootfsTotal,
    loadavg: [load * 1.1, load, load * 0.93].map((v) => v.toFixed(2)) as [string, string, string],
  };
}

/** Total and used bytes of a storage as seen from `nodeName` (thin pools fill with guest disks). */
export function storageUsage(state: SimState, storage: SimStorage, nodeName: string): { total: number; used: number; avail: number } {
  let used = storage.baseUsed;
  if (!storage.shared) {
    for (const g of [...state.guests.values()].filter((x) => x.node === nodeName)) {
      for (const value of Object.values(g.config)) {
        if (value.startsWith(`${storage.id}:`)) used += Math.round((diskSize(value) ?? 0) * (storage.type === "lvmthin" ? 0.37 : 1));
      }
    }
    if (storage.type === "dir") used += Number(nodeName.replace(/\D/g, "")) * 1024 ** 3;
  }
  return { total: storage.total, used, avail: storage.total - used };
}
