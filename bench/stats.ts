/** Latency samples in milliseconds, summarised the way the report shows them. */
export interface Latency {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

/** Nearest-rank percentiles; the samples are sorted in place. */
export function summarize(samples: number[]): Latency {
  if (samples.length === 0) return { n: 0, p50: Number.NaN, p99: Number.NaN, mean: Number.NaN };
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.max(0, Math.ceil(q * samples.length) - 1))];
  const mean = samples.reduce((sum, x) => sum + x, 0) / samples.length;
  return { n: samples.length, p50: at(0.5), p99: at(0.99), mean };
}

export function median(values: number[]): number {
  return summarize([...values]).p50;
}

/** Milliseconds with precision that suits their size: 0.042 ms, 1.37 ms, 125 ms. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  if (value < 0.1) return `${value.toFixed(3)} ms`;
  if (value < 10) return `${value.toFixed(2)} ms`;
  return `${value.toFixed(0)} ms`;
}

export function rate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return "n/a";
  return `${Math.round(perSecond).toLocaleString("en-US")} /s`;
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

export function ratio(value: number, baseline: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return "n/a";
  return `${(value / baseline).toFixed(value / baseline < 10 ? 2 : 0)}×`;
}
