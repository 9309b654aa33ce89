import { z } from "zod";
import { formatZodError } from "../../../shared/errors.ts";
import type { Logger } from "../../../shared/log.ts";
import { flag, num } from "../../tools/scalars.ts";
import type { EventListener, ListenerCounters } from "../source.ts";

/** The slice of the PVE client the listeners need: one GET that returns PVE's `data`. */
export interface PveReader {
  get(path: string, params?: Record<string, unknown>): Promise<unknown>;
}

/** One row of GET /cluster/tasks; running tasks have neither `endtime` nor `status`. */
export const clusterTaskRow = z.looseObject({
  upid: z.string().startsWith("UPID:"),
  node: z.string().optional(),
  type: z.string().optional(),
  id: z.coerce.string().optional(),
  user: z.string().optional(),
  starttime: num,
  endtime: num.optional(),
  status: z.string().optional(),
});
export type ClusterTask = z.infer<typeof clusterTaskRow>;

/** One row of GET /cluster/status: the `cluster` row carries quorum, `node` rows carry online state. */
export const clusterStatusRow = z.looseObject({
  type: z.string(),
  name: z.string(),
  quorate: flag.optional(),
  online: flag.optional(),
});
export type ClusterStatus = z.infer<typeof clusterStatusRow>;

/**
 * Validates a PVE list reply row by row: a row PVE shapes differently (a new version, a half-written
 * entry) is skipped and counted, not allowed to hide every other row.
 */
export function parseRows<T extends z.ZodType>(schema: T, reply: unknown, path: string, log: Logger): { rows: z.infer<T>[]; invalid: number } {
  if (!Array.isArray(reply)) throw new Error(`GET ${path} did not return a list`);
  const rows: z.infer<T>[] = [];
  let invalid = 0;
  for (const item of reply) {
    const parsed = schema.safeParse(item);
    if (parsed.success) rows.push(parsed.data);
    else {
      invalid++;
      log.debug("skipping a row PVE shaped unexpectedly", { path, error: formatZodError(parsed.error) });
    }
  }
  return { rows, invalid };
}

export interface Upid {
  node: string;
  pid: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

/** Splits `UPID:node:pid:pstart:starttime:type:id:user:` (hex numbers); undefined if it is not one. */
export function parseUpid(upid: string): Upid | undefined {
  const parts = upid.split(":");
  if (parts.length < 8 || parts[0] !== "UPID") return undefined;
  const [, node, pid, , start, type, id, user] = parts;
  return { node, pid: parseInt(pid, 16), starttime: parseInt(start, 16), type, id, user };
}

/**
 * A listener that polls PVE every `intervalMs`, never two polls at once (the next starts after the
 * previous ends). A failed poll is counted and logged, and polling goes on. Stop does not wait for a
 * request in flight (PveReader takes no signal): the poll sees its signal aborted and emits nothing
 * from that late reply.
 */
export abstract class PollingListener implements EventListener {
  abstract readonly name: string;
  protected readonly log: Logger;
  protected readonly stats: ListenerCounters = { received: 0, emitted: 0, errors: 0, invalid: 0 };
  private readonly intervalMs: number;
  private timer?: NodeJS.Timeout;
  private controller?: AbortController;

  constructor(intervalMs: number, log: Logger) {
    this.intervalMs = intervalMs;
    this.log = log;
  }

  /** One poll; public so tests (and a caller that wants fresh state now) can drive it without the timer. */
  abstract poll(signal?: AbortSignal): Promise<void>;

  async start(): Promise<void> {
    if (this.controller) return;
    this.controller = new AbortController();
    this.schedule(0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.controller?.abort();
    this.controller = undefined;
  }

  counters(): ListenerCounters {
    return { ...this.stats };
  }

  private schedule(delay: number): void {
    const controller = this.controller;
    if (!controller) return;
    this.timer = setTimeout(async () => {
      try {
        await this.poll(controller.signal);
      } catch (err) {
        this.stats.errors++;
        this.log.warn("polling PVE failed", { listener: this.name, error: (err as Error).message });
      }
      if (!controller.signal.aborted) this.schedule(this.intervalMs);
    }, delay);
  }
}
