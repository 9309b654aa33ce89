/**
 * `npm run bench`: the relay's latency, throughput, memory, bundle size and reconnect time, each beside a
 * baseline measured in the same run, everything on loopback. Prints one table and writes docs/bench.md.
 *
 *   node bench/run.ts [--quick] [--skip-wrangler] [--out docs/bench.md] [--profile-dir DIR]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { z } from "zod";
import { freePort } from "../test/support/ports.ts";
import { systemNode, type Proc } from "../test/support/processes.ts";
import { startTcpProxy } from "../test/support/tcp-proxy.ts";
import { buildWorkerBundle } from "./bundle.ts";
import { measureDirect } from "./direct.ts";
import { measureFloor } from "./floor.ts";
import { measureThroughput, type CpuMeter } from "./load.ts";
import { describeMachine } from "./machine.ts";
import { bareNodeMemory, bundleAgentLoad, measureHostExec } from "./memory.ts";
import { phasesFor } from "./phases.ts";
import { groupCpuMeter, memoryOf, sampleRss, selfCpuMeter } from "./proc.ts";
import { AGENT_STAGES, WORKER_STAGES, summarizeProfile } from "./profile.ts";
import { measureReconnect } from "./reconnect.ts";
import { measureRelay } from "./relay.ts";
import { cpuTable, markdownTable, renderDoc, resultRows, targetSummary, type Results } from "./report.ts";
import { BUNDLE_AGENT, ROOT, toolCall, BenchStack, type Worker } from "./stack.ts";

const optionsSchema = z.object({
  quick: z.boolean().default(false),
  "skip-wrangler": z.boolean().default(false),
  out: z.string().min(1).default(join(ROOT, "docs/bench.md")),
  /** Keep the .cpuprofile files here (Chrome DevTools opens them) instead of deleting them. */
  "profile-dir": z.string().min(1).optional(),
});

const { values } = parseArgs({ options: { quick: { type: "boolean" }, "skip-wrangler": { type: "boolean" }, out: { type: "string" }, "profile-dir": { type: "string" } }, strict: true });
const parsed = optionsSchema.safeParse(values);
if (!parsed.success) throw new Error(`bad option: ${parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; ")}`);
const options = parsed.data;
const phases = phasesFor(options.quick);

// undici (Node's fetch) adds an abort listener to the SDK client transport's long-lived signal on every
// request and removes it only at garbage collection; the flood of warnings is about the client, not the relay.
process.removeAllListeners("warning");
process.on("warning", (w) => w.name !== "MaxListenersExceededWarning" && process.stderr.write(`${w.stack ?? w.message}\n`));

const say = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const stack = new BenchStack();
const results: Results = { machine: describeMachine(), startedAt: new Date(), seconds: 0, quick: options.quick, memory: {}, profiles: [], failures: [] };

/** Runs one measurement; a failure is recorded and the run goes on with the next. */
async function attempt<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  say(name);
  try {
    return await run();
  } catch (err) {
    const message = (err as Error).message.split("\n")[0];
    results.failures.push(`${name}: ${message}`);
    say(`${name} failed: ${message}`);
    return undefined;
  }
}

const pidOf = (proc: Proc) => proc.child.pid as number;

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping every process`);
    stack.killAll();
    process.exit(130);
  });
}

/** Floor, direct path, the full path on Node with the benchmark agent, and the real bundle's memory and reconnects. */
async function onNode(): Promise<void> {
  const echo = await stack.startChild<{ port: number }>("echo.ts");
  results.floor = await attempt("floor: WebSocket and HTTP echo", () => measureFloor(echo.ready.port, phases));
  await stack.stop(echo.proc);
  results.direct = await attempt("direct path: handlers and PVE client in-process", () => measureDirect(stack.sim, phases));

  const worker = await stack.startNodeWorker();
  const benchAgent = await stack.startBenchAgent(worker);
  const proxy = await startTcpProxy(worker.port);
  try {
    let bundleAgent = await stack.startBundleAgent(worker, proxy.port);
    await sleep(2_000);
    results.memory.bundleIdle = memoryOf(pidOf(bundleAgent));
    results.memory.benchIdle = memoryOf(pidOf(benchAgent));

    const sampler = sampleRss(pidOf(benchAgent), 50);
    results.node = await attempt("full path, worker on Node", () =>
      measureRelay(stack, `${worker.url}/mcp`, phases, { meters: meters(worker, benchAgent) }),
    );
    results.memory.benchPeak = Math.max(sampler.stop(), memoryOf(pidOf(benchAgent)).hwm);

    results.memory.bundleLoad = await attempt("real agent under full load", () => bundleAgentLoad(stack, worker, bundleAgent, phases));
    results.reconnect = await attempt("reconnect after a dropped tunnel", async () => {
      const client = await stack.client(`${worker.url}/agents/${BUNDLE_AGENT}/mcp`);
      return measureReconnect(proxy, toolCall(client, "node_list"), phases.reconnectDrops);
    });
    const hostExec = await attempt("host_exec printing 50 MB", () => measureHostExec(stack, worker, proxy.port, bundleAgent));
    results.hostExec = hostExec?.result;
    bundleAgent = hostExec?.agent ?? bundleAgent;
    await stack.stop(bundleAgent);
  } finally {
    await proxy.close();
    await stack.stop(benchAgent);
    await stack.stop(worker.proc);
  }
  results.memory.bareAgentNode = await attempt("bare Node process (agent's Node)", () => bareNodeMemory(systemNode()));
  results.memory.bareBenchNode = await attempt("bare Node process (benchmark's Node)", () => bareNodeMemory(process.execPath));
}

/** The client (this process), the worker's process group (on wrangler: wrangler and workerd), the agent, the simulator. */
function meters(worker: Worker, agent: Proc): CpuMeter[] {
  return [
    selfCpuMeter("client"),
    groupCpuMeter("worker", pidOf(worker.proc)),
    groupCpuMeter("agent", pidOf(agent)),
    groupCpuMeter("simulator", stack.simPid),
  ];
}

/** The worker and the benchmark agent again, CPU-profiled during bench_noop at the highest concurrency. */
async function profile(): Promise<void> {
  const keep = options["profile-dir"];
  const dir = keep ?? mkdtempSync(join(tmpdir(), "pve-mcp-profile-"));
  mkdirSync(dir, { recursive: true });
  try {
    const worker = await stack.startNodeWorker(join(dir, "worker.cpuprofile"));
    const agent = await stack.startBenchAgent(worker, join(dir, "agent.cpuprofile"));
    const clients = await stack.sessions(`${worker.url}/mcp`, phases.sessions);
    const calls = clients.map((c) => toolCall(c, "bench_noop"));
    const concurrency = Math.max(...phases.concurrency);
    const load = { ...phases.throughput, concurrency };
    await measureThroughput((loop) => calls[loop % calls.length], { ...load, durationMs: load.warmupMs });
    for (const proc of [worker.proc, agent]) process.kill(pidOf(proc), "SIGUSR2");
    await measureThroughput((loop) => calls[loop % calls.length], load);
    await stack.stop(agent);
    await stack.stop(worker.proc);
    results.profiles.push(
      summarizeProfile(join(dir, "worker.cpuprofile"), "worker (Node)", WORKER_STAGES),
      summarizeProfile(join(dir, "agent.cpuprofile"), "benchmark agent", AGENT_STAGES),
    );
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

async function onWrangler(script: string): Promise<void> {
  const worker = await stack.startWrangler(await freePort(), script);
  const agent = await stack.startBenchAgent(worker);
  try {
    results.wrangler = await attempt("full path, wrangler dev", () => measureRelay(stack, `${worker.url}/mcp`, phases, { meters: meters(worker, agent) }));
  } finally {
    await stack.stop(agent);
    await stack.stop(worker.proc);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  // Both bundles from the same state of the sources, before anything is measured.
  say("building the agent bundle (npm run build)");
  execFileSync(process.execPath, [join(ROOT, "scripts/build.ts")], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  try {
    results.bundle = await attempt("worker bundle (wrangler deploy --dry-run)", () => buildWorkerBundle(join(stack.dir, "worker")));
    results.bundleMinified = await attempt("worker bundle, minified", () => buildWorkerBundle(join(stack.dir, "worker-minified"), ["--minify"]));
    await stack.startSimulator();
    await onNode();
    await attempt("profiles", profile);
    const script = results.bundle?.script;
    if (!options["skip-wrangler"] && script) await attempt("wrangler dev", () => onWrangler(script));
  } finally {
    await stack.close();
  }
  results.seconds = (performance.now() - started) / 1000;
  const rows = resultRows(results);
  writeFileSync(options.out, renderDoc(results, rows));
  const m = results.machine;
  process.stdout.write(`${m.nproc} CPUs, ${m.cpu}, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${m.node} (agent bundle on ${m.agentNode})\n\n`);
  process.stdout.write(`${markdownTable(rows)}\n\n${targetSummary(rows)}\n\nCPU per call:\n${cpuTable(results)}\n\nwritten to ${options.out} in ${results.seconds.toFixed(0)} s\n`);
}

await main();
