/**
 * fork_worker for the guest and storage handlers: a task on the executing node, started by the
 * caller, optionally holding a guest config lock for as long as it runs (as vzdump, migrate and
 * clone hold 'backup', 'migrate' and 'clone').
 */
import type { CallContext } from "./context.ts";
import type { SimGuest } from "./state.ts";
import type { TaskWork } from "./tasks.ts";

export interface WorkerOptions {
  /** Lines printed while the task runs, spread over its duration. */
  log?: string[];
  /** Guests locked with this lock name while the task runs; released when it ends. */
  locks?: Array<{ guest: SimGuest; lock: string }>;
  /** Runs when the task ends, however it ends. */
  cleanup?: () => void;
}

export function forkWorker(ctx: CallContext, type: string, id: string, work: TaskWork, options: WorkerOptions = {}): string {
  for (const { guest, lock } of options.locks ?? []) guest.config.lock = lock;
  const cleanup = (): void => {
    for (const { guest, lock } of options.locks ?? []) if (guest.config.lock === lock) delete guest.config.lock;
    options.cleanup?.();
  };
  return ctx.sim.tasks.start(ctx.node, type, id, ctx.authid ?? "root@pam", work, { log: options.log, cleanup }).upid;
}

/** "2026-11-23 10:00:00": the timestamp prefix of migration and vzdump log lines (UTC, like the nodes). */
export function logTime(at = Date.now()): string {
  return new Date(at).toISOString().replace("T", " ").slice(0, 19);
}

/** PVE::JSONSchema::format_size style: "32G", "512M", or bytes. */
export function formatSize(bytes: number): string {
  for (const [unit, power] of [["T", 4], ["G", 3], ["M", 2], ["K", 1]] as const) {
    if (bytes % 1024 ** power === 0) return `${bytes / 1024 ** power}${unit}`;
  }
  return String(bytes);
}
