import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Scope } from "../../shared/protocol.ts";
import { startSimulator, type Simulator } from "../../sim/simulator.ts";
import { startNodeWorker, type NodeWorker } from "../../worker/node.ts";
import { ALL_SCOPES, agentKeyPair, mintClientToken, newSecret } from "../../scripts/lib/credentials.ts";
import { freePort, waitFor } from "./ports.ts";
import { startProcess, systemNode, type Proc } from "./processes.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

export const AGENT_BUNDLE = join(import.meta.dirname, "../../dist/pve-mcp-agent.cjs");
const ISSUER = "test-issuer";
const AUDIENCE = "proxmox-mcp-test";

export interface StackOptions {
  runtime?: "node" | "wrangler";
  /** Route the agent's tunnel through a TCP proxy the test can cut. */
  proxy?: boolean;
  /** Route the agent's tunnel through a proxy on this port instead (e.g. one that adds latency). */
  tunnelVia?: (workerPort: number) => Promise<number>;
  taskDurationMs?: number;
  /** The PVE API token the agent uses: root@pam!mcp (default) or the PVEAuditor token readonly@pve!ro. */
  pveToken?: "root" | "readonly";
  workerEnv?: Record<string, string>;
  /** The Node binary that runs the agent bundle (default: the machine's own). */
  agentNode?: string;
  /** Extra agent config keys (e.g. events), or a function of the simulator that returns them. */
  agentConfig?: Record<string, unknown> | ((sim: Simulator) => Record<string, unknown>);
}

export interface Stack {
  sim: Simulator;
  baseUrl: string;
  mcpUrl: string;
  secret: string;
  issuer: string;
  audience: string;
  proxy?: TcpProxy;
  agent: Proc;
  agentId: string;
  /** The agent's config as written (private key included), for tests that run the agent's CLI. */
  agentConfig: Record<string, any>;
  token(scopes?: Scope[], sub?: string): Promise<string>;
  client(scopes?: Scope[]): Promise<Client>;
  startAgent(): Promise<void>;
  agentConnected(connected?: boolean): Promise<void>;
  restartWorker(): Promise<void>;
  close(): Promise<void>;
}

/** Everything on loopback: the PVE simulator, the worker (Node or wrangler dev), and the bundled agent on the system Node. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "pve-mcp-"));
  const sim = await startSimulator({ taskDurationMs: opts.taskDurationMs });
  const pveToken = opts.pveToken === "readonly" ? sim.readonlyToken : sim.token;
  const secret = newSecret();
  const agentId = "pve-test";
  const keys = agentKeyPair();
  const workerEnv: Record<string, string> = {
    JWT_SECRET: secret,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    AGENT_KEYS: JSON.stringify({ [agentId]: keys.publicPem }),
    AGENT_REGISTRY_FILE: join(dir, "registry.json"),
    RECONNECT_GRACE_MS: "20000",
    HEARTBEAT_MS: "2000",
    LOG_LEVEL: "warn",
    ...opts.workerEnv,
  };
  const worker = opts.runtime === "wrangler" ? await startWrangler(workerEnv, dir) : await startNode(workerEnv);
  const proxy = opts.proxy ? await startTcpProxy(worker.port) : undefined;
  const tunnelPort = opts.tunnelVia ? await opts.tunnelVia(worker.port) : (proxy?.port ?? worker.port);
  const configPath = join(dir, "agent.json");
  const agentConfig: Record<string, any> = {
      worker_url: `ws://127.0.0.1:${tunnelPort}/agent`,
      agent_id: agentId,
      private_key: keys.privatePem,
      pve: { url: sim.url, token_id: pveToken.tokenid, token_secret: pveToken.secret, fingerprint: sim.fingerprint },
      state_dir: join(dir, "state"),
      heartbeat_ms: 1000,
      reconnect_max_ms: 1000,
      log_level: "info",
      ...(typeof opts.agentConfig === "function" ? opts.agentConfig(sim) : opts.agentConfig),
  };
  writeFileSync(configPath, JSON.stringify(agentConfig), { mode: 0o600 });
  const baseUrl = worker.url;
  const token = (scopes: Scope[] = ALL_SCOPES, sub = "test-user") =>
    mintClientToken({ secret, issuer: ISSUER, audience: AUDIENCE, subject: sub, scopes, ttl: 600 });

  const health = async () => (await fetch(`${baseUrl}/healthz`)).json() as Promise<{ agents: Array<{ id: string; connected: boolean }> }>;
  const stack: Stack = {
    sim,
    baseUrl,
    mcpUrl: `${baseUrl}/mcp`,
    secret,
    issuer: ISSUER,
    audience: AUDIENCE,
    proxy,
    agentId,
    agentConfig,
    agent: undefined as unknown as Proc,
    token,
    async client(scopes = ALL_SCOPES) {
      const client = new Client({ name: "e2e-test", version: "1.0.0" });
      const transport = new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${await token(scopes)}` } },
      });
      await client.connect(transport);
      return client;
    },
    async startAgent() {
      stack.agent = startProcess(opts.agentNode ?? systemNode(), [AGENT_BUNDLE, "run", "--config", configPath]);
      await stack.agentConnected(true);
    },
    async agentConnected(connected = true) {
      try {
        await waitFor(async () => {
          const h = await health();
          return h.agents.some((a) => a.id === agentId && a.connected === connected) || (!connected && h.agents.length === 0);
        }, `agent ${connected ? "connected" : "disconnected"}`, 20_000);
      } catch (err) {
        throw new Error(`${(err as Error).message}\nagent output:\n${stack.agent?.output().slice(-3000) ?? ""}`);
      }
    },
    async restartWorker() {
      await worker.restart();
    },
    async close() {
      await stack.agent?.kill("SIGTERM");
      await proxy?.close();
      await worker.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await stack.startAgent();
  return stack;
}

interface RunningWorker {
  url: string;
  port: number;
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function startNode(env: Record<string, string>): Promise<RunningWorker> {
  const port = await freePort();
  let worker: NodeWorker = await startNodeWorker({ ...env, PORT: String(port), HOST: "127.0.0.1" });
  return {
    url: worker.url,
    port,
    async restart() {
      await worker.close();
      worker = await startNodeWorker({ ...env, PORT: String(port), HOST: "127.0.0.1" });
    },
    close: () => worker.close(),
  };
}

/** Runs the Cloudflare entry under `wrangler dev` (workerd), with the same configuration as an env file. */
async function startWrangler(env: Record<string, string>, dir: string): Promise<RunningWorker> {
  const port = await freePort();
  const envFile = join(dir, "worker.env");
  writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}=${v.replace(/\n/g, "\\n")}`).join("\n") + "\n", { mode: 0o600 });
  const start = () =>
    startProcess(
      "npx",
      ["wrangler", "dev", "--port", String(port), "--ip", "127.0.0.1", "--env-file", envFile, "--persist-to", join(dir, "wrangler-state"), "--show-interactive-dev-session=false", "--log-level", "warn"],
      { WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
    );
  let proc = start();
  const url = `http://127.0.0.1:${port}`;
  const ready = () => waitFor(async () => (await fetch(`${url}/healthz`)).ok, `wrangler dev on ${port}\n${proc.output().slice(-3000)}`, 60_000);
  await ready();
  return {
    url,
    port,
    async restart() {
      await proc.kill("SIGTERM");
      proc = start();
      await ready();
    },
    close: async () => {
      await proc.kill("SIGTERM");
    },
  };
}
