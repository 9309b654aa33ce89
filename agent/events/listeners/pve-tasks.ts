import type { Severity } from "../../../shared/event.ts";
import type { Logger } from "../../../shared/log.ts";
import type { Emit, ListenerCounters } from "../source.ts";
import { PollingListener, clusterTaskRow, parseRows, parseUpid, type ClusterTask, type PveReader } from "./pve.ts";

export interface PveTasksOptions {
  reader: PveReader;
  emit: Emit;
  log: Logger;
  interval_ms: number;
  /** Also report the tasks already listed at the first poll (default: they are the baseline, not news). */
  emit_existing?: boolean;
}

/** Finished tasks this much older than the newest seen are forgotten, and ignored if listed again. */
const RETENTION_S = 24 * 3600;

/** Words for the task types an admin meets most; others keep PVE's name. */
const taskNames: Record<string, string> = {
  qmstart: "VM start",
  qmstop: "VM stop",
  qmshutdown: "VM shutdown",
  qmreboot: "VM reboot",
  qmsuspend: "VM suspend",
  qmresume: "VM resume",
  qmreset: "VM reset",
  qmcreate: "VM create",
  qmclone: "VM clone",
  qmdestroy: "VM destroy",
  qmigrate: "VM migrate",
  vzstart: "CT start",
  vzstop: "CT stop",
  vzshutdown: "CT shutdown",
  vzreboot: "CT reboot",
  vzcreate: "CT create",
  vzdestroy: "CT destroy",
  vzmigrate: "CT migrate",
  vzdump: "backup",
  aptupdate: "package update",
};

/**
 * Watches GET /cluster/tasks incrementally: every UPID is remembered with whether it had finished, so a
 * task is reported when first seen running ("started") and once when it ends ("finished OK" or
 * "failed"), however many polls still list it.
 */
export class PveTasksListener extends PollingListener {
  readonly name = "pve-tasks";
  private readonly opts: PveTasksOptions;
  private readonly known = new Map<string, { finished: boolean; starttime: number }>();
  private baseline = true;
  private newest = 0;

  constructor(opts: PveTasksOptions) {
    super(opts.interval_ms, opts.log);
    this.opts = opts;
  }

  counters(): ListenerCounters {
    return { ...this.stats, tracked: this.known.size };
  }

  async poll(signal?: AbortSignal): Promise<void> {
    this.stats.received++;
    const reply = await this.opts.reader.get("/cluster/tasks");
    if (signal?.aborted) return;
    const { rows, invalid } = parseRows(clusterTaskRow, reply, "/cluster/tasks", this.opts.log);
    this.stats.invalid += invalid;
    rows.sort((a, b) => a.starttime - b.starttime);
    for (const task of rows) this.observe(task);
    this.baseline = false;
    this.forget(new Set(rows.map((t) => t.upid)));
  }

  private observe(task: ClusterTask): void {
    const finished = task.endtime !== undefined || (task.status !== undefined && task.status !== "running");
    this.newest = Math.max(this.newest, task.starttime);
    const known = this.known.get(task.upid);
    if (known) {
      if (known.finished || !finished) return;
      known.finished = true;
      return this.report(task, "end");
    }
    if (finished && task.starttime < this.newest - RETENTION_S) return;
    this.known.set(task.upid, { finished, starttime: task.starttime });
    if (this.baseline && !this.opts.emit_existing) return;
    this.report(task, finished ? "end" : "start");
  }

  /** Old finished tasks, and old running ones PVE no longer lists (their end was never seen), are forgotten. */
  private forget(listed: Set<string>): void {
    const cutoff = this.newest - RETENTION_S;
    for (const [upid, entry] of this.known) {
      if (entry.starttime < cutoff && (entry.finished || !listed.has(upid))) this.known.delete(upid);
    }
  }

  private report(task: ClusterTask, phase: "start" | "end"): void {
    const upid = parseUpid(task.upid);
    const type = task.type ?? upid?.type ?? "task";
    const id = task.id ?? upid?.id ?? "";
    const node = task.node ?? upid?.node;
    const user = task.user ?? upid?.user;
    const vmid = /^\d+$/.test(id) ? Number(id) : undefined;
    const what = `${taskNames[type] ?? type}${id ? ` ${id}` : ""}`;
    const outcome = phase === "start" ? { severity: "info" as Severity, title: `Task started: ${what}`, verb: "started" } : ended(task.status, what);
    const seconds = task.endtime !== undefined ? task.endtime - task.starttime : undefined;
    this.stats.emitted++;
    this.opts.emit({
      source: "pve-task",
      time: new Date((phase === "start" ? task.starttime : task.endtime ?? task.starttime) * 1000),
      node,
      severity: outcome.severity,
      title: outcome.title,
      message: `${what} on ${node ?? "?"}${user ? ` by ${user}` : ""} ${outcome.verb}${seconds !== undefined ? ` after ${seconds} s` : ""} (${task.upid})`,
      metadata: {
        type,
        upid: task.upid,
        ...(vmid !== undefined ? { vmid } : {}),
        ...(id ? { id } : {}),
        ...(user ? { user } : {}),
        ...(task.status !== undefined ? { status: task.status } : {}),
        starttime: task.starttime,
        ...(task.endtime !== undefined ? { endtime: task.endtime } : {}),
        phase,
      },
      stableKey: `${task.upid}\0${phase}`,
      dedupKey: `pve-task\0${task.upid}\0${phase}`,
    });
  }
}

/** PVE's exit status: "OK", "WARNINGS: n", or the error text. */
function ended(status: string | undefined, what: string): { severity: Severity; title: string; verb: string } {
  if (status === "OK") return { severity: "info", title: `Task finished OK: ${what}`, verb: "finished OK" };
  if (status?.startsWith("WARNINGS")) return { severity: "warning", title: `Task finished with warnings: ${what}`, verb: `finished with ${status.toLowerCase()}` };
  const reason = status ?? "unknown status";
  return { severity: "error", title: `Task failed: ${what}: ${reason}`, verb: `failed: ${reason}` };
}
