/**
 * The simulated Proxmox Backup Server "pbs1": two datastores with the backups PVE's cluster "sim"
 * made, their garbage-collection state and the task history.
 *
 *   store1   main datastore; groups vm/100 (14 dailies + 4 weeklies, the oldest protected), vm/101,
 *            vm/102 (its newest snapshot is corrupt: it failed verification and fails it again),
 *            ct/200, ct/201, host/pve1
 *   archive  in maintenance mode read-only; vm/100 monthlies
 */
import type { PbsTaskRunner } from "./tasks.ts";

export type BackupType = "vm" | "ct" | "host";

export interface PbsSnapshot {
  type: BackupType;
  id: string;
  /** Epoch seconds; the snapshot's name is this time as RFC 3339. */
  time: number;
  files: Array<{ filename: string; size: number; "crypt-mode": "none" }>;
  size: number;
  protected: boolean;
  verification?: { state: "ok" | "failed"; upid: string };
  comment?: string;
  /** Its chunks are damaged: verification fails. */
  corrupt?: boolean;
}

export interface GcStatus {
  upid?: string;
  "last-run-state"?: string;
  "last-run-endtime"?: number;
  duration?: number;
  "index-file-count": number;
  "index-data-bytes": number;
  "disk-bytes": number;
  "disk-chunks": number;
  "removed-bytes": number;
  "removed-chunks": number;
  "pending-bytes": number;
  "pending-chunks": number;
  "removed-bad": number;
  "still-bad": number;
}

export interface PbsDatastore {
  store: string;
  path: string;
  comment?: string;
  /** "<type>:<message>" in maintenance mode, type read-only or offline. */
  maintenance?: string;
  gcSchedule?: string;
  total: number;
  /** Bytes of unique chunks on disk (deduplicated). */
  used: number;
  owners: Map<string, string>;
  snapshots: PbsSnapshot[];
  gc: GcStatus;
}

export interface PbsModel {
  node: string;
  datastores: PbsDatastore[];
}

const GiB = 1024 ** 3;
const TiB = 1024 ** 4;
const day = 86400;

export const groupKey = (s: Pick<PbsSnapshot, "type" | "id">): string => `${s.type}/${s.id}`;

/** "2025-11-23T02:00:00Z", the snapshot directory name. */
export function snapshotName(s: PbsSnapshot): string {
  return `${groupKey(s)}/${new Date(s.time * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")}`;
}

function files(type: BackupType, diskGiB: number): PbsSnapshot["files"] {
  const used = Math.round(diskGiB * GiB * 0.41);
  if (type === "vm") {
    return [
      { filename: "qemu-server.conf.blob", size: 712, "crypt-mode": "none" },
      { filename: "drive-scsi0.img.fidx", size: diskGiB * GiB, "crypt-mode": "none" },
      { filename: "index.json.blob", size: 518, "crypt-mode": "none" },
      { filename: "client.log.blob", size: 2204, "crypt-mode": "none" },
    ];
  }
  if (type === "ct") {
    return [
      { filename: "pct.conf.blob", size: 402, "crypt-mode": "none" },
      { filename: "root.pxar.didx", size: used, "crypt-mode": "none" },
      { filename: "catalog.pcat1.didx", size: 210_331, "crypt-mode": "none" },
      { filename: "index.json.blob", size: 467, "crypt-mode": "none" },
    ];
  }
  return [
    { filename: "etc.pxar.didx", size: 3_276_800, "crypt-mode": "none" },
    { filename: "catalog.pcat1.didx", size: 41_223, "crypt-mode": "none" },
    { filename: "index.json.blob", size: 390, "crypt-mode": "none" },
  ];
}

function series(type: BackupType, id: string, diskGiB: number, times: number[]): PbsSnapshot[] {
  return times.map((time) => {
    const f = files(type, diskGiB);
    return { type, id, time, files: f, size: f.reduce((sum, x) => sum + x.size, 0), protected: false };
  });
}

const dailies = (last: number, count: number): number[] => Array.from({ length: count }, (_, i) => last - i * day);

/** Seeds pbs1 as of `now`, with the verification and GC history recorded as tasks. */
export function seedPbs(now: number, tasks: PbsTaskRunner): PbsModel {
  const today2am = now - (now % day) + 2 * 3600 - (now % day < 2 * 3600 ? day : 0);
  const sunday = today2am - ((new Date(today2am * 1000).getUTCDay() + 7) % 7) * day;
  const vm100 = series("vm", "100", 32, [...dailies(today2am, 14), ...Array.from({ length: 4 }, (_, i) => sunday - (14 + i * 7) * day)]);
  vm100.at(-1)!.protected = true;
  vm100.at(-1)!.comment = "before upgrade to PVE 9";
  const vm102 = series("vm", "102", 40, dailies(today2am + 600, 7));
  vm102[0].corrupt = true;
  const store1Snapshots = [
    ...vm100,
    ...series("vm", "101", 264, dailies(today2am + 300, 7)),
    ...vm102,
    ...series("ct", "200", 8, dailies(today2am + 900, 10)),
    ...series("ct", "201", 8, dailies(today2am + 960, 5)),
    ...series("host", "pve1", 0, Array.from({ length: 8 }, (_, i) => sunday + 3 * 3600 - i * 7 * day)),
  ];
  const verifyStart = today2am + 4 * 3600 - (today2am + 4 * 3600 > now ? day : 0);
  const verify = tasks.record("verificationjob", "store1:v-5c1b2a7e-0d1f", "root@pam", verifyStart, 412, [
    "verify datastore store1",
    "found 6 groups",
    `verify group store1:vm/102 (7 snapshots)`,
    `  verify store1:${snapshotName(vm102[0])}`,
    "  can't verify chunk, load failed - store 'store1', unable to load chunk '0b7c6e3d1a5f4e2d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d' - blob too small",
    `  verify store1:${snapshotName(vm102[0])}/drive-scsi0.img.fidx failed: chunks could not be verified`,
    "Failed to verify the following snapshots/groups:",
    `\t${snapshotName(vm102[0])}`,
  ], "verification failed - please check the log for details");
  for (const s of store1Snapshots) if (s.time < verifyStart) s.verification = { state: s.corrupt ? "failed" : "ok", upid: verify.upid };
  const gcStart = now - 20 * 3600;
  const gc = tasks.record("garbage_collection", "store1", "root@pam", gcStart, 183, ["starting garbage collection on store store1", "Start GC phase1 (mark used chunks)", "Start GC phase2 (sweep unused chunks)", "Removed garbage: 11.203 GiB", "Removed chunks: 2867", "Original data usage: 1.62 TiB", "On-Disk usage: 410.55 GiB (24.70%)", "Deduplication factor: 4.05"]);
  tasks.record("prunejob", "store1:p-0f1e2d3c-4b5a", "root@pam", gcStart - 1800, 4, ["prune job 'p-0f1e2d3c-4b5a'", "Starting datastore prune on datastore 'store1', root namespace", "retention options: --keep-daily 14 --keep-weekly 4", "Pruning group vm/100", "Pruning group ct/200"]);
  tasks.record("backup", "store1:vm/100", "root@pam", today2am, 96, ["starting new backup on datastore 'store1' from ::ffff:10.0.0.11: \"vm/100/...\"", "backup finished successfully"]);
  const archiveSnapshots = series("vm", "100", 32, Array.from({ length: 6 }, (_, i) => today2am - (60 + 30 * i) * day));
  const owners = (snapshots: PbsSnapshot[]) => new Map(snapshots.map((s) => [groupKey(s), "root@pam"]));
  return {
    node: "pbs1",
    datastores: [
      {
        store: "store1",
        path: "/mnt/datastore/store1",
        comment: "main backup datastore",
        gcSchedule: "daily",
        total: 4 * TiB,
        used: Math.round(410.55 * GiB),
        owners: owners(store1Snapshots),
        snapshots: store1Snapshots,
        gc: {
          upid: gc.upid,
          "last-run-state": "ok",
          "last-run-endtime": gcStart + 183,
          duration: 183,
          "index-file-count": store1Snapshots.length,
          "index-data-bytes": Math.round(1.62 * TiB),
          "disk-bytes": Math.round(410.55 * GiB),
          "disk-chunks": 168_404,
          "removed-bytes": Math.round(11.203 * GiB),
          "removed-chunks": 2867,
          "pending-bytes": 0,
          "pending-chunks": 0,
          "removed-bad": 0,
          "still-bad": 1,
        },
      },
      {
        store: "archive",
        path: "/mnt/datastore/archive",
        comment: "cold storage",
        maintenance: "read-only:migrating to new disks",
        total: 8 * TiB,
        used: Math.round(61.2 * GiB),
        owners: owners(archiveSnapshots),
        snapshots: archiveSnapshots,
        gc: { "index-file-count": 6, "index-data-bytes": 192 * GiB, "disk-bytes": Math.round(61.2 * GiB), "disk-chunks": 24_881, "removed-bytes": 0, "removed-chunks": 0, "pending-bytes": 0, "pending-chunks": 0, "removed-bad": 0, "still-bad": 0 },
      },
    ],
  };
}

export interface KeepOptions {
  "keep-last"?: number;
  "keep-hourly"?: number;
  "keep-daily"?: number;
  "keep-weekly"?: number;
  "keep-monthly"?: number;
  "keep-yearly"?: number;
}

/** ISO-8601 week "2025/47" (strftime %G/%V), in UTC. */
function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const weekday = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}/${String(week).padStart(2, "0")}`;
}

const selectors: Array<[keyof KeepOptions, (s: PbsSnapshot) => string]> = [
  ["keep-last", (s) => snapshotName(s)],
  ["keep-hourly", (s) => new Date(s.time * 1000).toISOString().slice(0, 13)],
  ["keep-daily", (s) => new Date(s.time * 1000).toISOString().slice(0, 10)],
  ["keep-weekly", (s) => isoWeek(new Date(s.time * 1000))],
  ["keep-monthly", (s) => new Date(s.time * 1000).toISOString().slice(0, 7)],
  ["keep-yearly", (s) => new Date(s.time * 1000).toISOString().slice(0, 4)],
];

export type PruneMark = "keep" | "protected" | "remove";

/**
 * pbs-datastore prune.rs compute_prune_info: newest first, each keep-* option keeps the newest
 * snapshot of each of the last N periods not already covered; protected snapshots are always kept;
 * without any keep option everything is kept.
 */
export function computePrune(group: PbsSnapshot[], keep: KeepOptions): Array<{ snapshot: PbsSnapshot; mark: PruneMark }> {
  const list = [...group].sort((a, b) => b.time - a.time);
  const marks = new Map<PbsSnapshot, PruneMark>();
  const anyKeep = selectors.some(([option]) => (keep[option] ?? 0) > 0);
  if (!anyKeep) return list.map((snapshot) => ({ snapshot, mark: snapshot.protected ? "protected" : "keep" }));
  for (const [option, select] of selectors) {
    const count = keep[option] ?? 0;
    if (count <= 0) continue;
    const alreadyIncluded = new Set(list.filter((s) => marks.get(s) === "keep").map(select));
    const included = new Set<string>();
    for (const s of list) {
      if (marks.has(s)) continue;
      if (s.protected) {
        marks.set(s, "protected");
        continue;
      }
      const id = select(s);
      if (alreadyIncluded.has(id)) continue;
      if (!included.has(id)) {
        if (included.size >= count) break;
        included.add(id);
        marks.set(s, "keep");
      } else {
        marks.set(s, "remove");
      }
    }
  }
  return list.map((snapshot) => ({ snapshot, mark: marks.get(snapshot) ?? (snapshot.protected ? "protected" : "remove") }));
}
