/**
 * /nodes/{node}/qemu and /nodes/{node}/lxc handlers: lists, status/current and the power
 * actions, after qemu-server (PVE/API2/Qemu.pm, QemuServer.pm vmstatus) and pve-container
 * (PVE/API2/LXC.pm, LXC/Status.pm, LXC.pm vmstatus).
 */
import type { CallContext, Handler, RouteTable } from "../context.ts";
import { die } from "../errors.ts";
import { powerActions, startPowerAction } from "../guests.ts";
import { hasPrivileges } from "../permissions.ts";
import { guestName } from "../resources.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { guestStats } from "../stats.ts";
import { epoch, localGuest, type GuestType, type SimGuest } from "../state.ts";

const dir = (type: GuestType): string => (type === "qemu" ? "qemu-server" : "lxc");

/** AbstractConfig::load_config on the executing node. */
function loadGuest(ctx: CallContext, type: GuestType): SimGuest {
  const vmid = Number(ctx.params.vmid);
  const g = localGuest(ctx.sim.state, ctx.node.name, type, vmid);
  if (!g) throw die(`Configuration file 'nodes/${ctx.node.name}/${dir(type)}/${vmid}.conf' does not exist`);
  return g;
}

/** Small, steady pressure-stall figures that cgroup v2 reports for a running guest. */
function pressures(g: SimGuest): Record<string, number> {
  const cpu = Number((g.load.cpu * 2).toFixed(2));
  return { pressurecpusome: cpu, pressurecpufull: 0, pressureiosome: 0.08, pressureiofull: 0.05, pressurememorysome: 0, pressurememoryfull: 0 };
}

/** One entry of QemuServer::vmstatus; `full` adds the QMP-derived fields. */
function qemuStatus(ctx: CallContext, g: SimGuest, full: boolean): Record<string, unknown> {
  const s = guestStats(g, ctx.node, epoch());
  const d: Record<string, unknown> = { vmid: g.vmid, status: g.running ? "running" : "stopped", maxdisk: s.maxdisk, disk: 0, cpus: s.cpus, name: guestName(g), maxmem: s.maxmem };
  if (g.running) d.pid = g.pid;
  if (g.config.balloon) Object.assign(d, { balloon_min: Number(g.config.balloon) * 1024 * 1024, shares: 1000 });
  Object.assign(d, { uptime: s.uptime, cpu: s.cpu, mem: s.mem, memhost: s.mem, netout: s.netout, netin: s.netin });
  if (g.config.template === "1") d.template = 1;
  if (Object.keys(g.config).some((k) => /^serial\d+$/.test(k))) d.serial = 1;
  if (g.config.lock) d.lock = g.config.lock;
  if (g.config.tags !== undefined) d.tags = g.config.tags;
  if (g.running) Object.assign(d, pressures(g));
  if (!full) return d;
  if (!g.running) return { ...d, qmpstatus: d.status };
  return {
    ...d,
    qmpstatus: g.paused ? "paused" : "running",
    diskread: s.diskread,
    diskwrite: s.diskwrite,
    nics: { [`tap${g.vmid}i0`]: { netin: s.netin, netout: s.netout } },
    "running-machine": g.config.machine ?? "pc-i440fx-9.2+pve1",
    "running-qemu": "9.2.0",
    "proxmox-support": { "pbs-library-version": "1.5.1 (UNKNOWN)", "pbs-dirty-bitmap": true, "pbs-dirty-bitmap-migration": true, "query-bitmap-info": true, "pbs-masterkey": true, "backup-fleecing": true, "backup-max-workers": true },
  };
}

/** One entry of LXC::vmstatus. */
function lxcStatus(ctx: CallContext, g: SimGuest): Record<string, unknown> {
  const s = guestStats(g, ctx.node, epoch());
  const d: Record<string, unknown> = { type: "lxc", vmid: g.vmid, status: g.running ? "running" : "stopped", name: guestName(g), cpus: s.cpus };
  if (g.running) d.pid = g.pid;
  if (g.config.tags !== undefined) d.tags = g.config.tags;
  Object.assign(d, {
    disk: s.disk, maxdisk: s.maxdisk, mem: s.mem, swap: s.swap, maxmem: s.maxmem, maxswap: s.maxswap,
    uptime: s.uptime, cpu: s.cpu, netout: s.netout, netin: s.netin, diskread: s.diskread, diskwrite: s.diskwrite,
  });
  if (g.config.template === "1") d.template = 1;
  if (g.config.lock) d.lock = g.config.lock;
  if (g.running) Object.assign(d, pressures(g));
  return d;
}

/** Lists only guests the caller may audit ("Only list VMs where you have VM.Audit permissions"). */
function listGuests(type: GuestType): Handler {
  return (ctx) => {
    const { state, access } = ctx.sim;
    return [...state.guests.values()]
      .filter((g) => g.type === type && g.node === ctx.node.name)
      .filter((g) => ctx.authid !== undefined && hasPrivileges(access, ctx.authid, `/vms/${g.vmid}`, ["VM.Audit"]))
      .map((g) => (type === "qemu" ? qemuStatus(ctx, g, truthy(ctx.params.full)) : lxcStatus(ctx, g)));
  };
}

function currentStatus(type: GuestType): Handler {
  return (ctx) => {
    const g = loadGuest(ctx, type);
    const status = type === "qemu" ? qemuStatus(ctx, g, true) : lxcStatus(ctx, g);
    // PVE::HA::Config::get_service_status for a guest not managed by HA.
    status.ha = { managed: 0 };
    if (type === "qemu" && g.config.vga !== undefined) status.clipboard = null;
    if (type === "qemu" && /^(1|enabled=1)/.test(g.config.agent ?? "")) status.agent = 1;
    return status;
  };
}

function actionRoutes(type: GuestType): Record<string, Handler> {
  return Object.fromEntries(
    Object.keys(powerActions[type]).map((name) => [
      `POST /nodes/{node}/${type}/{vmid}/status/${name}`,
      (ctx: CallContext) => startPowerAction(ctx, type, name),
    ]),
  );
}

export const guestRoutes: RouteTable = {
  "GET /nodes/{node}/qemu": listGuests("qemu"),
  "GET /nodes/{node}/lxc": listGuests("lxc"),
  "GET /nodes/{node}/qemu/{vmid}/status/current": currentStatus("qemu"),
  "GET /nodes/{node}/lxc/{vmid}/status/current": currentStatus("lxc"),
  ...actionRoutes("qemu"),
  ...actionRoutes("lxc"),
};
