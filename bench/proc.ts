import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import type { CpuMeter } from "./load.ts";

export interface Memory {
  /** Resident set size now (VmRSS), in bytes. */
  rss: number;
  /** Peak resident set size since the process started (VmHWM), in bytes. */
  hwm: number;
}

/** VmRSS and VmHWM of a process, from /proc/<pid>/status. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
}

/** Samples a process's VmRSS until stopped; resolves with the highest value seen. */
export function sampleRss(pid: number, everyMs: number): { stop(): number } {
  let peak = 0;
  const sample = () => {
    try {
      peak = Math.max(peak, memoryOf(pid).rss);
    } catch {
      // the process exited; keep the peak seen so far
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/**
 * User + system CPU of every live process in a process group (a spawned child and, e.g., wrangler's workerd).
 * A process that exits takes its CPU time with it; the report shows a negative difference as n/a.
 */
export function groupCpuMeter(name: string, pgid: number): CpuMeter {
  return {
    name,
    read() {
      let ticks = 0;
      for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        let stat: string;
        try {
          stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        } catch {
          continue;
        }
        // Fields after "(comm)": state ppid pgrp ... utime (14th field) stime (15th).
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
      }
      return (ticks * 1000) / ticksPerSecond;
    },
  };
}

/** CPU of this process (the benchmark's clients). */
export function selfCpuMeter(name: string): CpuMeter {
  return {
    name,
    read() {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    },
  };
}
