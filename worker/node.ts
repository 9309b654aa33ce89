import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import { serve, upgradeWebSocket, type ServerType } from "@hono/node-server";
import { WebSocketServer, type WebSocket } from "ws";
import { createLogger } from "../shared/log.ts";
import { MAX_FRAME_BYTES } from "../shared/protocol.ts";
import { createApp } from "./app.ts";
import { parseWorkerConfig, sessionSecret } from "./config.ts";
import { Hub, type AgentSocket } from "./hub.ts";
import { createMcpServer } from "./mcp.ts";
import { Metrics } from "./metrics.ts";
import { AgentRegistry, type RegistryStore } from "./registry.ts";
import { McpSessions } from "./sessions.ts";

export interface NodeWorker {
  url: string;
  port: number;
  hub: Hub;
  close(): Promise<void>;
}

/** Runs the worker on Node: Hono over node:http, agents over `ws`. Binds to loopback unless HOST says otherwise. */
export async function startNodeWorker(env: Record<string, string | undefined>): Promise<NodeWorker> {
  const config = parseWorkerConfig(env);
  const log = createLogger("worker", config.LOG_LEVEL);
  const sessionsByAgent = new Map<string, McpSessions>();
  const metrics = new Metrics();
  const observe = ({ tool, outcome, ms, requestId, sub }: { tool: string; outcome: string; ms: number; requestId?: string; sub: string }) => {
    metrics.call(tool, outcome, ms / 1000);
    log.info("tool call", { tool, outcome, ms, request_id: requestId, sub });
  };
  const hub = new Hub({
    graceMs: config.RECONNECT_GRACE_MS,
    heartbeatMs: config.HEARTBEAT_MS,
    log,
    onHello: (hello) => void sessionsByAgent.get(hello.agent.id)?.broadcastToolListChanged(),
  });
  const sessionsFor = (agentId: string) => {
    let sessions = sessionsByAgent.get(agentId);
    if (!sessions) {
      sessions = new McpSessions({
        maxBodyBytes: config.MAX_BODY_BYTES,
        secret: sessionSecret(config),
        newServer: () => createMcpServer({ agent: () => hub.get(agentId), observe, callTimeoutMs: config.CALL_TIMEOUT_MS, confirmDestructive: config.CONFIRM_DESTRUCTIVE }),
      });
      sessionsByAgent.set(agentId, sessions);
    }
    return sessions;
  };
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES + 64 * 1024, perMessageDeflate: false });
  const alive = new WeakSet<WebSocket>();

  const registry = new AgentRegistry(fileStore(config.AGENT_REGISTRY_FILE));
  const app = createApp({
    config,
    hub,
    registry,
    log,
    metrics,
    sessionsFor,
    upgradeAgent: (c, agentId) => {
      const session = hub.get(agentId);
      let link: AgentSocket | undefined;
      const upgrade = upgradeWebSocket(() => ({
        onOpen: (_evt, ws) => {
          const raw = ws.raw as WebSocket;
          link = { send: (text) => raw.send(text), close: (code, reason) => raw.close(code, reason) };
          alive.add(raw);
          raw.on("pong", () => alive.add(raw));
          session.attach(link);
        },
        onMessage: (evt, ws) => {
          if (typeof evt.data !== "string") return ws.close(1003, "text frames only");
          if (link) session.receive(link, evt.data);
        },
        onClose: (evt) => link && session.detach(link, `closed (${evt.code})`),
        onError: (evt) => log.warn("agent socket error", { agent: agentId, error: String((evt as ErrorEvent).error) }),
      }));
      return upgrade(c, async () => undefined) as Promise<Response>;
    },
  });

  const host = env.HOST ?? "127.0.0.1";
  const port = Number(env.PORT ?? 8787);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: host, port, websocket: { server: wss } }, () => resolve(s));
  });

  // Requests Node's HTTP parser refuses (huge headers, malformed lines) still get a JSON answer.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
    const body = JSON.stringify({ error: status === 431 ? "headers_too_large" : "bad_request", error_description: err.code ?? "malformed HTTP request" });
    socket.end(`HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, config.HEARTBEAT_MS);
  heartbeat.unref();

  const actualPort = (server.address() as AddressInfo).port;
  log.info("worker listening", { url: `http://${host}:${actualPort}`, agents: Object.keys(config.AGENT_KEYS) });
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${actualPort}`,
    port: actualPort,
    hub,
    close: async () => {
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.terminate();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Open SSE streams and keep-alive sockets would hold close() forever.
      (server as import("node:http").Server).closeAllConnections?.();
      await closed;
    },
  };
}

/** The agent registry as one JSON file (0600), replaced atomically on each change. */
function fileStore(path: string): RegistryStore {
  return {
    async load() {
      try {
        return JSON.parse(readFileSync(path, "utf8"));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw new Error(`cannot read the agent registry ${path}: ${(err as Error).message}`);
      }
    },
    async save(data) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(`${path}.tmp`, JSON.stringify(data, null, 1), { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  startNodeWorker(process.env).catch((err: Error) => {
    console.error(JSON.stringify({ level: "error", component: "worker", msg: err.message }));
    process.exit(1);
  });
}
