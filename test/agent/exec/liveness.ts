import { readFileSync } from "node:fs";

/**
 * Whether a process still runs. process.kill(pid, 0) also succeeds for a zombie, and in a container whose
 * init does not reap orphans a killed background child stays one, so state Z counts as dead.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Waits until the process is gone; false if it still runs after `ms`. */
export async function diesWithin(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !isAlive(pid);
}

/** Reads a pid a test command wrote, waiting for the file to appear. */
export async function readPid(file: string, ms = 5_000): Promise<number> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const pid = Number(readFileSync(file, "utf8").trim());
      if (pid > 0) return pid;
    } catch {
      // not written yet
    }
    if (Date.now() > until) throw new Error(`no pid in ${file} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
