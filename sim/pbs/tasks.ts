/**
 * PBS worker tasks (proxmox-rest-server WorkerTask): a PBS UPID carries a task counter besides PVE's
 * fields, and its worker id is systemd-escaped ("store1:vm/100" becomes "store1\x3avm-100").
 * A task runs for a while, then its work runs and it ends with "TASK OK" or "TASK ERROR: ...".
 */
import { randomInt } from "node:crypto";

export interface PbsTask {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  taskId: number;
  starttime: number;
  workerType: string;
  /** The worker id as given (unescaped). */
  workerId: string;
  authid: string;
  status: "running" | "stopped";
  exitstatus?: string;
  endtime?: number;
  log: string[];
}

/** Runs the task's work: returns log lines, throws to fail the task with the error's message. */
export type PbsWork = (log: (line: string) => void) => void;

const hex8 = (n: number): string => n.toString(16).toUpperCase().padStart(8, "0");

/** proxmox_systemd::escape_unit(.., false): '/' becomes '-', anything but [A-Za-z0-9_.] \xNN. */
export function escapeUnit(text: string): string {
  let out = "";
  for (const [i, c] of [...text].entries()) {
    if (c === "/") out += "-";
    else if ((i === 0 && c === ".") || !/[A-Za-z0-9_.]/.test(c)) out += `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
    else out += c;
  }
  return out;
}

export function encodePbsUpid(t: Omit<PbsTask, "upid" | "status" | "log" | "exitstatus" | "endtime">): string {
  return `UPID:${t.node}:${hex8(t.pid)}:${hex8(t.pstart)}:${hex8(t.taskId)}:${hex8(t.starttime)}:${t.workerType}:${escapeUnit(t.workerId)}:${t.authid}:`;
}

export interface PbsTaskRunner {
  start(workerType: string, workerId: string, authid: string, work: PbsWork): PbsTask;
  /** A task that already ran, for the seeded history. */
  record(workerType: string, workerId: string, authid: string, starttime: number, seconds: number, log: string[], exitstatus?: string): PbsTask;
  find(upid: string): PbsTask | undefined;
  /** Newest first, as the task list shows them. */
  all(): PbsTask[];
  close(): void;
}

export function createPbsTaskRunner(node: string, bootTime: number, durationMs: number): PbsTaskRunner {
  const tasks = new Map<string, PbsTask>();
  const timers = new Set<NodeJS.Timeout>();
  let counter = 0;

  const create = (workerType: string, workerId: string, authid: string, starttime: number): PbsTask => {
    const info = { node, pid: randomInt(1000, 400_000), pstart: Math.max(0, (starttime - bootTime) * 100), taskId: counter++, starttime, workerType, workerId, authid };
    const task: PbsTask = { ...info, upid: encodePbsUpid(info), status: "running", log: [] };
    tasks.set(task.upid, task);
    return task;
  };

  const stop = (task: PbsTask, exitstatus: string, endtime: number): void => {
    task.log.push(exitstatus === "OK" ? "TASK OK" : exitstatus.startsWith("WARNINGS") ? `TASK ${exitstatus}` : `TASK ERROR: ${exitstatus}`);
    task.exitstatus = exitstatus;
    task.status = "stopped";
    task.endtime = endtime;
  };

  return {
    start(workerType, workerId, authid, work) {
      const task = create(workerType, workerId, authid, Math.floor(Date.now() / 1000));
      const timer = setTimeout(() => {
        timers.delete(timer);
        let status = "OK";
        try {
          work((line) => task.log.push(line));
        } catch (err) {
          status = (err instanceof Error ? err.message : String(err)).replace(/\n+$/, "");
        }
        stop(task, status, Math.floor(Date.now() / 1000));
      }, durationMs);
      timer.unref();
      timers.add(timer);
      return task;
    },
    record(workerType, workerId, authid, starttime, seconds, log, exitstatus = "OK") {
      const task = create(workerType, workerId, authid, starttime);
      task.log.push(...log);
      stop(task, exitstatus, starttime + seconds);
      return task;
    },
    find: (upid) => tasks.get(upid),
    all: () => [...tasks.values()].sort((a, b) => b.starttime - a.starttime || b.taskId - a.taskId),
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
