export type StopReason = "timeout" | "abort";

/**
 * Calls `stop` once, when `timeoutMs` has passed or `signal` aborts, whichever comes first.
 * Returns a function that disarms both (call it when the command ended by itself).
 */
export function watchStop(timeoutMs: number, signal: AbortSignal | undefined, stop: (why: StopReason) => void): () => void {
  let armed = true;
  const fire = (why: StopReason) => {
    if (!armed) return;
    disarm();
    stop(why);
  };
  const onAbort = () => fire("abort");
  const timer = setTimeout(() => fire("timeout"), timeoutMs);
  signal?.addEventListener("abort", onAbort, { once: true });
  function disarm() {
    armed = false;
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
  if (signal?.aborted) fire("abort");
  return disarm;
}
