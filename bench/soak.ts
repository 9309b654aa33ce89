import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ALL_SCOPES, agentKeyPair, mintClientToken, newSecret } from "../scripts/lib/credentials.ts";
import { startSimulator } from "../sim/simulator.ts";
import { freePort, waitFor } from "../test/support/ports.ts";
import { startProcess, systemNode } from "../test/support/processes.ts";

/**
 * `npm run soak`: steady load for --seconds (default 600) through a worker process and the agent bundle,
 * sampling RSS and open file descriptors of both every 30 s; writes docs/soak.md. Not part of CI.
 */
const seconds = Number(process.argv[process.argv.indexOf("--seconds") + 1]) || 600;
const CONCURRENCY = 8;
const dir = mkdtempSync(join(tmpdir(), "pve-mcp-soak-"));

function sample(pid: number): { rssMiB: number; fds: number } {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
  return { rssMiB: Math.round(rss * 10) / 10, fds: readdirSync(`/proc/${pid}/fd`).length };
}

const sim = await startSimulator({ taskDurationMs: 200 });
const secret = newSecret();
const keys = agentKeyPair();
const port = await freePort();
const worker = startProcess(process.execPath, ["worker/node.ts"], {
  JWT_SECRET: secret,
  JWT_ISSUER: "soak",
  JWT_AUDIENCE: "soak",
  AGENT_KEYS: JSON.stringify({ soak: keys.publicPem }),
  AGENT_REGISTRY_FILE: join(dir, "registry.json"),
  PORT: String(port),
  LOG_LEVEL: "warn",
});
const base = `http://127.0.0.1:${port}`;
await waitFor(async () => (await fetch(`${base}/healthz`)).ok, "worker");
writeFileSync(
  join(dir, "agent.json"),
  JSON.stringify({
    worker_url: `ws://127.0.0.1:${port}/agent`,
    agent_id: "soak",
    private_key: keys.privatePem,
    pve: { url: sim.url, token_id: sim.token.tokenid, token_secret: sim.token.secret, fingerprint: sim.fingerprint },
    state_dir: join(dir, "state"),
    log_level: "warn",
  }),
);
const agent = startProcess(systemNode(), ["dist/pve-mcp-agent.cjs", "run", "--config", join(dir, "agent.json")]);
await waitFor(async () => ((await (await fetch(`${base}/healthz`)).json()) as { agents: Array<{ connected: boolean }> }).agents[0]?.connected, "agent");

const token = await mintClientToken({ secret, issuer: "soak", audience: "soak", subject: "soak", scopes: ALL_SCOPES, ttl: seconds + 600 });
const clients = await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    const c = new Client({ name: "soak", version: "1" });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    return c;
  }),
);

const until = Date.now() + seconds * 1000;
const counts = { calls: 0, errors: 0 };
const samples: Array<{ t: number; worker: ReturnType<typeof sample>; agent: ReturnType<typeof sample>; calls: number }> = [];
const tools = [
  { name: "guest_list", arguments: {} },
  { name: "node_list", arguments: {} },
  { name: "cluster_status", arguments: {} },
  { name: "guest_status", arguments: { vmid: 100 } },
];
const take = () => samples.push({ t: Math.round((Date.now() - (until - seconds * 1000)) / 1000), worker: sample(worker.child.pid as number), agent: sample(agent.child.pid as number), calls: counts.calls });
take();
const sampler = setInterval(() => {
  take();
  const s = samples[samples.length - 1];
  console.log(`${s.t}s calls=${s.calls} worker ${s.worker.rssMiB} MiB/${s.worker.fds} fds, agent ${s.agent.rssMiB} MiB/${s.agent.fds} fds`);
}, 30_000);
await Promise.all(
  clients.map(async (c, i) => {
    for (let n = i; Date.now() < until; n++) {
      const result = (await c.callTool(tools[n % tools.length]).catch(() => ({ isError: true }))) as { isError?: boolean };
      counts.calls++;
      if (result.isError) counts.errors++;
    }
  }),
);
clearInterval(sampler);
take();
await Promise.all(clients.map((c) => c.close()));
await agent.kill("SIGTERM");
await worker.kill("SIGTERM");
await sim.close();
rmSync(dir, { recursive: true, force: true });

const first = samples[1] ?? samples[0];
const last = samples[samples.length - 1];
const table = samples.map((s) => `| ${s.t} | ${s.calls} | ${s.worker.rssMiB} | ${s.worker.fds} | ${s.agent.rssMiB} | ${s.agent.fds} |`).join("\n");
const doc = `# Soak: ${seconds} s of steady load

Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version} (worker), system Node (agent bundle).
Load: ${CONCURRENCY} MCP sessions calling guest_list, node_list, cluster_status and guest_status in a loop through a worker
process (Node) and the agent bundle, against the simulator. ${counts.calls} calls, ${counts.errors} errors.

| t (s) | calls | worker RSS (MiB) | worker fds | agent RSS (MiB) | agent fds |
| --- | --- | --- | --- | --- | --- |
${table}

From the first sample under load to the last: worker RSS ${first.worker.rssMiB} → ${last.worker.rssMiB} MiB, fds ${first.worker.fds} → ${last.worker.fds};
agent RSS ${first.agent.rssMiB} → ${last.agent.rssMiB} MiB, fds ${first.agent.fds} → ${last.agent.fds}.
`;
writeFileSync("docs/soak.md", doc);
console.log(doc);
process.exit(0);
