import { z } from "zod";

/** Retry timing shared by notifier deliveries, socket reconnects and journalctl restarts, in config. */
export function backoffSchema(baseMs: number, maxMs: number) {
  return z
    .object({
      base_ms: z.number().int().min(1).max(600_000).default(baseMs),
      max_ms: z.number().int().min(1).max(3_600_000).default(maxMs),
    })
    .strict()
    .prefault({});
}
export type BackoffOptions = z.infer<ReturnType<typeof backoffSchema>>;

/**
 * Exponential backoff with "equal jitter": half the capped delay fixed, half random, so retries of many
 * senders spread out without ever collapsing to an immediate retry.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const capped = Math.min(opts.max_ms, opts.base_ms * 2 ** Math.min(attempt, 30));
  return capped / 2 + Math.random() * (capped / 2);
}

/** Waits `ms`; resolves early (to false) when the signal aborts, true when the time passed. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
