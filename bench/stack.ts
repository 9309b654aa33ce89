import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ALL_SCOPES, agentKeyPair, mintClientToken, newSecret } from "../scripts/lib/credentials.ts";
import { waitFor } from "../test/support/ports.ts";
import { startProcess, systemNode, type Proc } from "../test/support/processes.ts";
import type { Call } from "./load.ts";

export const ROOT = join(import.meta.dirname, "..");
export const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const AGENT_BUNDLE = join(ROOT, "dist/pve-mcp-agent.cjs");
const ISSUER = "pve-mcp-bench";
const AUDIENCE = "pve-mcp-bench";
/** The agent with bench_noop (agent source + one tool) and the real agent bundle. */
export const BENCH_AGENT = "bench";
export const BUNDLE_AGENT = "pve";

export interface SimInfo {
  url: string;
  fingerprint: string;
  tokenid: string;
  secret: string;
}

export interface Worker {
  url: string;
  port: number;
  proc: Proc;
}

/**
 * Every process of the benchmark, on loopback: the PVE simulator, the worker (Node or wrangler dev), the
 * agents. Each runs in its own process group, so its CPU can be measured and it can be stopped with all
 * its children.
 */
export class BenchStack {
  readonly dir = mkdtempSync(join(tmpdir(), "pve-mcp-bench-"));
  readonly workerEnv: Record<string, string>;
  sim!: SimInfo;
  simPid = 0;
  private readonly secret = newSecret();
  private readonly keys: Record<string, { privatePem: string; publicPem: string }> = { [BENCH_AGENT]: agentKeyPair(), [BUNDLE_AGENT]: agentKeyPair() };
  private readonly procs = new Set<Proc>();
  private readonly clients = new Set<Client>();

  constructor() {
    this.workerEnv = {
      JWT_SECRET: this.secret,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      AGENT_KEYS: JSON.stringify(Object.fromEntries(Object.entries(this.keys).map(([id, k]) => [id, k.publicPem]))),
      DEFAULT_AGENT: BENCH_AGENT,
      LOG_LEVEL: "warn",
    };
  }

  async startSimulator(): Promise<SimInfo> {
    const proc = this.track(startProcess(process.execPath, [join(ROOT, "sim/main.ts"), "--port", "0"]));
    this.sim = JSON.parse(await readyLine(proc, /\{"url".*\}/)) as SimInfo;
    this.simPid = proc.child.pid as number;
    return this.sim;
  }

  /** Starts a benchmark child (bench/processes/*.ts) and returns what its READY line announced. */
  async startChild<T>(script: string, args: string[] = [], opts: { env?: Record<string, string> } = {}): Promise<{ proc: Proc; ready: T }> {
    const proc = this.track(startProcess(process.execPath, [join(ROOT, "bench/processes", script), ...args], opts.env));
    const line = await readyLine(proc, /READY .*\n/);
    return { proc, ready: JSON.parse(line.slice("READY ".length)) as T };
  }

  /** The worker on Node in a child process; with `profileTo`, SIGUSR2 starts its CPU profile. */
  async startNodeWorker(profileTo?: string): Promise<Worker> {
    const args = profileTo ? [profileTo] : [];
    const { proc, ready } = await this.startChild<{ url: string; port: number }>("worker.ts", args, { env: { ...this.workerEnv, PORT: "0" } });
    return { ...ready, proc };
  }

  /** A worker bundle (built by `wrangler deploy --dry-run`) under `wrangler dev` (workerd), configured like the Node worker. */
  async startWrangler(port: number, script: string): Promise<Worker> {
    const envFile = join(this.dir, "worker.env");
    writeFileSync(envFile, Object.entries(this.workerEnv).map(([k, v]) => `${k}=${v.replace(/\n/g, "\\n")}`).join("\n") + "\n", { mode: 0o600 });
    const args = ["dev", script, "--config", join(ROOT, "wrangler.toml"), "--port", String(port), "--ip", "127.0.0.1", "--env-file", envFile, "--persist-to", join(this.dir, "wrangler-state")];
    const proc = this.track(
      startProcess(WRANGLER, [...args, "--show-interactive-dev-session=false", "--log-level", "warn"], { WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" }),
    );
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/healthz`)).ok, `wrangler dev on port ${port}:\n${proc.output().slice(-2000)}`, 90_000);
    return { url, port, proc };
  }

  /** The agent with bench_noop, from source on this Node; with `profileTo`, SIGUSR2 starts its CPU profile. */
  async startBenchAgent(worker: Worker, profileTo?: string): Promise<Proc> {
    const config = this.agentConfig(BENCH_AGENT, worker.port, { log_level: "warn" });
    const { proc } = await this.startChild("agent.ts", profileTo ? [config, profileTo] : [config]);
    await this.agentConnected(worker, BENCH_AGENT);
    return proc;
  }

  /** The real agent: dist/pve-mcp-agent.cjs on the machine's own Node, with the default settings unless `extra` says otherwise. */
  async startBundleAgent(worker: Worker, tunnelPort: number, extra: Record<string, unknown> = {}): Promise<Proc> {
    const config = this.agentConfig(BUNDLE_AGENT, tunnelPort, extra);
    const proc = this.track(startProcess(systemNode(), [AGENT_BUNDLE, "run", "--config", config]));
    await this.agentConnected(worker, BUNDLE_AGENT);
    return proc;
  }

  async agentConnected(worker: Worker, agentId: string, connected = true, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        const health = (await (await fetch(`${worker.url}/healthz`)).json()) as { agents: Array<{ id: string; connected: boolean }> };
        return health.agents.some((a) => a.id === agentId && a.connected) === connected;
      },
      `agent ${agentId} ${connected ? "connected" : "disconnected"} at ${worker.url}`,
      timeoutMs,
    );
  }

  /** An MCP SDK client with its own session, after tools/list (as real clients do, so results are checked against output schemas). */
  async client(mcpUrl: string): Promise<Client> {
    const token = await mintClientToken({ secret: this.secret, issuer: ISSUER, audience: AUDIENCE, subject: "bench", scopes: ALL_SCOPES, ttl: 3600 });
    const client = new Client({ name: "pve-mcp-bench", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    await client.listTools();
    this.clients.add(client);
    return client;
  }

  /** Several clients, each with its own MCP session. */
  async sessions(mcpUrl: string, n: number): Promise<Client[]> {
    return Promise.all(Array.from({ length: n }, () => this.client(mcpUrl)));
  }

  /** Stops a process (its whole group), with SIGKILL if SIGTERM is not enough within 5 s. */
  async stop(proc: Proc): Promise<void> {
    const timer = setTimeout(() => void proc.kill("SIGKILL"), 5_000);
    await proc.kill("SIGTERM");
    clearTimeout(timer);
    this.procs.delete(proc);
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients].map((c) => c.close().catch(() => undefined)));
    this.clients.clear();
    for (const proc of [...this.procs].reverse()) await this.stop(proc);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Last resort on Ctrl-C: every child group gets SIGKILL at once. */
  killAll(): void {
    for (const proc of this.procs) {
      try {
        process.kill(-(proc.child.pid as number), "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private track(proc: Proc): Proc {
    this.procs.add(proc);
    return proc;
  }

  private agentConfig(agentId: string, port: number, extra: Record<string, unknown>): string {
    const file = join(this.dir, `${agentId}-${port}.json`);
    const config = {
      worker_url: `ws://127.0.0.1:${port}/agent`,
      agent_id: agentId,
      private_key: this.keys[agentId].privatePem,
      pve: { url: this.sim.url, token_id: this.sim.tokenid, token_secret: this.sim.secret, fingerprint: this.sim.fingerprint },
      ...extra,
    };
    writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
    return file;
  }
}

/** Waits for a child's ready line; fails at once, with its output, if the child exits first. */
async function readyLine(proc: Proc, pattern: RegExp): Promise<string> {
  let waiting = true;
  const exited = proc.exited.then((code): never | string => {
    if (waiting) throw new Error(`process exited (${code}) before it was ready:\n${proc.output().slice(-2000)}`);
    return "";
  });
  try {
    return await Promise.race([proc.waitForOutput(pattern, 30_000), exited]);
  } finally {
    waiting = false;
  }
}

/** A tool call through an MCP client that throws on a tool error, so failures are counted. */
export function toolCall(client: Client, name: string, args: Record<string, unknown> = {}): Call {
  return async () => {
    const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ text?: string }> };
    if (result.isError) throw new Error(result.content.map((c) => c.text ?? "").join(" ").slice(0, 300));
  };
}
