import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "./stack.ts";

const BENCH_SCAFFOLDING = join(ROOT, "bench/processes");

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  name: string;
  ms: number;
  /** Of the busy (non-idle) time. */
  share: number;
}

/** A stage of the work, recognised by a frame on the sample's stack (a package, a file). */
export interface Stage {
  label: string;
  match: (frame: { functionName: string; url: string }) => boolean;
}

export interface ProfileSummary {
  process: string;
  busyMs: number;
  /** Busy time by stage: each sample goes to the innermost stage on its stack (the code that did the work), the rest to "other". */
  stages: Share[];
  /** Self time by where the code comes from: a package, Node's own code, or a folder of this project. */
  byOrigin: Share[];
  /** Functions with the most self time. */
  topSelf: Share[];
  /** This project's functions by inclusive time (the function and everything it called synchronously). */
  topProject: Share[];
}

/** Where a process spent its CPU, from a .cpuprofile (V8's format, as `node --cpu-prof` writes it). */
export function summarizeProfile(file: string, processName: string, stages: Stage[]): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));

  const origins = new Map<string, number>();
  const functions = new Map<string, number>();
  const project = new Map<string, number>();
  const staged = new Map<string, number>([...stages.map((st): [string, number] => [st.label, 0]), [OTHER, 0]]);
  const stackOf = (id: number): ProfileNode[] => {
    const frames: ProfileNode[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) frames.push(byId.get(at) as ProfileNode);
    return frames;
  };
  let busyMs = 0;
  for (const [id, t] of self) {
    const node = byId.get(id) as ProfileNode;
    if (node.callFrame.functionName === "(idle)") continue;
    const stack = stackOf(id);
    // The benchmark's own code in the process (starting and stopping the profiler) is not the product's time.
    if (stack.some((f) => pathOf(f.callFrame.url).startsWith(BENCH_SCAFFOLDING))) continue;
    busyMs += t;
    add(origins, originOf(node.callFrame.url, node.callFrame.functionName), t);
    add(functions, functionKey(node), t);
    add(staged, innermostStage(stack, stages), t);
    // Inclusive time: each project function on the sample's stack gets it once, however deep the recursion.
    const seen = new Set<string>();
    for (const frame of stack) {
      if (!isProjectCode(frame.callFrame.url)) continue;
      const key = functionKey(frame);
      if (!seen.has(key)) add(project, key, t);
      seen.add(key);
    }
  }
  const ranked = (m: Map<string, number>, n: number): Share[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms, share: ms / busyMs }));
  const stageShares = [...staged].map(([name, ms]) => ({ name, ms, share: ms / busyMs }));
  return { process: processName, busyMs, stages: stageShares, byOrigin: ranked(origins, 12), topSelf: ranked(functions, 12), topProject: ranked(project, 12) };
}

const OTHER = "other: Node core (sockets, timers, event loop) and V8 outside the stages above";

function innermostStage(stack: ProfileNode[], stages: Stage[]): string {
  for (const frame of stack) {
    const stage = stages.find((st) => st.match(frame.callFrame));
    if (stage) return stage.label;
  }
  return OTHER;
}

const inPackage = (name: string) => (f: { url: string }) => f.url.includes(`/node_modules/${name}/`);
const inFile = (path: string) => (f: { url: string }) => pathOf(f.url) === join(ROOT, path);
const named = (name: string) => (f: { functionName: string }) => f.functionName === name;

/** The worker's work on a relayed call, in the order a request meets it. */
export const WORKER_STAGES: Stage[] = [
  { label: "node:http ↔ web Request/Response, response writes (@hono/node-server)", match: inPackage("@hono/node-server") },
  { label: "Hono routing and middleware (hono)", match: inPackage("hono") },
  { label: "bearer token verification (jose, WebCrypto HMAC)", match: inPackage("jose") },
  { label: "MCP SDK: transport, JSON-RPC, SSE", match: inPackage("@modelcontextprotocol/sdk") },
  { label: "worker code: auth, sessions, MCP handler (worker/ but hub.ts)", match: (f) => isProjectCode(f.url) && pathOf(f.url).startsWith(join(ROOT, "worker/")) && !inFile("worker/hub.ts")(f) },
  { label: "relay on the tunnel (worker/hub.ts)", match: inFile("worker/hub.ts") },
  { label: "frame encoding and decoding (shared/framing.ts)", match: inFile("shared/framing.ts") },
  { label: "WebSocket (ws), with its socket writes", match: inPackage("ws") },
  { label: "zod parsing", match: inPackage("zod") },
  { label: "garbage collection", match: named("(garbage collector)") },
];

/** The agent's work on a call. */
export const AGENT_STAGES: Stage[] = [
  { label: "WebSocket (ws), with its socket writes", match: inPackage("ws") },
  { label: "frame encoding and decoding (shared/framing.ts)", match: inFile("shared/framing.ts") },
  { label: "tunnel (agent/tunnel.ts)", match: inFile("agent/tunnel.ts") },
  { label: "call dispatch (agent/agent.ts)", match: inFile("agent/agent.ts") },
  { label: "call ledger (agent/ledger.ts)", match: inFile("agent/ledger.ts") },
  { label: "tool argument and result validation (agent/tools/registry.ts)", match: inFile("agent/tools/registry.ts") },
  { label: "zod parsing", match: inPackage("zod") },
  { label: "garbage collection", match: named("(garbage collector)") },
];

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

function pathOf(url: string): string {
  return url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : url;
}

function isProjectCode(url: string): boolean {
  const path = pathOf(url);
  return path.startsWith(ROOT) && !path.includes("/node_modules/");
}

function originOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "V8 builtins";
  if (url.startsWith("wasm://")) return "WebAssembly";
  if (url.startsWith("node:internal/deps/undici")) return "undici in Node (fetch, Request, Response)";
  if (url.startsWith("node:internal/webstreams")) return "web streams in Node";
  if (url.startsWith("node:")) return "Node core";
  const path = pathOf(url);
  const nm = path.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const parts = path.slice(nm + "/node_modules/".length).split("/");
    return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (path.startsWith(ROOT)) return `${relative(ROOT, path).split("/")[0]}/ (this project)`;
  return path;
}

function functionKey(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const path = pathOf(url);
  const short = path.startsWith(ROOT) ? relative(ROOT, path) : path.replace(/^.*\/node_modules\//, "");
  return url ? `${functionName || "(anonymous)"} ${short}:${lineNumber + 1}` : functionName || "(anonymous)";
}
