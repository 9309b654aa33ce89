import { ToolError } from "../../shared/errors.ts";

interface Waiter {
  grant: () => void;
}

/**
 * At most `max` commands run at once; the others wait in arrival order. A waiter whose signal aborts
 * leaves the queue with a "cancelled" error and takes no slot.
 *
 * @example
 * const slots = new ExecSlots(4);
 * const result = await slots.run(() => runLocal({ command, signal }), signal);
 */
export class ExecSlots {
  private readonly max: number;
  private active = 0;
  private readonly queue: Waiter[] = [];

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`ExecSlots: max must be a positive integer, got ${max}`);
    this.max = max;
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Waits for a slot; resolves to the function that gives it back (calling it twice is harmless). */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(cancelled());
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.releaser());
        },
      };
      const onAbort = () => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(cancelled());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  /** Runs `task` in a slot and frees the slot however the task ends. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await task();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      // The slot passes straight to the next waiter, so `active` stays the same.
      if (next) next.grant();
      else this.active--;
    };
  }
}

function cancelled(): ToolError {
  return new ToolError("cancelled", "the command was cancelled while waiting for a free execution slot");
}
