import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startSimulator } from "../sim/simulator.ts";
import { startNodeWorker } from "../worker/node.ts";
import { ALL_SCOPES, agentKeyPair, mintClientToken, newSecret } from "./lib/credentials.ts";

/**
 * `npm start`: the whole product on loopback with the sandbox Proxmox simulator: simulator, worker
 * (Node, or `wrangler dev` with --wrangler) and an agent; prints the line that connects Claude Code.
 */
const useWrangler = process.argv.includes("--wrangler");
const dir = ".dev";
const port = Number(process.env.PORT ?? 8787);
const agentId = "sandbox";

interface DevSecrets {
  jwtSecret: string;
  privatePem: string;
  publicPem: string;
}

/** Kept in .dev/ (git-ignored, mode 0600) so a printed token survives a restart of npm start. */
function secrets(): DevSecrets {
  const file = join(dir, "secrets.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as DevSecrets;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keys = agentKeyPair();
  const fresh = { jwtSecret: newSecret(), ...keys };
  writeFileSync(file, JSON.stringify(fresh), { mode: 0o600 });
  return fresh;
}

const s = secrets();
const workerEnv: Record<string, string> = {
  JWT_SECRET: s.jwtSecret,
  JWT_ISSUER: "proxmox-mcp-sandbox",
  JWT_AUDIENCE: "proxmox-mcp-sandbox",
  AGENT_KEYS: JSON.stringify({ [agentId]: s.publicPem }),
  ALLOWED_ORIGINS: "http://localhost:6274,http://127.0.0.1:6274",
  AGENT_REGISTRY_FILE: join(dir, "agents.json"),
  LOG_LEVEL: "warn",
};
writeFileSync(join(dir, "worker.env"), Object.entries(workerEnv).map(([k, v]) => `${k}=${v.replace(/\n/g, "\\n")}`).join("\n") + "\n", { mode: 0o600 });

const sim = await startSimulator({ port: Number(process.env.SIM_PORT ?? 0) || undefined });
const children: ChildProcess[] = [];
let stopWorker: () => Promise<void> = async () => undefined;

if (useWrangler) {
  const wrangler = spawn("npx", ["wrangler", "dev", "--ip", "127.0.0.1", "--port", String(port), "--env-file", join(dir, "worker.env"), "--show-interactive-dev-session=false"], {
    stdio: "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  children.push(wrangler);
  await waitHealthy(`http://127.0.0.1:${port}/healthz`);
} else {
  const worker = await startNodeWorker({ ...workerEnv, PORT: String(port), HOST: "127.0.0.1" });
  stopWorker = worker.close;
}

const agentConfig = join(dir, "agent.json");
writeFileSync(
  agentConfig,
  JSON.stringify({
    worker_url: `ws://127.0.0.1:${port}/agent`,
    agent_id: agentId,
    private_key: s.privatePem,
    pve: { url: sim.url, token_id: sim.token.tokenid, token_secret: sim.token.secret, fingerprint: sim.fingerprint },
    state_dir: join(dir, "agent-state"),
  }),
  { mode: 0o600 },
);
children.push(spawn(process.execPath, ["agent/main.ts", "run", "--config", agentConfig], { stdio: "inherit" }));

const token = await mintClientToken({
  secret: s.jwtSecret,
  issuer: workerEnv.JWT_ISSUER,
  audience: workerEnv.JWT_AUDIENCE,
  subject: "sandbox-user",
  scopes: ALL_SCOPES,
  ttl: 7 * 24 * 3600,
});
const url = `http://127.0.0.1:${port}/mcp`;
console.log(`
Proxmox MCP sandbox is running (worker on ${useWrangler ? "wrangler dev" : "Node"}, simulator at ${sim.url}).

Connect Claude Code:
  claude mcp add --transport http proxmox ${url} --header "Authorization: Bearer ${token}"

MCP URL: ${url}
Token (7 days, scopes ${ALL_SCOPES.join(" ")}): ${token}
Press Ctrl-C to stop.
`);

async function waitHealthy(healthUrl: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(healthUrl)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${healthUrl} did not come up`);
}

async function shutdown(): Promise<void> {
  for (const c of children) c.kill("SIGTERM");
  await stopWorker();
  await sim.close();
  process.exit(0);
}
process.once("SIGINT", () => void shutdown());
process.once("SIGTERM", () => void shutdown());
