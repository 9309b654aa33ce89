/**
 * The benchmark's agent: the agent's own code (ProxmoxAgent, its tools, its tunnel), run from source with
 * one extra tool, bench_noop. Usage: node bench/processes/agent.ts CONFIG.json [PROFILE.cpuprofile]
 */
import { ProxmoxAgent } from "../../agent/agent.ts";
import { loadAgentConfig } from "../../agent/config.ts";
import { agentTools } from "../../agent/tools/index.ts";
import { createLogger } from "../../shared/log.ts";
import { benchNoop } from "../noop.ts";
import { serveUntilStopped } from "./lifecycle.ts";

const config = loadAgentConfig(process.argv[2], {});
const log = createLogger("agent", config.log_level, (line) => process.stderr.write(line + "\n"));
const tools = agentTools().set(benchNoop.def.name, benchNoop);
const agent = new ProxmoxAgent(config, tools, config.private_key, log);
agent.start();
serveUntilStopped({ agent: config.agent_id }, () => agent.stop(), process.argv[3]);
