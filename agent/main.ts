import "./polyfills.ts";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { createLogger } from "../shared/log.ts";
import { AGENT_VERSION, ProxmoxAgent } from "./agent.ts";
import { loadAgentConfig } from "./config.ts";
import { enroll } from "./enroll.ts";
import { agentTools } from "./tools/index.ts";

const usage = `pve-mcp-agent ${AGENT_VERSION}
usage: pve-mcp-agent [run] [--config FILE]   connect to the worker and serve tool calls
       pve-mcp-agent enroll --worker URL --code CODE --agent-id ID --key FILE
                                            register this host's key with the worker (one-time code)
       pve-mcp-agent policy check [--config FILE] '<command>'
                                            dry-run the command safety policy (exit 0 allowed, 1 refused)
       pve-mcp-agent doctor [--config FILE]    check the worker, enrollment, clock, PVE TLS, token and privileges
       pve-mcp-agent version`;

function option(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
}

/** The private key may be given inline (PEM) or as a path to a PEM file. */
function readKey(value: string): string {
  return value.includes("-----BEGIN") ? value : readFileSync(value, "utf8");
}

export async function main(argv: string[]): Promise<number> {
  const command = argv[0] && !argv[0].startsWith("-") ? argv[0] : "run";
  if (command === "version") {
    console.log(AGENT_VERSION);
    return 0;
  }
  if (command === "policy") {
    const configPath = option(argv, "--config");
    const rest = configPath ? argv.filter((a, i) => a !== "--config" && argv[i - 1] !== "--config") : argv;
    const exec = configPath ? loadAgentConfig(configPath, process.env).exec : undefined;
    const { runPolicyCli } = await import("./policy/cli.ts");
    return runPolicyCli(rest.slice(1), exec ? { extraRules: exec.policy_rules, auditLogDir: dirname(exec.audit_file) } : {});
  }
  if (command === "doctor") {
    const config = loadAgentConfig(option(argv, "--config") ?? process.env.PVE_MCP_CONFIG, process.env);
    const tools = agentTools();
    const enabled = new Map([...tools].filter(([, t]) => config.exec.enabled || t.def.scope !== "host:exec"));
    const { doctor, renderFindings } = await import("./doctor.ts");
    const findings = await doctor(config, readKey(config.private_key), enabled);
    console.log(renderFindings(findings));
    return findings.every((f) => f.ok) ? 0 : 1;
  }
  if (command === "enroll") {
    const [worker, code, agentId, keyFile] = ["--worker", "--code", "--agent-id", "--key"].map((o) => option(argv, o));
    if (!worker || !code || !agentId || !keyFile) {
      console.error(usage);
      return 2;
    }
    const result = await enroll({ worker, code, agentId, keyFile });
    console.log(JSON.stringify({ enrolled: result.agent_id, agent_url: result.agent_url, key_file: keyFile }));
    return 0;
  }
  if (command !== "run") {
    console.error(usage);
    return 2;
  }
  const config = loadAgentConfig(option(argv, "--config") ?? process.env.PVE_MCP_CONFIG, process.env);
  const log = createLogger("agent", config.log_level, (line) => process.stderr.write(line + "\n"));
  const agent = new ProxmoxAgent(config, agentTools(), readKey(config.private_key), log);
  agent.start();
  log.info("agent started", { agent_id: config.agent_id, worker: config.worker_url, version: AGENT_VERSION });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  log.info("agent stopping");
  await agent.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(JSON.stringify({ level: "error", msg: (err as Error).message }));
    process.exit(1);
  },
);
