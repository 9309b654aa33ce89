import { summarize, type Latency } from "./stats.ts";

/** One operation to time; it throws when the operation failed. */
export type Call = () => Promise<void>;

/** CPU time a process (or process group) has used so far, in milliseconds. */
export interface CpuMeter {
  name: string;
  read(): number;
}

export interface LatencyOptions {
  warmup: number;
  count: number;
  /** Stops early when the samples take longer than this, so a slow path cannot stretch the run. */
  maxMs: number;
}

export interface Measured<T> {
  value: T;
  errors: number;
  firstError?: string;
}

/** Calls one at a time (concurrency 1) and returns the latency distribution. */
export async function measureLatency(call: Call, o: LatencyOptions): Promise<Measured<Latency>> {
  const failures = new Failures();
  for (let i = 0; i < o.warmup; i++) await failures.run(call);
  const samples: number[] = [];
  const until = performance.now() + o.maxMs;
  while (samples.length < o.count && performance.now() < until) {
    const started = performance.now();
    if (await failures.run(call)) samples.push(performance.now() - started);
  }
  return { value: summarize(samples), ...failures.summary() };
}

export interface ThroughputOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Processes whose CPU time is divided by the calls made, to show where each call's CPU goes. */
  meters?: CpuMeter[];
}

export interface Throughput {
  concurrency: number;
  perSecond: number;
  calls: number;
  latency: Latency;
  /** CPU milliseconds per call, by meter name. */
  cpuPerCall: Record<string, number>;
}

/** Keeps `concurrency` calls in flight for the duration and counts the ones that succeed. */
export async function measureThroughput(callFor: (loop: number) => Call, o: ThroughputOptions): Promise<Measured<Throughput>> {
  const failures = new Failures();
  await drive(callFor, o.concurrency, o.warmupMs, failures);
  const meters = o.meters ?? [];
  const cpuBefore = meters.map((m) => m.read());
  const samples: number[] = [];
  const started = performance.now();
  await drive(callFor, o.concurrency, o.durationMs, failures, samples);
  const seconds = (performance.now() - started) / 1000;
  const cpuPerCall = Object.fromEntries(meters.map((m, i) => [m.name, (m.read() - cpuBefore[i]) / Math.max(1, samples.length)]));
  return {
    value: { concurrency: o.concurrency, perSecond: samples.length / seconds, calls: samples.length, latency: summarize(samples), cpuPerCall },
    ...failures.summary(),
  };
}

async function drive(callFor: (loop: number) => Call, concurrency: number, durationMs: number, failures: Failures, samples?: number[]): Promise<void> {
  const until = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      const call = callFor(loop);
      while (performance.now() < until) {
        const started = performance.now();
        if (await failures.run(call)) samples?.push(performance.now() - started);
      }
    }),
  );
}

/** Counts failed calls instead of aborting the run; the report shows a figure with errors as such. */
class Failures {
  private count = 0;
  private first?: string;

  async run(call: Call): Promise<boolean> {
    try {
      await call();
      return true;
    } catch (err) {
      this.count++;
      this.first ??= err instanceof Error ? err.message : String(err);
      if (this.count > 1000) throw new Error(`more than 1000 failed calls; the first: ${this.first}`);
      return false;
    }
  }

  summary(): { errors: number; firstError?: string } {
    return { errors: this.count, ...(this.first ? { firstError: this.first } : {}) };
  }
}
