import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BundleSize } from "./bundle.ts";
import type { DirectResults } from "./direct.ts";
import type { FloorResults } from "./floor.ts";
import type { Measured, Throughput } from "./load.ts";
import type { Machine } from "./machine.ts";
import type { HostExecResult, LoadMemory } from "./memory.ts";
import type { Memory } from "./proc.ts";
import type { ProfileSummary } from "./profile.ts";
import type { RelayResults } from "./relay.ts";
import { kib, median, ms, rate, ratio, summarize, type Latency } from "./stats.ts";

export interface Results {
  machine: Machine;
  startedAt: Date;
  seconds: number;
  quick: boolean;
  floor?: FloorResults;
  direct?: DirectResults;
  node?: RelayResults;
  wrangler?: RelayResults;
  memory: {
    bareAgentNode?: Memory;
    bareBenchNode?: Memory;
    bundleIdle?: Memory;
    bundleLoad?: LoadMemory;
    benchIdle?: Memory;
    /** Highest RSS of the benchmark's agent during the full-path runs on Node. */
    benchPeak?: number;
  };
  reconnect?: number[];
  hostExec?: HostExecResult;
  bundle?: BundleSize;
  bundleMinified?: BundleSize;
  profiles: ProfileSummary[];
  failures: string[];
}

type Status = "met" | "MISSED" | "";

interface Row {
  figure: string;
  measured: string;
  baseline: string;
  versus: string;
  target: string;
  status: string;
}

const TARGET = {
  overheadP50: 0.5,
  overheadP99: 3,
  wsMultiple: 2,
  noopPerSecond: 5_000,
  idleBytes: 40e6,
  loadBytes: 64e6,
  reconnectMs: 1_000,
};
const CLOUDFLARE_FREE_LIMIT = 3 * 1024 * 1024;

const signed = (value: number) => (value < 0 ? `−${ms(-value)}` : `+${ms(value)}`);
const mb = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? "n/a" : `${(bytes / 1e6).toFixed(1)} MB`);
const status = (ok: boolean | undefined): Status => (ok === undefined ? "" : ok ? "met" : "MISSED");

function lat(m: Measured<Latency> | undefined): string {
  if (!m) return "failed";
  const errors = m.errors ? ` (${m.errors} errors: ${m.firstError})` : "";
  return `p50 ${ms(m.value.p50)} / p99 ${ms(m.value.p99)}${errors}`;
}

function thr(m: Measured<Throughput> | undefined): string {
  if (!m) return "failed";
  const errors = m.errors ? ` (${m.errors} errors: ${m.firstError})` : "";
  return `${rate(m.value.perSecond)}${errors}`;
}

function overhead(full: Measured<Latency> | undefined, direct: Measured<Latency> | undefined): { p50: number; p99: number } | undefined {
  if (!full || !direct) return undefined;
  return { p50: full.value.p50 - direct.value.p50, p99: full.value.p99 - direct.value.p99 };
}

function relayRows(name: string, relay: RelayResults | undefined, r: Results, withTargets: boolean): Row[] {
  const d = r.direct;
  const noopOverhead = overhead(relay?.noop, d?.noop);
  const listOverhead = overhead(relay?.nodeList, d?.nodeList);
  const rows: Row[] = [
    {
      figure: `${name}: MCP ping (worker answers; no tunnel), c=1`,
      measured: lat(relay?.ping),
      baseline: `HTTP POST ${lat(r.floor?.http)}`,
      versus: relay && r.floor ? `${signed(relay.ping.value.p50 - r.floor.http.value.p50)} / ${signed(relay.ping.value.p99 - r.floor.http.value.p99)}` : "n/a",
      target: "",
      status: "",
    },
    {
      figure: `${name}: bench_noop, c=1`,
      measured: lat(relay?.noop),
      baseline: `direct bench_noop ${lat(d?.noop)}`,
      versus: noopOverhead ? `overhead ${signed(noopOverhead.p50)} / ${signed(noopOverhead.p99)}` : "n/a",
      target: withTargets ? `overhead < ${TARGET.overheadP50} ms p50, < ${TARGET.overheadP99} ms p99` : "",
      status: withTargets && noopOverhead ? `p50 ${status(noopOverhead.p50 < TARGET.overheadP50)}, p99 ${status(noopOverhead.p99 < TARGET.overheadP99)}` : "",
    },
  ];
  if (withTargets) {
    rows.push({
      figure: `${name}: relay overhead (bench_noop p50) vs raw WebSocket round trip`,
      measured: noopOverhead ? ms(noopOverhead.p50) : "n/a",
      baseline: `WS echo p50 ${r.floor ? ms(r.floor.ws.value.p50) : "n/a"}`,
      versus: noopOverhead && r.floor ? ratio(noopOverhead.p50, r.floor.ws.value.p50) : "n/a",
      target: `≤ ${TARGET.wsMultiple}×`,
      status: noopOverhead && r.floor ? status(noopOverhead.p50 <= TARGET.wsMultiple * r.floor.ws.value.p50) : "",
    });
  }
  if (withTargets) rows.push({
    figure: `${name}: tunnel and agent alone (bench_noop − MCP ping), c=1`,
    measured: relay ? `${ms(relay.noop.value.p50 - relay.ping.value.p50)} at p50` : "n/a",
    baseline: `WS echo p50 ${r.floor ? ms(r.floor.ws.value.p50) : "n/a"}`,
    versus: relay && r.floor ? ratio(relay.noop.value.p50 - relay.ping.value.p50, r.floor.ws.value.p50) : "n/a",
    target: "",
    status: "",
  });
  rows.push({
    figure: `${name}: node_list, c=1`,
    measured: lat(relay?.nodeList),
    baseline: `direct node_list ${lat(d?.nodeList)}`,
    versus: listOverhead ? `overhead ${signed(listOverhead.p50)} / ${signed(listOverhead.p99)}` : "n/a",
    target: "",
    status: "",
  });
  for (const [c, m] of Object.entries(relay?.noopThroughput ?? {})) {
    const ws = r.floor?.wsThroughput[Number(c)];
    rows.push({
      figure: `${name}: bench_noop throughput, c=${c}`,
      measured: thr(m),
      baseline: `WS echo c=${c} ${thr(ws)}`,
      versus: ws ? ratio(m.value.perSecond, ws.value.perSecond) : "n/a",
      target: withTargets ? `≥ ${rate(TARGET.noopPerSecond)}` : "",
      status: withTargets ? status(m.value.perSecond >= TARGET.noopPerSecond && m.errors === 0) : "",
    });
  }
  for (const [c, m] of Object.entries(relay?.nodeListThroughput ?? {})) {
    const direct = d?.nodeListThroughput[Number(c)];
    rows.push({
      figure: `${name}: node_list throughput, c=${c}`,
      measured: thr(m),
      baseline: `direct node_list c=${c} ${thr(direct)}`,
      versus: direct ? ratio(m.value.perSecond, direct.value.perSecond) : "n/a",
      target: "",
      status: "",
    });
  }
  return rows;
}

export function resultRows(r: Results): Row[] {
  const f = r.floor;
  const d = r.direct;
  const m = r.memory;
  const rows: Row[] = [
    { figure: "Floor: WebSocket echo round trip (2 processes), c=1", measured: lat(f?.ws), baseline: "", versus: "", target: "", status: "" },
    { figure: "Floor: HTTP POST round trip (fetch), c=1", measured: lat(f?.http), baseline: `WS echo ${lat(f?.ws)}`, versus: f ? ratio(f.http.value.p50, f.ws.value.p50) : "", target: "", status: "" },
    ...Object.entries(f?.wsThroughput ?? {}).map(([c, t]) => ({ figure: `Floor: WebSocket echo throughput, c=${c}`, measured: thr(t), baseline: "", versus: "", target: "", status: "" })),
    { figure: "Direct: bench_noop handler, in-process", measured: lat(d?.noop), baseline: "", versus: "", target: "", status: "" },
    { figure: "Direct: agent's PVE client, GET /nodes on the simulator", measured: lat(d?.pveGet), baseline: "", versus: "", target: "", status: "" },
    {
      figure: "Direct: node_list handler, in-process, on the simulator",
      measured: lat(d?.nodeList),
      baseline: `PVE client ${lat(d?.pveGet)}`,
      versus: d ? ratio(d.nodeList.value.p50, d.pveGet.value.p50) : "",
      target: "",
      status: "",
    },
    ...Object.entries(d?.nodeListThroughput ?? {}).map(([c, t]) => ({ figure: `Direct: node_list handler throughput, c=${c}`, measured: thr(t), baseline: "", versus: "", target: "", status: "" })),
    ...relayRows("Full path, worker on Node", r.node, r, true),
    ...relayRows("Full path, wrangler dev", r.wrangler, r, false),
    {
      figure: `Agent RSS idle (real bundle, Node ${r.machine.agentNode})`,
      measured: m.bundleIdle ? `${mb(m.bundleIdle.rss)} (VmHWM ${mb(m.bundleIdle.hwm)})` : "failed",
      baseline: `bare Node ${r.machine.agentNode} process ${mb(m.bareAgentNode?.rss)}`,
      versus: m.bundleIdle && m.bareAgentNode ? `+${mb(m.bundleIdle.rss - m.bareAgentNode.rss)}` : "",
      target: `< ${mb(TARGET.idleBytes)}`,
      status: status(m.bundleIdle && m.bundleIdle.rss < TARGET.idleBytes),
    },
    {
      figure: `Agent RSS under full load (real bundle, node_list c=${Math.max(...(r.node ? Object.keys(r.node.nodeListThroughput).map(Number) : [64]))})`,
      measured: m.bundleLoad ? `peak ${mb(m.bundleLoad.peakRss)}, VmHWM ${mb(m.bundleLoad.hwm)}; 3 s later ${mb(m.bundleLoad.after)} (${thr(m.bundleLoad.load)})` : "failed",
      baseline: `idle ${mb(m.bundleIdle?.rss)}`,
      versus: m.bundleLoad && m.bundleIdle ? `+${mb(loadPeak(m.bundleLoad) - m.bundleIdle.rss)}` : "",
      target: `< ${mb(TARGET.loadBytes)}`,
      status: status(m.bundleLoad && loadPeak(m.bundleLoad) < TARGET.loadBytes),
    },
    {
      figure: `Benchmark agent RSS (agent source + bench_noop, Node ${r.machine.node}): idle / peak in the Node full-path runs`,
      measured: `${mb(m.benchIdle?.rss)} / ${mb(m.benchPeak)}`,
      baseline: `bare Node ${r.machine.node} process ${mb(m.bareBenchNode?.rss)}`,
      versus: m.benchIdle && m.bareBenchNode ? `+${mb(m.benchIdle.rss - m.bareBenchNode.rss)} idle` : "",
      target: "(information)",
      status: "",
    },
    hostExecRow(r),
    {
      figure: "Worker bundle (wrangler deploy --dry-run), gzipped",
      measured: r.bundle ? `${kib(r.bundle.gzip)} (${kib(r.bundle.bytes)} raw)` : "failed",
      baseline: `Workers free-plan limit ${kib(CLOUDFLARE_FREE_LIMIT)}`,
      versus: r.bundle ? `${((r.bundle.gzip / CLOUDFLARE_FREE_LIMIT) * 100).toFixed(0)} %` : "",
      target: "",
      status: "",
    },
    {
      figure: "Worker bundle with --minify, gzipped",
      measured: r.bundleMinified ? `${kib(r.bundleMinified.gzip)} (${kib(r.bundleMinified.bytes)} raw)` : "failed",
      baseline: r.bundle ? `unminified ${kib(r.bundle.gzip)}` : "",
      versus: r.bundle && r.bundleMinified ? ratio(r.bundleMinified.gzip, r.bundle.gzip) : "",
      target: "",
      status: "",
    },
    reconnectRow(r),
  ];
  return rows;
}

function loadPeak(load: LoadMemory): number {
  return Math.max(load.peakRss, load.hwm);
}

function hostExecRow(r: Results): Row {
  const h = r.hostExec;
  const figure = "Agent peak RSS while host_exec prints 50 MB (fresh real bundle)";
  if (!h) return { figure, measured: "failed", baseline: "", versus: "", target: "", status: "" };
  if (!h.available) return { figure, measured: `n/a (${h.reason})`, baseline: "", versus: "", target: "", status: "" };
  return {
    figure,
    measured: `peak ${mb(Math.max(h.peakRss, h.hwm))} in ${h.seconds.toFixed(1)} s (${h.outcome})`,
    baseline: `idle ${mb(h.idle.rss)}`,
    versus: `+${mb(Math.max(h.peakRss, h.hwm) - h.idle.rss)}`,
    target: "(information)",
    status: "",
  };
}

function reconnectRow(r: Results): Row {
  const times = r.reconnect;
  const connect = r.floor?.wsConnect;
  const s = times ? summarize([...times]) : undefined;
  return {
    figure: `Dropped tunnel (TCP proxy cut) → first successful call, median of ${times?.length ?? "?"} (real bundle)`,
    measured: s ? `${ms(median(times as number[]))} (min ${ms(Math.min(...(times as number[])))}, max ${ms(Math.max(...(times as number[])))})` : "failed",
    baseline: connect ? `fresh WebSocket connect ${ms(connect.value.p50)}` : "",
    versus: s && connect ? ratio(s.p50, connect.value.p50) : "",
    target: `< ${ms(TARGET.reconnectMs)}`,
    status: status(s && s.p50 < TARGET.reconnectMs),
  };
}

export function markdownTable(rows: Row[]): string {
  const cells = (r: Row) => [r.figure, r.measured, r.baseline, r.versus, r.target, r.status].map((c) => c.replace(/\|/g, "\\|"));
  return [
    "| figure | measured | baseline (same run) | vs baseline | target | |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${cells(r).join(" | ")} |`),
  ].join("\n");
}

/** Where each call's CPU went: CPU milliseconds per call by process, during the throughput runs. */
export function cpuTable(r: Results): string {
  const runs: Array<[string, Measured<Throughput>]> = [];
  for (const [name, relay] of [["Node", r.node], ["wrangler dev", r.wrangler]] as const) {
    for (const [c, m] of Object.entries(relay?.noopThroughput ?? {})) runs.push([`${name}, bench_noop c=${c}`, m]);
    for (const [c, m] of Object.entries(relay?.nodeListThroughput ?? {})) runs.push([`${name}, node_list c=${c}`, m]);
  }
  if (runs.length === 0) return "(no throughput runs)";
  const names = [...new Set(runs.flatMap(([, m]) => Object.keys(m.value.cpuPerCall)))];
  const lines = [
    `| run | calls/s | ${names.join(" | ")} | total CPU | ceiling at ${r.machine.nproc} cores |`,
    `| --- | --- | ${names.map(() => "---").join(" | ")} | --- | --- |`,
  ];
  for (const [label, m] of runs) {
    // A meter the run did not have is "—"; a negative one (a process exited and took its CPU time along) is n/a.
    const per = names.map((n) => m.value.cpuPerCall[n]);
    const cell = (x: number | undefined) => (x === undefined ? "—" : x < 0 ? "n/a" : ms(x));
    const total = per.some((x) => x !== undefined && x < 0) ? Number.NaN : per.reduce((a: number, b) => a + (b ?? 0), 0);
    lines.push(`| ${label} | ${rate(m.value.perSecond)} | ${per.map(cell).join(" | ")} | ${ms(total)} | ${rate((r.machine.nproc * 1000) / total)} |`);
  }
  return lines.join("\n");
}

function profileSection(p: ProfileSummary): string {
  const list = (shares: ProfileSummary["topSelf"]) => shares.map((s) => `| ${s.name.replace(/\|/g, "\\|")} | ${(s.share * 100).toFixed(1)} % |`).join("\n");
  return [
    `### ${p.process} (${(p.busyMs / 1000).toFixed(1)} s busy)`,
    "",
    "| stage (innermost on the stack) | share |",
    "| --- | --- |",
    list(p.stages),
    "",
    "| self time by origin | share |",
    "| --- | --- |",
    list(p.byOrigin),
    "",
    "| this project's functions, inclusive time | share |",
    "| --- | --- |",
    list(p.topProject),
    "",
    "| functions, self time | share |",
    "| --- | --- |",
    list(p.topSelf),
  ].join("\n");
}

export function targetSummary(rows: Row[]): string {
  return rows
    .filter((r) => r.status)
    .map((r) => `- ${/MISSED/.test(r.status) ? "**MISSED**" : "met"}: ${r.figure}: ${r.measured} (target ${r.target}; ${r.status})`)
    .join("\n");
}

/** docs/bench.md: the tables of this run, the machine, and the notes in bench/notes.md. */
export function renderDoc(r: Results, rows: Row[]): string {
  const m = r.machine;
  const notes = readFileSync(join(import.meta.dirname, "notes.md"), "utf8");
  const bundleOrigins = r.bundle
    ? r.bundle.byOrigin.slice(0, 10).map((o) => `${o.name} ${kib(o.bytes)}`).join(", ")
    : "n/a";
  return [
    "# Benchmarks",
    "",
    `Written by \`npm run bench\`${r.quick ? " --quick (short phases: figures are rough)" : ""} on ${r.startedAt.toISOString()}, in ${r.seconds.toFixed(0)} s.`,
    "Everything runs on loopback; every figure stands beside a baseline measured in the same run, because",
    "absolute figures on a shared machine vary from run to run while ratios hold better.",
    "",
    "## Machine",
    "",
    `- ${m.nproc} CPUs (\`nproc\`), ${m.cpu}`,
    `- ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, Linux ${m.kernel}`,
    `- Node ${m.node} (benchmark, worker, benchmark agent); Node ${m.agentNode} (the agent bundle, as on a Proxmox host)`,
    "",
    "## Results",
    "",
    "c = calls in flight at once. Latencies are p50 / p99 in milliseconds; overhead = full path − direct path at the same percentile.",
    "",
    markdownTable(rows),
    "",
    "## Targets",
    "",
    targetSummary(rows),
    ...(r.failures.length ? ["", "Failed measurements:", "", ...r.failures.map((f) => `- ${f}`)] : []),
    "",
    "## CPU per call",
    "",
    "CPU time (user + system, from /proc) each process spent per completed call during the throughput runs.",
    `\"ceiling\" is ${m.nproc} cores divided by the total: the most calls/s this machine could give with every core busy`,
    "and the same work per call.",
    "",
    cpuTable(r),
    "",
    "## Profiles",
    "",
    "V8 CPU profiles (started through `node:inspector` after a warm-up) of the worker and the benchmark agent, separate",
    "processes, during bench_noop at the highest concurrency. The stage table gives each sample to the innermost stage on",
    "its stack, so its shares add up to 100 %.",
    "Shares are of the process's busy (non-idle) time. Inclusive time counts synchronous callees only: the awaited",
    "continuation of an async function shows up again under that function, but time spent waiting does not.",
    "",
    ...r.profiles.map(profileSection),
    "",
    `Worker bundle by origin (bytes in the unminified output): ${bundleOrigins}.`,
    "",
    notes.trim(),
    "",
  ].join("\n");
}
