/**
 * /nodes/{node}/qemu/{vmid}/agent/*, after qemu-server src/PVE/API2/Qemu/Agent.pm and
 * PVE::QemuServer::Agent (assert_agent_available, agent_cmd). Every call first loads the VM's
 * config on the executing node, then checks the agent is configured, the VM runs and the agent is
 * enabled; a configured agent that does not answer fails like QMP's guest-ping timeout.
 */
import type { CallContext, Handler, RouteTable } from "../context.ts";
import { die } from "../errors.ts";
import { agentEnabled, fsInfo, guestAgentOf, interfaces, loggedInUsers, osInfo, type AgentState } from "../guest-agent.ts";
import { guestName } from "../resources.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { localGuest, type SimGuest } from "../state.ts";

interface Agent {
  g: SimGuest;
  state: AgentState;
  /** Fails like a QMP command the guest agent refused. */
  refuse(command: string, message: string): never;
}

/** PVE::QemuConfig->load_config, then PVE::QemuServer::Agent::assert_agent_available and the ping. */
export function agentFor(ctx: CallContext, command: string): Agent {
  const vmid = Number(ctx.params.vmid);
  const g = localGuest(ctx.sim.state, ctx.node.name, "qemu", vmid);
  if (!g) throw die(`Configuration file 'nodes/${ctx.node.name}/qemu-server/${vmid}.conf' does not exist`);
  if (g.config.agent === undefined) throw die("No QEMU guest agent configured");
  if (!g.running) throw die(`VM ${vmid} is not running`);
  if (!agentEnabled(g.config)) throw die("QEMU guest agent is not enabled");
  const state = guestAgentOf(ctx.sim.state, vmid);
  if (state.down) throw die("QEMU guest agent is not running");
  const refuse = (cmd: string, message: string): never => {
    throw die(`VM ${vmid} qmp command '${cmd}' failed - ${message}`);
  };
  // qemu-ga blocks everything but the fsfreeze status/thaw and ping commands while frozen.
  if (state.frozen && !["fsfreeze-status", "fsfreeze-thaw", "ping", "info"].includes(command)) {
    refuse(`guest-${command}`, `Command guest-${command} has been disabled: the agent is in frozen state`);
  }
  return { g, state, refuse };
}

/** A command registered by register_command: the reply is `{ result: <qemu-ga's return value> }`. */
function command(name: string, result: (agent: Agent, ctx: CallContext) => unknown): Handler {
  return (ctx) => {
    const agent = agentFor(ctx, name);
    return { result: result(agent, ctx) };
  };
}

const freezable = 2;

function fileRead(ctx: CallContext): Record<string, unknown> {
  const { state, refuse } = agentFor(ctx, "file-open");
  const path = String(ctx.params.file);
  const content = state.files.get(path);
  if (content === undefined) refuse("guest-file-open", `failed to open file '${path}' (mode: 'r'): No such file or directory`);
  return { content, "bytes-read": Buffer.byteLength(content!) };
}

function fileWrite(ctx: CallContext): null {
  const { state, refuse } = agentFor(ctx, "file-open");
  const path = String(ctx.params.file);
  if (!path.startsWith("/") && !/^[A-Za-z]:\\/.test(path)) refuse("guest-file-open", `failed to open file '${path}' (mode: 'wb'): No such file or directory`);
  const encode = ctx.params.encode === undefined || truthy(ctx.params.encode);
  const content = String(ctx.params.content);
  // Without encode the caller already sent base64; qemu-ga stores the decoded bytes.
  state.files.set(path, encode ? content : Buffer.from(content, "base64").toString("utf8"));
  return null;
}

const supported = ["guest-ping", "guest-info", "guest-get-osinfo", "guest-network-get-interfaces", "guest-get-fsinfo", "guest-get-users", "guest-get-host-name", "guest-file-open", "guest-file-read", "guest-file-write", "guest-file-close", "guest-fsfreeze-freeze", "guest-fsfreeze-thaw", "guest-fsfreeze-status", "guest-fstrim"];

const base = "/nodes/{node}/qemu/{vmid}/agent";

export const guestAgentRoutes: RouteTable = {
  [`GET ${base}`]: () =>
    ["exec", "exec-status", "file-read", "file-write", "fsfreeze-freeze", "fsfreeze-status", "fsfreeze-thaw", "fstrim", "get-fsinfo", "get-host-name", "get-osinfo", "get-users", "info", "network-get-interfaces", "ping"].map((name) => ({ name })),
  [`POST ${base}/ping`]: command("ping", () => ({})),
  [`GET ${base}/info`]: command("info", () => ({ version: "9.2.0", supported_commands: supported.map((name) => ({ name, enabled: true, "success-response": true })) })),
  [`GET ${base}/get-osinfo`]: command("get-osinfo", ({ g }) => osInfo(g)),
  [`GET ${base}/get-host-name`]: command("get-host-name", ({ g }) => ({ "host-name": guestName(g) })),
  [`GET ${base}/network-get-interfaces`]: command("network-get-interfaces", ({ g }) => interfaces(g)),
  [`GET ${base}/get-fsinfo`]: command("get-fsinfo", ({ g }) => fsInfo(g)),
  [`GET ${base}/get-users`]: command("get-users", () => loggedInUsers()),
  [`POST ${base}/fsfreeze-status`]: command("fsfreeze-status", ({ state }) => (state.frozen ? "frozen" : "thawed")),
  [`POST ${base}/fsfreeze-freeze`]: command("fsfreeze-freeze", ({ state }) => {
    state.frozen = true;
    return freezable;
  }),
  [`POST ${base}/fsfreeze-thaw`]: command("fsfreeze-thaw", ({ state }) => {
    const thawed = state.frozen ? freezable : 0;
    state.frozen = false;
    return thawed;
  }),
  [`POST ${base}/fstrim`]: command("fstrim", ({ g }) => ({
    paths: [
      { path: "/", trimmed: 1_073_741_824 + g.vmid * 4096, minimum: 0 },
      { path: "/boot/efi", trimmed: 0, minimum: 0 },
    ],
  })),
  [`GET ${base}/file-read`]: fileRead,
  [`POST ${base}/file-write`]: fileWrite,
};
