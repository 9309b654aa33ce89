/**
 * Guest power actions (POST .../status/{start,stop,...}) with the checks PVE makes before forking
 * the worker (answered synchronously, HTTP 500) and inside it (failing the task), after qemu-server
 * PVE/API2/Qemu.pm + PVE/QemuServer.pm and pve-container PVE/API2/LXC/Status.pm. For example
 * starting a running VM fails the task ("VM 100 already running") while starting a running
 * container fails the call ("CT 200 already running"), exactly as in PVE.
 */
import type { CallContext } from "./context.ts";
import { die, paramError } from "./errors.ts";
import { applyPending } from "./guest-config.ts";
import { truthy } from "../shared/pve-schema/schema.ts";
import { epoch, isQuorate, localGuest, markStarted, markStopped, type GuestType, type SimGuest } from "./state.ts";

interface ActionContext {
  ctx: CallContext;
  vmid: number;
}

interface PowerAction {
  /** Worker type in the UPID; a function when a parameter picks it (qmpause vs qmsuspend). */
  task: string | ((params: Record<string, unknown>) => string);
  /** Parameters only root@pam may set (raise_param_exc "Only root may use this option."). */
  rootOnly?: string[];
  /** Checks made before the worker is forked. */
  before?(a: ActionContext): void;
  /** The worker: checks made under the config lock, then the state change. */
  run(a: ActionContext): string[] | void;
}

function configPath(type: GuestType, node: string, vmid: number): string {
  return `nodes/${node}/${type === "qemu" ? "qemu-server" : "lxc"}/${vmid}.conf`;
}

/** AbstractConfig::load_config */
function loadConfig({ ctx, vmid }: ActionContext, type: GuestType): SimGuest {
  const g = localGuest(ctx.sim.state, ctx.node.name, type, vmid);
  if (!g) throw die(`Configuration file '${configPath(type, ctx.node.name, vmid)}' does not exist`);
  return g;
}

/** QemuServer::check_running, which first asserts the config exists on this node. */
function qemuRunning(a: ActionContext): boolean {
  const g = localGuest(a.ctx.sim.state, a.ctx.node.name, "qemu", a.vmid);
  if (!g) throw die(`unable to find configuration file for VM ${a.vmid} on node '${a.ctx.node.name}'`);
  return g.running;
}

/** LXC::check_running: is a container with this id active on this node. */
function ctRunning({ ctx, vmid }: ActionContext): boolean {
  return localGuest(ctx.sim.state, ctx.node.name, "lxc", vmid)?.running ?? false;
}

/** QemuServer::vm_is_paused with errors swallowed, as the API calls use it. */
function qemuPaused({ ctx, vmid }: ActionContext): boolean {
  const g = localGuest(ctx.sim.state, ctx.node.name, "qemu", vmid);
  return Boolean(g?.running && g.paused);
}

function checkLock(g: SimGuest, skip: unknown): void {
  const lock = g.config.lock;
  if (lock && !truthy(skip)) throw die(`${g.type === "qemu" ? "VM" : "CT"} is locked (${lock})`);
}

function requireQuorum(a: ActionContext): void {
  if (!isQuorate(a.ctx.sim.state)) throw die("cluster not ready - no quorum?");
}

function qemuStop(a: ActionContext): void {
  if (!qemuRunning(a)) return;
  const g = loadConfig(a, "qemu");
  checkLock(g, a.ctx.params.skiplock);
  markStopped(g);
}

function qemuStart(a: ActionContext): void {
  const g = loadConfig(a, "qemu");
  if (g.config.template === "1") throw die("you can't start a vm if it's a template");
  const suspended = g.config.lock === "suspended";
  if (!suspended) checkLock(g, a.ctx.params.skiplock);
  if (g.running) throw die(`VM ${a.vmid} already running`);
  if (suspended) delete g.config.lock;
  applyPending(g, false);
  markStarted(g, epoch());
}

/**
 * A clean shutdown of a guest whose OS ignores ACPI (SimGuest.ignoresShutdown) runs into the timeout:
 * with forceStop the guest is then killed (a warning), without it the task fails.
 */
function shutdownTimeout(a: ActionContext, g: SimGuest): string[] {
  if (!g.ignoresShutdown) return [];
  if (g.type === "lxc") {
    if (truthy(a.ctx.params.forceStop)) return [];
    throw die("container did not stop");
  }
  if (truthy(a.ctx.params.forceStop)) return ["WARN: VM still running - terminating now with SIGTERM"];
  throw die("VM quit/powerdown failed - got timeout");
}

const qemuActions: Record<string, PowerAction> = {
  start: {
    task: "qmstart",
    rootOnly: ["stateuri", "skiplock", "migratedfrom", "migration_type", "migration_network", "targetstorage", "force-cpu", "with-conntrack-state", "nets-host-mtu"],
    before: requireQuorum,
    run: qemuStart,
  },
  stop: { task: "qmstop", rootOnly: ["skiplock", "keepActive", "migratedfrom"], run: qemuStop },
  shutdown: {
    task: "qmshutdown",
    rootOnly: ["skiplock", "keepActive"],
    before(a) {
      if (qemuPaused(a) && !truthy(a.ctx.params.forceStop)) throw die("VM is paused - cannot shutdown");
    },
    run(a) {
      if (!qemuRunning(a)) return;
      const g = loadConfig(a, "qemu");
      checkLock(g, a.ctx.params.skiplock);
      const lines = shutdownTimeout(a, g);
      markStopped(g);
      return lines;
    },
  },
  reboot: {
    task: "qmreboot",
    before(a) {
      if (qemuPaused(a)) throw die("VM is paused - cannot shutdown");
      if (!qemuRunning(a)) throw die(`VM ${a.vmid} not running`);
    },
    run(a) {
      const g = loadConfig(a, "qemu");
      checkLock(g, undefined);
      markStarted(g, epoch());
    },
  },
  suspend: {
    task: (params) => (truthy(params.todisk) ? "qmsuspend" : "qmpause"),
    rootOnly: ["skiplock"],
    before(a) {
      if (!qemuRunning(a)) throw die(`VM ${a.vmid} not running`);
    },
    run(a) {
      const g = loadConfig(a, "qemu");
      checkLock(g, a.ctx.params.skiplock);
      if (!truthy(a.ctx.params.todisk)) {
        g.paused = true;
        return;
      }
      markStopped(g);
      g.config.lock = "suspended";
    },
  },
  resume: {
    task: "qmresume",
    rootOnly: ["skiplock", "nocheck"],
    before(a) {
      const suspended = localGuest(a.ctx.sim.state, a.ctx.node.name, "qemu", a.vmid)?.config.lock === "suspended";
      if (!suspended && !qemuRunning(a)) throw die(`VM ${a.vmid} not running`);
    },
    run(a) {
      const g = loadConfig(a, "qemu");
      if (g.config.lock === "suspended") return qemuStart(a);
      g.paused = false;
    },
  },
  reset: {
    task: "qmreset",
    rootOnly: ["skiplock"],
    before(a) {
      if (!qemuRunning(a)) throw die(`VM ${a.vmid} not running`);
    },
    run(a) {
      checkLock(loadConfig(a, "qemu"), a.ctx.params.skiplock);
    },
  },
};

const ctNotRunning = (a: ActionContext): void => {
  if (!ctRunning(a)) throw die(`CT ${a.vmid} not running`);
};

const lxcActions: Record<string, PowerAction> = {
  start: {
    task: "vzstart",
    rootOnly: ["skiplock"],
    before(a) {
      if (ctRunning(a)) throw die(`CT ${a.vmid} already running`);
      requireQuorum(a);
    },
    run(a) {
      const g = loadConfig(a, "lxc");
      if (g.config.template === "1") throw die("you can't start a CT if it's a template");
      if (g.config.lock !== "mounted") checkLock(g, a.ctx.params.skiplock);
      applyPending(g, false);
      markStarted(g, epoch());
    },
  },
  stop: {
    task: "vzstop",
    rootOnly: ["skiplock"],
    before: ctNotRunning,
    run(a) {
      const g = loadConfig(a, "lxc");
      if (g.config.lock !== "mounted") checkLock(g, a.ctx.params.skiplock);
      markStopped(g);
    },
  },
  shutdown: {
    task: "vzshutdown",
    before: ctNotRunning,
    run(a) {
      const g = loadConfig(a, "lxc");
      checkLock(g, undefined);
      shutdownTimeout(a, g);
      markStopped(g);
    },
  },
  suspend: {
    task: "vzsuspend",
    before: ctNotRunning,
    run(a) {
      const g = loadConfig(a, "lxc");
      checkLock(g, undefined);
      markStopped(g);
      g.checkpointed = true;
    },
  },
  resume: {
    task: "vzresume",
    before(a) {
      if (ctRunning(a)) throw die(`CT ${a.vmid} already running`);
    },
    run(a) {
      const g = localGuest(a.ctx.sim.state, a.ctx.node.name, "lxc", a.vmid);
      if (!g?.checkpointed) throw die(`command 'lxc-checkpoint -n ${a.vmid} -r --foreground -D /var/lib/vz/dump' failed: exit code 1`);
      g.checkpointed = false;
      markStarted(g, epoch());
    },
  },
  reboot: {
    task: "vzreboot",
    before(a) {
      // pve-container really says "VM" here.
      if (!ctRunning(a)) throw die(`VM ${a.vmid} not running`);
    },
    run(a) {
      markStarted(loadConfig(a, "lxc"), epoch());
    },
  },
};

/** The actions PVE offers per guest type (LXC has no reset). */
export const powerActions: Record<GuestType, Record<string, PowerAction>> = { qemu: qemuActions, lxc: lxcActions };

/** Runs the pre-fork checks and starts the worker; returns its UPID. */
export function startPowerAction(ctx: CallContext, type: GuestType, name: string): string {
  const action = powerActions[type][name];
  const a: ActionContext = { ctx, vmid: Number(ctx.params.vmid) };
  for (const p of action.rootOnly ?? []) {
    if (truthy(ctx.params[p]) && ctx.authid !== "root@pam") throw paramError({ [p]: "Only root may use this option." });
  }
  action.before?.(a);
  const task = typeof action.task === "function" ? action.task(ctx.params) : action.task;
  return ctx.sim.tasks.start(ctx.node, task, String(a.vmid), ctx.authid ?? "root@pam", () => action.run(a)).upid;
}
