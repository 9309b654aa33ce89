import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { z } from "zod";
import type { Principal } from "../shared/protocol.ts";
import { authInfoOf } from "./mcp.ts";
import { SessionIds } from "./session-id.ts";
import { SseTransport } from "./sse.ts";

interface Session {
  sub: string;
  server: Server;
  lastSeen: number;
  streamable?: WebStandardStreamableHTTPServerTransport;
  sse?: SseTransport;
}

const IDLE_MS = 60 * 60_000;
const MAX_SESSIONS = 1_000;

export interface SessionOptions {
  newServer: () => Server;
  maxBodyBytes: number;
  /** Signs session ids; must be stable across restarts for sessions to survive them. */
  secret: string;
}

const initializeRequest = z.object({
  method: z.literal("initialize"),
  params: z.object({
    protocolVersion: z.string(),
    capabilities: z.record(z.string(), z.unknown()),
    clientInfo: z.object({ name: z.string(), version: z.string() }).loose(),
  }),
});

/**
 * MCP sessions, kept in memory where the agent's connection lives (the Node process, or the agent's
 * Durable Object on Workers), so that server-initiated messages (progress, later events) reach the
 * client that asked. A session belongs to the token subject that opened it.
 */
export class McpSessions {
  private sessions = new Map<string, Session>();
  private reviving = new Map<string, Promise<Session | undefined>>();
  private readonly opts: SessionOptions;
  private readonly ids: SessionIds;

  constructor(opts: SessionOptions) {
    this.opts = opts;
    this.ids = new SessionIds(opts.secret);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Streamable HTTP (`/mcp`): POST, GET (server stream) and DELETE. */
  async handleStreamable(req: Request, principal: Principal): Promise<Response> {
    const sid = req.headers.get("mcp-session-id");
    const authInfo = authInfoOf(principal);
    if (sid) {
      const session = this.lookup(sid, principal) ?? (await this.revive(sid, principal, req.url));
      if (!session?.streamable) return sessionNotFound();
      return session.streamable.handleRequest(req, { authInfo });
    }
    if (req.method !== "POST") return jsonRpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required; start with an initialize POST");
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return jsonRpcError(400, -32700, "Parse error: the body is not JSON");
    }
    const init = initializeRequest.safeParse(body);
    const id = init.success
      ? await this.ids.mint({ sub: principal.sub, pv: init.data.params.protocolVersion, caps: init.data.params.capabilities, ci: init.data.params.clientInfo })
      : crypto.randomUUID();
    this.sweep();
    return this.open(id, principal, req, body);
  }

  private async open(id: string, principal: Principal, req: Request, parsedBody?: unknown): Promise<Response> {
    const server = this.opts.newServer();
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      maxRequestBodySize: this.opts.maxBodyBytes,
      onsessioninitialized: (sid) => {
        this.sessions.set(sid, { sub: principal.sub, server, streamable: transport, lastSeen: Date.now() });
      },
      onsessionclosed: (sid) => {
        this.sessions.delete(sid);
      },
    });
    await server.connect(transport);
    return transport.handleRequest(req, { authInfo: authInfoOf(principal), ...(parsedBody === undefined ? {} : { parsedBody }) });
  }

  /**
   * Rebuilds a session this process does not know (it restarted, or the Durable Object was evicted) from
   * its signed id, by replaying the client's initialize; only for the subject that opened it.
   */
  private revive(sid: string, principal: Principal, url: string): Promise<Session | undefined> {
    let pending = this.reviving.get(sid);
    if (!pending) {
      pending = this.rebuild(sid, principal, url).finally(() => this.reviving.delete(sid));
      this.reviving.set(sid, pending);
    }
    return pending;
  }

  private async rebuild(sid: string, principal: Principal, url: string): Promise<Session | undefined> {
    if (this.sessions.has(sid)) return this.lookup(sid, principal);
    const claims = await this.ids.verify(sid);
    if (!claims || claims.sub !== principal.sub) return undefined;
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const init = { jsonrpc: "2.0", id: "revive", method: "initialize", params: { protocolVersion: claims.pv, capabilities: claims.caps, clientInfo: claims.ci } };
    await (await this.open(sid, principal, new Request(url, { method: "POST", headers, body: JSON.stringify(init) }))).text();
    const session = this.sessions.get(sid);
    if (!session?.streamable) return undefined;
    const initialized = new Request(url, {
      method: "POST",
      headers: { ...headers, "mcp-session-id": sid, "mcp-protocol-version": claims.pv },
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    await (await session.streamable.handleRequest(initialized, { authInfo: authInfoOf(principal) })).text();
    return session;
  }

  /** Legacy HTTP+SSE: GET opens the event stream that announces where to POST. */
  async openSse(messagesPath: string, principal: Principal): Promise<Response> {
    this.sweep();
    const sessionId = crypto.randomUUID();
    const transport = new SseTransport(sessionId, `${messagesPath}?sessionId=${sessionId}`, this.opts.maxBodyBytes);
    const server = this.opts.newServer();
    transport.onclose = () => this.sessions.delete(sessionId);
    this.sessions.set(sessionId, { sub: principal.sub, server, sse: transport, lastSeen: Date.now() });
    await server.connect(transport);
    return transport.response();
  }

  async postSse(req: Request, sessionId: string | undefined, principal: Principal): Promise<Response> {
    const session = sessionId ? this.lookup(sessionId, principal) : undefined;
    if (!session?.sse) return sessionNotFound();
    return session.sse.handlePost(req, authInfoOf(principal));
  }

  /** Sends a notification to every open session (e.g. the agent's tool list changed). */
  async broadcastToolListChanged(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.server.sendToolListChanged().catch(() => undefined)));
  }

  private lookup(id: string, principal: Principal): Session | undefined {
    const session = this.sessions.get(id);
    if (!session || session.sub !== principal.sub) return undefined;
    session.lastSeen = Date.now();
    return session;
  }

  private sweep(): void {
    const cutoff = Date.now() - IDLE_MS;
    const byAge = [...this.sessions.entries()].sort((a, b) => a[1].lastSeen - b[1].lastSeen);
    let excess = this.sessions.size - MAX_SESSIONS + 1;
    for (const [id, s] of byAge) {
      if (s.lastSeen >= cutoff && excess <= 0) break;
      excess--;
      this.sessions.delete(id);
      void s.server.close().catch(() => undefined);
    }
  }
}

export function jsonRpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status });
}

function sessionNotFound(): Response {
  return jsonRpcError(404, -32001, "Session not found: it expired or the server restarted; send a new initialize request");
}
