/**
 * Worker tasks, as PVE::RESTEnvironment::fork_worker runs them: each gets a UPID, runs for a while,
 * writes its log, and ends with "TASK OK" or "TASK ERROR: <message>" as the last log line, from
 * which the task's exitstatus is read (PVE::UPID::read_status). The work itself runs when the task
 * ends, so its checks and effects happen in order, like PVE's per-guest config lock makes them.
 */
import { randomInt } from "node:crypto";
import { epoch, type SimNode } from "./state.ts";

export interface TaskInfo {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  /** Epoch seconds. */
  starttime: number;
  type: string;
  id: string;
  /** The authid that started it: user or token id, as in the UPID. */
  user: string;
}

export interface Task extends TaskInfo {
  status: "running" | "stopped";
  exitstatus?: string;
  endtime?: number;
  /** Log lines written so far (the final TASK line included once stopped). */
  log: string[];
}

/** A task failure that prints lines (e.g. "ERROR: ...") before its "TASK ERROR: <message>" line. */
export class TaskFailure extends Error {
  readonly lines: string[];

  constructor(message: string, lines: string[]) {
    super(message);
    this.name = "TaskFailure";
    this.lines = lines;
  }
}

/** Runs the task's work; returns extra log lines, throws to fail the task with the error's message. */
export type TaskWork = () => string[] | void;

export interface TaskOptions {
  /** Lines the worker prints while it runs, spread evenly over its duration (the first at once). */
  log?: string[];
  /** Runs when the task stops, whether it succeeded, failed or was interrupted (e.g. to drop a lock). */
  cleanup?: () => void;
}

export interface TaskRunner {
  start(node: SimNode, type: string, id: string, user: string, work: TaskWork, options?: TaskOptions): Task;
  find(upid: string): Task | undefined;
  /** All tasks, oldest first. */
  all(): readonly Task[];
  /** DELETE /nodes/{node}/tasks/{upid}: a running worker gets SIGTERM and dies "received interrupt". */
  interrupt(upid: string): void;
  close(): void;
}

const hex8 = (n: number): string => n.toString(16).toUpperCase().padStart(8, "0");

/** PVE::UPID::encode: "UPID:$node:$pid:$pstart:$starttime:$type:$id:$user:" with 8-digit hex numbers. */
export function encodeUpid(t: Omit<TaskInfo, "upid">): string {
  return `UPID:${t.node}:${hex8(t.pid)}:${hex8(t.pstart)}:${hex8(t.starttime)}:${t.type}:${t.id}:${t.user}:`;
}

const upidRe =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

/** PVE::UPID::decode; undefined when the string is not a UPID. */
export function decodeUpid(upid: string): Omit<TaskInfo, "upid"> | undefined {
  const m = upidRe.exec(upid);
  if (!m) return undefined;
  return { node: m[1], pid: parseInt(m[3], 16), pstart: parseInt(m[4], 16), starttime: parseInt(m[5], 16), type: m[6], id: m[7], user: m[8] };
}

function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\n+$/, "");
}

export function createTaskRunner(durationMs: number): TaskRunner {
  const tasks = new Map<string, Task>();
  const timers = new Map<string, NodeJS.Timeout>();
  const logTimers = new Map<string, NodeJS.Timeout[]>();
  const cleanups = new Map<string, () => void>();

  const finish = (task: Task, work: TaskWork): void => {
    timers.delete(task.upid);
    for (const t of logTimers.get(task.upid) ?? []) clearTimeout(t);
    logTimers.delete(task.upid);
    try {
      task.log.push(...(work() ?? []));
      // A worker's warn() prints "WARN: ..." and turns the final status into "WARNINGS: <count>".
      const warnings = task.log.filter((line) => line.startsWith("WARN: ")).length;
      task.exitstatus = warnings ? `WARNINGS: ${warnings}` : "OK";
      task.log.push(warnings ? `TASK ${task.exitstatus}` : "TASK OK");
    } catch (err) {
      if (err instanceof TaskFailure) task.log.push(...err.lines);
      task.exitstatus = messageOf(err);
      task.log.push(`TASK ERROR: ${task.exitstatus}`);
    }
    cleanups.get(task.upid)?.();
    cleanups.delete(task.upid);
    task.status = "stopped";
    task.endtime = epoch();
  };

  return {
    start(node, type, id, user, work, options = {}) {
      const nowMs = Date.now();
      const starttime = Math.floor(nowMs / 1000);
      // pstart is the worker's start time in clock ticks (USER_HZ 100) since the node booted.
      const info = { node: node.name, pid: randomInt(100_000, 4_000_000), pstart: Math.floor((nowMs / 1000 - node.bootTime) * 100), starttime, type, id, user };
      const task: Task = { ...info, upid: encodeUpid(info), status: "running", log: [] };
      tasks.set(task.upid, task);
      if (options.cleanup) cleanups.set(task.upid, options.cleanup);
      const lines = options.log ?? [];
      if (lines.length) {
        task.log.push(lines[0]);
        const later = lines.slice(1).map((line, i) => setTimeout(() => task.log.push(line), (durationMs * (i + 1)) / lines.length));
        for (const t of later) t.unref();
        logTimers.set(task.upid, later);
      }
      const timer = setTimeout(() => finish(task, work), durationMs);
      timer.unref();
      timers.set(task.upid, timer);
      return task;
    },
    find: (upid) => tasks.get(upid),
    all: () => [...tasks.values()],
    interrupt(upid) {
      const task = tasks.get(upid);
      const timer = timers.get(upid);
      if (!task || !timer) return;
      clearTimeout(timer);
      finish(task, () => {
        throw new Error("received interrupt");
      });
    },
    close() {
      for (const timer of timers.values()) clearTimeout(timer);
      for (const t of [...logTimers.values()].flat()) clearTimeout(t);
      timers.clear();
      logTimers.clear();
    },
  };
}
