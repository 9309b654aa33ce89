import type { EventSource, Severity } from "../../shared/event.ts";

/** What a listener emits: an observation not yet normalised, filtered or given its final id. */
export interface RawEvent {
  source: EventSource;
  /** When it happened (the source's own clock when it has one); default: when it was received. */
  time?: Date;
  node?: string;
  severity: Severity;
  title: string;
  message: string;
  metadata?: Record<string, unknown>;
  /** Names the happening itself (a task's UPID plus phase, a journal cursor): gives a stable id, so a re-observed event keeps its id. */
  stableKey?: string;
  /** Events with the same key inside the dedup window are one; default: source, node, title and message. */
  dedupKey?: string;
  /** The token bucket this event draws from; default: source and node. */
  rateKey?: string;
}

export type Emit = (event: RawEvent) => void;

/** Counters every listener keeps; some add their own (e.g. `rejected`, `malformed`). */
export interface ListenerCounters {
  /** Inputs seen: datagrams, requests, lines, polls. */
  received: number;
  emitted: number;
  errors: number;
  [extra: string]: number;
}

/** A source of raw events: started once, stopped once, its counters readable at any time. */
export interface EventListener {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  counters(): ListenerCounters;
}

const syslogLevels: Severity[] = ["critical", "critical", "critical", "error", "warning", "notice", "info", "debug"];

/** Syslog / journald priority 0 (emerg) .. 7 (debug) as an event severity; emerg, alert and crit are all "critical". */
export function severityFromSyslog(level: number): Severity {
  return syslogLevels[Math.min(7, Math.max(0, Math.trunc(level)))] ?? "info";
}
