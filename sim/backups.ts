/**
 * Backups: scheduled vzdump jobs (/etc/pve/jobs.cfg, GET /cluster/backup) and the vzdump worker's
 * log, after pve-manager PVE/VZDump.pm, PVE/VZDump/QemuServer.pm and PVE/VZDump/LXC.pm.
 */
import { guestDiskBytes } from "./storage-content.ts";
import type { SimGuest } from "./state.ts";

/**
 * One vzdump section of /etc/pve/jobs.cfg plus its id: the properties as the file keeps them (property
 * strings such as prune-backups as text); any other vzdump option the job sets passes through.
 */
export interface SimBackupJob {
  id: string;
  type: "vzdump";
  schedule: string;
  enabled: number;
  storage?: string;
  mode?: string;
  compress?: string;
  all?: number;
  vmid?: string;
  pool?: string;
  exclude?: string;
  node?: string;
  comment?: string;
  "notes-template"?: string;
  "prune-backups"?: string;
  "notification-mode"?: string;
  [option: string]: string | number | undefined;
}

/** Options jobs.cfg keeps as property strings and the API returns parsed (PVE::VZDump::JobBase decode_value), with their default key. */
const propertyStrings: Record<string, string | undefined> = { "prune-backups": undefined, fleecing: "enabled", performance: undefined };

/** A job as GET /cluster/backup returns it: property strings become objects, numbers numbers. */
export function decodeJob(job: SimBackupJob): Record<string, unknown> {
  const out: Record<string, unknown> = { ...job };
  for (const [key, defaultKey] of Object.entries(propertyStrings)) {
    const text = job[key];
    if (typeof text !== "string") continue;
    const pairs = text.split(",").filter(Boolean).map((part) => {
      const at = part.indexOf("=");
      const [k, v] = at < 0 ? [defaultKey ?? part, part] : [part.slice(0, at), part.slice(at + 1)];
      return [k, /^\d+$/.test(v) ? Number(v) : v];
    });
    out[key] = Object.fromEntries(pairs);
  }
  return out;
}

export function seedBackupJobs(): SimBackupJob[] {
  return [
    { id: "backup-5b1e7c3a-91d2", type: "vzdump", schedule: "02:00", enabled: 1, storage: "backup", mode: "snapshot", compress: "zstd", all: 1,
      exclude: "9000", "notes-template": "{{guestname}}", "prune-backups": "keep-daily=7,keep-weekly=4", comment: "Nightly, all guests", "notification-mode": "notification-system" },
    { id: "backup-c04d8f26-3e7a", type: "vzdump", schedule: "sat 04:30", enabled: 0, storage: "local", mode: "stop", compress: "zstd", vmid: "101,102",
      comment: "Weekly cold backup of the databases (paused)", "notification-mode": "notification-system" },
  ];
}

const GiB = 1024 ** 3;
const human = (bytes: number): string => `${(bytes / GiB).toFixed(1)} GiB`;

/** The progress lines of one guest's backup, as the vma / pbs writer reports them. */
export function progressLines(g: SimGuest, steps: number): string[] {
  const total = Math.max(guestDiskBytes(g.config), GiB);
  const lines: string[] = [];
  for (let i = 1; i <= steps; i++) {
    const pct = Math.round((100 * i) / steps);
    lines.push(`INFO: ${String(pct).padStart(3)}% (${human((total * pct) / 100)} of ${human(total)}) in ${i * 3}s, read: 412.0 MiB/s, write: 198.3 MiB/s`);
  }
  return lines;
}
