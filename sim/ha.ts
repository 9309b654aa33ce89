/**
 * High availability and storage replication of the simulated cluster: /etc/pve/ha/resources.cfg,
 * /etc/pve/ha/rules.cfg (PVE 9 migrated the HA groups of groups.cfg into node-affinity rules, so no
 * groups are left), the CRM/LRM state pve-ha-manager writes, /etc/pve/replication.cfg and the
 * per-node replication state (/var/lib/pve-manager/pve-replication-state.json). Kept beside the
 * SimState like the firewall model; tests reach it with `haOf(sim.state)`.
 *
 * Seeded: vm:100, vm:102 and ct:201 under HA, a node-affinity rule preferring pve1 for vm:100, and
 * two replication jobs, 102-0 (pve2 -> pve3, healthy) and 100-0 (pve1 -> pve2, failing, because
 * local-lvm has no replicate feature: only ZFS volumes replicate).
 *
 * The CRM and LRMs act at once on a change: a service is started or stopped to match its requested
 * state, and a queued migrate or relocate runs as a task on the guest's node (the LRM's qmigrate).
 */
import type { Sim } from "./context.ts";
import { epoch, findNode, markStarted, markStopped, type SimState } from "./state.ts";

export type HaState = "started" | "stopped" | "disabled" | "ignored";

/** A resources.cfg section: only the options that were set, as PVE writes them. */
export interface HaResource {
  sid: string;
  state?: HaState;
  max_restart?: number;
  max_relocate?: number;
  failback?: number;
  group?: string;
  comment?: string;
}

export interface HaRule {
  rule: string;
  type: "node-affinity" | "resource-affinity";
  resources: string;
  nodes?: string;
  strict?: number;
  affinity?: "positive" | "negative";
  comment?: string;
}

export interface ReplicationJob {
  id: string;
  guest: number;
  jobnum: number;
  target: string;
  schedule: string;
  comment?: string;
  /** The state file of the source node. */
  lastSync: number;
  lastTry: number;
  duration: number;
  failCount: number;
  error?: string;
}

export interface HaModel {
  resources: HaResource[];
  rules: HaRule[];
  /** HA groups (deprecated); empty once PVE 9 migrated them into rules. */
  groups: Array<Record<string, string | number>>;
  /** The node whose CRM is master. */
  master: string;
  replication: ReplicationJob[];
  /** Services the CRM is moving (state migrate or relocate in manager_status), by sid. */
  moving: Map<string, { state: "migrate" | "relocate"; target: string }>;
}

const models = new WeakMap<SimState, HaModel>();

function seed(now: number): HaModel {
  const minute = (m: number) => now - (now % 60) - m * 60;
  return {
    resources: [
      { sid: "vm:100", state: "started", max_restart: 1, max_relocate: 1, failback: 1, comment: "public web" },
      { sid: "vm:102", state: "started", max_restart: 1, max_relocate: 1, failback: 1 },
      { sid: "ct:201", state: "started", max_restart: 2, max_relocate: 1, failback: 1 },
    ],
    rules: [{ rule: "prefer-pve1", type: "node-affinity", resources: "vm:100", nodes: "pve1:2,pve2:1", strict: 0, comment: "migrated from HA group prefer-pve1" }],
    groups: [],
    master: "pve1",
    replication: [
      { id: "102-0", guest: 102, jobnum: 0, target: "pve3", schedule: "*/15", lastSync: minute(7), lastTry: minute(7), duration: 3.41, failCount: 0 },
      {
        id: "100-0",
        guest: 100,
        jobnum: 0,
        target: "pve2",
        schedule: "*/30",
        comment: "web01 standby copy",
        lastSync: 0,
        lastTry: minute(12),
        duration: 0.27,
        failCount: 3,
        error: "missing replicate feature on volume 'local-lvm:vm-100-disk-0'",
      },
    ],
    moving: new Map(),
  };
}

/** The HA and replication model of a simulated cluster, seeded on first use. */
export function haOf(state: SimState, now = Math.floor(Date.now() / 1000)): HaModel {
  let model = models.get(state);
  if (!model) {
    model = seed(now);
    models.set(state, model);
  }
  return model;
}

/** "vm:100" -> its vmid. */
export function sidVmid(sid: string): number {
  return Number(sid.split(":")[1]);
}

/** The LRM bringing a service to its requested state: a start or shutdown task on the guest's node. */
export function enforceState(sim: Sim, sid: string): void {
  const { state } = sim;
  const model = haOf(state);
  const wanted = model.resources.find((r) => r.sid === sid)?.state ?? "started";
  const g = state.guests.get(sidVmid(sid));
  const node = g && findNode(state, g.node);
  if (!g || !node?.online || model.moving.has(sid) || g.config.template === "1") return;
  const prefix = g.type === "qemu" ? "qm" : "vz";
  if (wanted === "started" && !g.running) sim.tasks.start(node, `${prefix}start`, String(g.vmid), "root@pam", () => markStarted(g, epoch()));
  if ((wanted === "stopped" || wanted === "disabled") && g.running) sim.tasks.start(node, `${prefix}shutdown`, String(g.vmid), "root@pam", () => markStopped(g));
}

/**
 * Manager::update_crm_commands and the LRM: a move to a node that is not online, or where the service
 * already is, is logged and dropped; otherwise the guest migrates (a running container, and any guest
 * on relocate, is stopped and started again on the target).
 */
export function queueMove(sim: Sim, sid: string, cmd: "migrate" | "relocate", target: string): void {
  const { state } = sim;
  const model = haOf(state);
  const g = state.guests.get(sidVmid(sid));
  const from = g && findNode(state, g.node);
  if (!g || !from?.online || !findNode(state, target)?.online || g.node === target || model.moving.has(sid)) return;
  model.moving.set(sid, { state: cmd, target });
  g.config.lock = "migrate";
  const restart = g.running && (cmd === "relocate" || g.type === "lxc");
  const work = () => {
    g.node = target;
    if (restart) markStarted(g, epoch());
    return ["migration finished successfully"];
  };
  const cleanup = () => {
    model.moving.delete(sid);
    if (g.config.lock === "migrate") delete g.config.lock;
  };
  sim.tasks.start(from, g.type === "qemu" ? "qmigrate" : "vzmigrate", String(g.vmid), "root@pam", work, { cleanup });
}
