import type { LatencyOptions } from "./load.ts";

/** How long each measurement runs; `--quick` shortens all of them for a smoke run. */
export interface Phases {
  /** Latency of operations that take microseconds (echo, in-process handlers). */
  fastLatency: LatencyOptions;
  /** Latency of operations that take milliseconds (HTTP, relayed calls, PVE). */
  latency: LatencyOptions;
  throughput: { warmupMs: number; durationMs: number };
  concurrency: number[];
  /** Sessions the concurrent calls are spread over. */
  sessions: number;
  reconnectDrops: number;
}

export function phasesFor(quick: boolean): Phases {
  const scale = quick ? 0.2 : 1;
  return {
    fastLatency: { warmup: Math.ceil(1_000 * scale), count: Math.ceil(10_000 * scale), maxMs: 5_000 * scale },
    latency: { warmup: Math.ceil(300 * scale), count: Math.ceil(2_000 * scale), maxMs: 8_000 * scale },
    throughput: { warmupMs: 1_000 * scale, durationMs: 4_000 * scale },
    concurrency: [16, 64],
    sessions: 8,
    reconnectDrops: quick ? 3 : 10,
  };
}
