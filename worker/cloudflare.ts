import { DurableObject } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { createLogger } from "../shared/log.ts";
import { PING_TEXT, PONG_TEXT, helloFrame, type HelloFrame } from "../shared/protocol.ts";
import type { Event } from "../shared/event.ts";
import type { EventLogSnapshot } from "./events.ts";
import { createApp } from "./app.ts";
import { parseWorkerConfig, resolveDefaultAgent, sessionSecret } from "./config.ts";
import { Hub, type AgentSocket } from "./hub.ts";
import { createMcpServer } from "./mcp.ts";
import { AgentRegistry, type AgentRecord, type AgentRegistryApi, type EnrollResult } from "./registry.ts";
import { McpSessions } from "./sessions.ts";

/** The one registry of enrolled agents and enrollment codes, in its own Durable Object's storage. */
export class Registry extends DurableObject<Env> implements AgentRegistryApi {
  private readonly registry = new AgentRegistry({
    load: () => this.ctx.storage.get("registry"),
    save: (data) => this.ctx.storage.put("registry", data),
  });
  createCode(ttlSeconds: number): Promise<{ code: string; expires_at: string }> {
    return this.registry.createCode(ttlSeconds);
  }
  enroll(code: string, agentId: string, publicKey: Record<string, unknown>): Promise<EnrollResult> {
    return this.registry.enroll(code, agentId, publicKey);
  }
  get(agentId: string): Promise<AgentRecord | undefined> {
    return this.registry.get(agentId);
  }
  isRevoked(agentId: string): Promise<boolean> {
    return this.registry.isRevoked(agentId);
  }
  list(): Promise<AgentRecord[]> {
    return this.registry.list();
  }
  revoke(agentId: string): Promise<boolean> {
    return this.registry.revoke(agentId);
  }
}

function registryOf(env: Env): AgentRegistryApi {
  return env.REGISTRY.get(env.REGISTRY.idFromName("registry")) as unknown as AgentRegistryApi;
}

interface Env {
  AGENT_HUB: DurableObjectNamespace<AgentHub>;
  REGISTRY: DurableObjectNamespace<Registry>;
  [key: string]: unknown;
}

interface Attachment {
  agentId: string;
}

/**
 * One Durable Object per agent. It holds the agent's WebSocket with the hibernation API and the MCP
 * sessions that talk to that agent, so a relayed call never leaves the object. Heartbeats are answered
 * by the runtime (auto-response) without waking it; the catalog is kept in storage for after hibernation.
 */
export class AgentHub extends DurableObject<Env> {
  private readonly hub: Hub;
  private readonly sessions: McpSessions;
  private readonly app: ReturnType<typeof createApp>;
  private readonly links = new WeakMap<WebSocket, AgentSocket>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const config = parseWorkerConfig(env);
    const log = createLogger("worker", config.LOG_LEVEL);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_TEXT, PONG_TEXT));
    let savedEvents: EventLogSnapshot | undefined;
    this.hub = new Hub({
      // Each event is its own storage key, so a client that comes back after an eviction can page through them.
      eventSnapshot: () => savedEvents,
      onEvent: (_session, event, seq) => {
        void ctx.storage.put(eventKey(seq), event);
        if (seq > EVENTS_KEPT) void ctx.storage.delete(eventKey(seq - EVENTS_KEPT));
      },
      graceMs: config.RECONNECT_GRACE_MS,
      heartbeatMs: config.HEARTBEAT_MS,
      log,
      onHello: (hello) => {
        void ctx.storage.put("hello", hello);
        void this.sessions.broadcastToolListChanged();
      },
    });
    let agentId = "";
    this.sessions = new McpSessions({
      maxBodyBytes: config.MAX_BODY_BYTES,
      secret: sessionSecret(config),
      newServer: () => createMcpServer({ agent: () => (agentId ? this.hub.get(agentId) : undefined), callTimeoutMs: config.CALL_TIMEOUT_MS, confirmDestructive: config.CONFIRM_DESTRUCTIVE }),
    });
    this.app = createApp({
      config,
      hub: this.hub,
      registry: registryOf(env),
      log,
      sessionsFor: (id) => {
        agentId = id;
        return this.sessions;
      },
      upgradeAgent: (_c, id) => {
        agentId = id;
        const pair = new WebSocketPair();
        const [client, server] = [pair[0], pair[1]];
        this.ctx.acceptWebSocket(server);
        server.serializeAttachment({ agentId: id } satisfies Attachment);
        this.hub.get(id).attach(this.link(server));
        return new Response(null, { status: 101, webSocket: client });
      },
    });
    ctx.blockConcurrencyWhile(async () => {
      savedEvents = await loadEvents(ctx.storage);
      const stored = helloFrame.safeParse(await ctx.storage.get("hello"));
      for (const ws of ctx.getWebSockets()) {
        const { agentId: id } = ws.deserializeAttachment() as Attachment;
        agentId = id;
        if (stored.success) this.hub.get(id).restore(this.link(ws), stored.data as HelloFrame);
      }
    });
  }

  async fetch(request: Request): Promise<Response> {
    return this.app.fetch(request, this.env);
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") return ws.close(1003, "text frames only");
    this.session(ws).receive(this.link(ws), message);
  }

  async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.session(ws).detach(this.link(ws), `closed (${code})`);
  }

  async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.session(ws).detach(this.link(ws), `error: ${String(error)}`);
  }

  private session(ws: WebSocket) {
    return this.hub.get((ws.deserializeAttachment() as Attachment).agentId);
  }

  /** The same wrapper object for the same socket, so the session can tell its current socket from old ones. */
  private link(ws: WebSocket): AgentSocket {
    let link = this.links.get(ws);
    if (!link) {
      link = {
        send: (text) => {
          try {
            ws.send(text);
          } catch {
            // the socket closed under us; webSocketClose will follow
          }
        },
        close: (code, reason) => ws.close(code, reason),
      };
      this.links.set(ws, link);
    }
    return link;
  }
}

const EVENTS_KEPT = 1000;
const eventKey = (seq: number) => `ev:${String(seq).padStart(12, "0")}`;

async function loadEvents(storage: DurableObjectStorage): Promise<EventLogSnapshot | undefined> {
  const stored = await storage.list<Event>({ prefix: "ev:" });
  if (!stored.size) return undefined;
  const entries = [...stored].map(([key, event]) => ({ seq: Number(key.slice(3)), event }));
  return { next: entries[entries.length - 1].seq + 1, entries };
}

/** Routes each request to the Durable Object of the agent it concerns. */
async function agentIdFor(request: Request, env: Env): Promise<string> {
  const url = new URL(request.url);
  if (url.pathname === "/agent") {
    const auth = request.headers.get("authorization") ?? "";
    try {
      // Routing only: the Durable Object verifies the signature before accepting the socket.
      return String(decodeJwt(auth.replace(/^Bearer\s+/i, "")).sub ?? "unknown");
    } catch {
      return "unknown";
    }
  }
  const match = /^\/(?:agents|admin\/agents)\/([^/]+)/.exec(url.pathname);
  if (match) return decodeURIComponent(match[1]);
  return (await resolveDefaultAgent(parseWorkerConfig(env), () => registryOf(env).list())) ?? "default";
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    try {
      const stub = env.AGENT_HUB.get(env.AGENT_HUB.idFromName(await agentIdFor(request, env)));
      return await stub.fetch(request);
    } catch (err) {
      return Response.json({ error: "internal_error", error_description: (err as Error).message }, { status: 500 });
    }
  },
} satisfies ExportedHandler<Env>;
