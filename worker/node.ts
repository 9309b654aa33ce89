import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { serve, type ServerType } from "@hono/node-server";
import { WebSocketServer, type WebSocket } from "ws";
import { createLogger } from "../shared/log.ts";
import { MAX_FRAME_BYTES } from "../shared/protocol.ts";
import { createApp } from "./app.ts";
import { parseWorkerConfig } from "./config.ts";
import { Hub, type AgentSocket } from "./hub.ts";
import { createMcpServer } from "./mcp.ts";
import { McpSessions } from "./sessions.ts";

type UpgradeEnv = { incoming: IncomingMessage; socket: Duplex; head: Buffer };

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
        newServer: () => createMcpServer({ agent: () => hub.get(agentId), callTimeoutMs: config.CALL_TIMEOUT_MS }),
      });
      sessionsByAgent.set(agentId, sessions);
    }
    return sessions;
  };
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES + 64 * 1024, perMessageDeflate: false });
  const alive = new WeakSet<WebSocket>();

  const app = createApp({
    config,
    hub,
    log,
    sessionsFor,
    upgradeAgent: (c, agentId) => {
      const { incoming, socket, head } = c.env as UpgradeEnv;
      wss.handleUpgrade(incoming, socket, head, (ws) => {
        const session = hub.get(agentId);
        const link: AgentSocket = { send: (text) => ws.send(text), close: (code, reason) => ws.close(code, reason) };
        alive.add(ws);
        ws.on("pong", () => alive.add(ws));
        ws.on("message", (data, isBinary) => (isBinary ? ws.close(1003, "text frames only") : session.receive(link, data.toString())));
        ws.on("close", (code) => session.detach(link, `closed (${code})`));
        ws.on("error", (err) => log.warn("agent socket error", { agent: agentId, error: err.message }));
        session.attach(link);
      });
      return new Response(null, { status: 101 });
    },
  });

  const host = env.HOST ?? "127.0.0.1";
  const port = Number(env.PORT ?? 8787);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
  });
  server.on("upgrade", (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
    void handleUpgrade(incoming, socket, head);
  });

  async function handleUpgrade(incoming: IncomingMessage, socket: Duplex, head: Buffer) {
    const url = `http://${incoming.headers.host ?? "localhost"}${incoming.url ?? "/"}`;
    const headers = new Headers();
    for (const [k, v] of Object.entries(incoming.headers)) if (typeof v === "string") headers.set(k, v);
    const res = await app.fetch(new Request(url, { method: "GET", headers }), { incoming, socket, head } satisfies UpgradeEnv);
    if (res.status !== 101) writeRawResponse(socket, res);
  }

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
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers a refused upgrade on the raw socket (the HTTP server hands upgrades over before Hono sees them). */
function writeRawResponse(socket: Duplex, res: Response): void {
  void res.text().then((body) => {
    const lines = [`HTTP/1.1 ${res.status} ${res.statusText || "Error"}`];
    res.headers.forEach((v, k) => {
      if (k !== "content-length") lines.push(`${k}: ${v}`);
    });
    lines.push(`content-length: ${Buffer.byteLength(body)}`, "connection: close");
    socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  startNodeWorker(process.env).catch((err: Error) => {
    console.error(JSON.stringify({ level: "error", component: "worker", msg: err.message }));
    process.exit(1);
  });
}
