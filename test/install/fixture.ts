/**
 * What both install tests need around a root filesystem: the PVE simulator and a Node worker on the host's
 * loopback, the install kit copied inside, and helpers to run the script and look at the result from the
 * outside (the simulator's access objects, the worker's view of the agent, an MCP client).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Agent, fetch as undiciFetch } from "undici";
import { mintClientToken, newSecret } from "../../scripts/lib/credentials.ts";
import type { Scope } from "../../shared/protocol.ts";
import { startSimulator, type Simulator } from "../../sim/simulator.ts";
import { startNodeWorker, type NodeWorker } from "../../worker/node.ts";
import { freePort } from "../support/ports.ts";
import { AGENT_BUNDLE } from "../support/stack.ts";
import type { Rootfs } from "./rootfs.ts";

export const REPO = join(import.meta.dirname, "../..");
export const DEPLOY = join(REPO, "deploy");
/** What ships next to the script: the bundle, the unit, its two drop-ins and the sudoers template. */
const SHIPPED = [join(REPO, "scripts/install-agent.sh"), AGENT_BUNDLE, ...["pve-mcp-agent.service", "pve-mcp-agent-exec.conf", "pve-mcp-agent-root.conf", "sudoers.pve-mcp"].map((f) => join(DEPLOY, f))];
export const KIT = "/root/pve-mcp";
/** Every file the installer manages; hashed (with mode and owner) before and after a re-run. */
export const MANAGED = [
  "/usr/local/lib/pve-mcp/pve-mcp-agent.cjs",
  "/etc/pve-mcp/agent.json",
  "/etc/pve-mcp/agent.key",
  "/etc/pve-mcp/install.env",
  "/etc/systemd/system/pve-mcp-agent.service",
  "/etc/systemd/system/pve-mcp-agent.service.d/exec.conf",
  "/etc/systemd/system/pve-mcp-agent.service.d/root.conf",
  "/etc/sudoers.d/pve-mcp",
];
const ISSUER = "install-test";
const AUDIENCE = "proxmox-mcp-install-test";

export const isRootOnLinux = process.platform === "linux" && process.getuid?.() === 0;

export interface InstallFixture {
  sim: Simulator;
  worker: NodeWorker;
  agentId: string;
  token(scopes: Scope[]): Promise<string>;
  mintCode(): Promise<string>;
  /** Runs install-agent.sh inside; throws with its output unless it exits 0. */
  install(args: string[], env?: Record<string, string>): Promise<string>;
  /** --worker, --agent-id, --pve-url, --pve-token (the simulator's root token), --yes, and `extra`. */
  installArgs(extra?: string[]): string[];
  /** The simulator's users (with tokens), ACL and roles, through its API as root@pam!mcp. */
  accessState(): Promise<{ users: any[]; acl: any[]; roles: any[] }>;
  agentStatus(): Promise<{ id: string; connected: boolean } | undefined>;
  managed(): Record<string, string>;
  config(): any;
  uidOf(user: string): number;
  /** An MCP client for this agent, with a token of these scopes. */
  client(scopes: Scope[]): Promise<Client>;
  close(): Promise<void>;
}

export async function startInstallFixture(root: Rootfs, agentId: string): Promise<InstallFixture> {
  const dir = mkdtempSync(join(tmpdir(), "install-test-"));
  const secret = newSecret();
  const sim = await startSimulator({ taskDurationMs: 50 });
  const worker = await startNodeWorker({
    JWT_SECRET: secret,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    AGENT_REGISTRY_FILE: join(dir, "registry.json"),
    HEARTBEAT_MS: "2000",
    LOG_LEVEL: "warn",
    HOST: "127.0.0.1",
    PORT: String(await freePort()),
  });
  mkdirSync(root.path(KIT), { recursive: true });
  for (const file of SHIPPED) copyFileSync(file, root.path(`${KIT}/${file.split("/").pop()}`));

  const simTls = new Agent({ connect: { ca: sim.certPem } });
  const token = (scopes: Scope[]) => mintClientToken({ secret, issuer: ISSUER, audience: AUDIENCE, subject: "install-test", scopes, ttl: 600 });
  const pveGet = async (path: string) => {
    const res = await undiciFetch(`${sim.url}/api2/json${path}`, { headers: { Authorization: sim.token.header }, dispatcher: simTls });
    return ((await res.json()) as { data: any }).data;
  };
  return {
    sim,
    worker,
    agentId,
    token,
    async mintCode() {
      const res = await fetch(`${worker.url}/admin/enrollment-codes`, { method: "POST", headers: { Authorization: `Bearer ${await token(["admin"])}`, "Content-Type": "application/json" }, body: "{}" });
      return ((await res.json()) as { code: string }).code;
    },
    async install(args, env = {}) {
      const res = await root.run(["bash", `${KIT}/install-agent.sh`, ...args], { env, timeoutMs: 600_000 });
      if (res.status !== 0) throw new Error(`install-agent.sh ${args.join(" ")} exited ${res.status}:\n${res.output}`);
      return res.output;
    },
    installArgs: (extra = []) => ["--worker", worker.url, "--agent-id", agentId, "--pve-url", sim.url, "--pve-token", `${sim.token.tokenid}=${sim.token.secret}`, "--yes", ...extra],
    accessState: async () => ({ users: await pveGet("/access/users?full=1"), acl: await pveGet("/access/acl"), roles: await pveGet("/access/roles") }),
    async agentStatus() {
      const health = (await (await fetch(`${worker.url}/healthz`)).json()) as { agents: Array<{ id: string; connected: boolean }> };
      return health.agents.find((a) => a.id === agentId);
    },
    managed: () => Object.fromEntries(MANAGED.map((f) => [f, root.fingerprint(f)])),
    config: () => JSON.parse(readFileSync(root.path("/etc/pve-mcp/agent.json"), "utf8")),
    uidOf: (user) => Number(readFileSync(root.path("/etc/passwd"), "utf8").split("\n").find((l) => l.startsWith(`${user}:`))?.split(":")[2]),
    async client(scopes) {
      const client = new Client({ name: "install-test", version: "1" });
      const url = new URL(`${worker.url}/agents/${agentId}/mcp`);
      await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${await token(scopes)}` } } }));
      return client;
    },
    async close() {
      await worker.close();
      await sim.close();
      await simTls.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
