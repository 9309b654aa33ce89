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
 * pvescheduler, which runs due replication jobs every minute, runs a job here a moment after it became
 * due (created, scheduled now, marked for removal or enabled again).
 */
import type { Sim } from "./context.ts";
import { epoch, findNode, markStarted, markStopped, type SimGuest, type SimState } from "./state.ts";
import { isDiskKey, volumeOf } from "./storage-content.ts";

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

/** A replication.cfg section (options only when set, as PVE writes them) and its state on the source node. */
export interface ReplicationJob {
  id: string;
  guest: number;
  jobnum: number;
  target: string;
  schedule?: string;
  rate?: number;
  comment?: string;
  disable?: boolean;
  /** Set by DELETE: the next run removes the job, with the replica on the target ('full') or without ('local'). */
  removeJob?: "local" | "full";
  /** The state file of the source node (pve-replication-state.json); lastTry 0 means due now. */
  lastSync: number;
  lastTry: number;
  duration: number;
  failCount: number;
  error?: string;
  /** The pvesr process while a run is under way. */
  pid?: number;
}

export interface HaModel {
  resources: HaResource[];
  rules: HaRule[];
  /** HA groups (deprecated); empty once PVE 9 migrated them into rules. */
  groups: Array<Record<string, string | number>>;
  /** The node whose CRM is master. */
  master: string;
  replication: ReplicationJob[];
  /**
   * Guest volumes that cannot replicate. PVE replicates only ZFS volumes and the simulated storages are
   * not ZFS, so every other guest volume stands in for one; these fail as LVM volumes do.
   */
  unreplicable: string[];
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
    unreplicable: ["local-lvm:vm-100-disk-0"],
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

/** pvescheduler's wait before it picks up a due job (up to a minute in PVE), and how long a sync takes. */
const SCHEDULER_MS = 200;
const SYNC_MS = 300;

/**
 * PVE::QemuServer / PVE::LXC get_replicatable_volumes: the guest's own disks on local storage
 * (CD-ROMs, cloud-init drives and shared storage aside); dies on one that cannot replicate.
 */
export function replicatableVolumes(state: SimState, g: SimGuest): string[] {
  const owner = (volid: string) => Number(/(?:vm|base|subvol)-(\d+)-[^/]*$/.exec(volid)?.[1]);
  const shared = (volid: string) => state.storages.find((s) => s.id === volid.split(":")[0])?.shared;
  const volids = Object.entries(g.config)
    .filter(([key, value]) => isDiskKey(g.type, key) && !/(^|,)(media=cdrom|replicate=0)(,|$)/.test(value))
    .map(([, value]) => volumeOf(value))
    .filter((volid) => owner(volid) === g.vmid && !shared(volid))
    .sort();
  const bad = volids.find((v) => haOf(state).unreplicable.includes(v));
  if (bad) throw new Error(`missing replicate feature on volume '${bad}'`);
  return volids;
}

/** Why a run fails: the sync needs the target over SSH, a removal only with its replica ('full'). */
function runError(state: SimState, job: ReplicationJob, g: SimGuest): string | undefined {
  let volids: string[] = [];
  if (!job.removeJob) {
    try {
      volids = replicatableVolumes(state, g);
    } catch (err) {
      return (err as Error).message;
    }
  }
  const target = findNode(state, job.target);
  if (job.removeJob === "local" || target?.online) return undefined;
  // PVE::Replication::remote_prepare_local_job through ssh (PVE::SSHInfo::ssh_info_to_command).
  const ssh = `/usr/bin/ssh -e none -o 'BatchMode=yes' -o 'HostKeyAlias=${job.target}' root@${target?.ip ?? job.target}`;
  return `command '${ssh} -- pvesr prepare-local-job ${job.id}${volids.map((v) => ` ${v}`).join("")} --last_sync ${job.lastSync}' failed: exit code 255`;
}

/**
 * pvescheduler running a due job on the guest's node (PVE::ReplicationState::get_next_job and
 * PVE::Replication::run_replication): disabled jobs and jobs of a node that is down are left alone;
 * a run records its start (pid, last_try) and its end (duration, then last_sync or the error), and a
 * run of a job marked for removal deletes it.
 */
export function runSoon(state: SimState, id: string): void {
  setTimeout(() => {
    const model = haOf(state);
    const job = model.replication.find((j) => j.id === id);
    const g = job && state.guests.get(job.guest);
    if (!job || !g || job.disable || job.pid || !findNode(state, g.node)?.online || (!job.removeJob && job.target === g.node)) return;
    const start = epoch();
    job.pid = 100_000 + (start % 900_000);
    job.lastTry = start;
    setTimeout(() => {
      delete job.pid;
      job.duration = SYNC_MS / 1000 + 0.04;
      const error = runError(state, job, g);
      if (error) {
        job.failCount++;
        job.error = error;
      } else if (job.removeJob) {
        model.replication = model.replication.filter((j) => j !== job);
      } else {
        job.lastSync = start;
        job.failCount = 0;
        delete job.error;
      }
    }, SYNC_MS).unref();
  }, SCHEDULER_MS).unref();
}
