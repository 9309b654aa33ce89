import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Principal } from "../shared/protocol.ts";
import { authInfoOf } from "./mcp.ts";
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
}

/**
 * MCP sessions, kept in memory where the agent's connection lives (the Node process, or the agent's
 * Durable Object on Workers), so that server-initiated messages (progress, later events) reach the
 * client that asked. A session belongs to the token subject that opened it.
 */
export class McpSessions {
  private sessions = new Map<string, Session>();
  private readonly opts: SessionOptions;

  constructor(opts: SessionOptions) {
    this.opts = opts;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Streamable HTTP (`/mcp`): POST, GET (server stream) and DELETE. */
  async handleStreamable(req: Request, principal: Principal): Promise<Response> {
    const sid = req.headers.get("mcp-session-id");
    const authInfo = authInfoOf(principal);
    if (sid) {
      const session = this.lookup(sid, principal);
      if (!session?.streamable) return sessionNotFound();
      return session.streamable.handleRequest(req, { authInfo });
    }
    if (req.method !== "POST") return jsonRpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required; start with an initialize POST");
    this.sweep();
    const server = this.opts.newServer();
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      maxRequestBodySize: this.opts.maxBodyBytes,
      onsessioninitialized: (id) => {
        this.sessions.set(id, { sub: principal.sub, server, streamable: transport, lastSeen: Date.now() });
      },
      onsessionclosed: (id) => {
        this.sessions.delete(id);
      },
    });
    await server.connect(transport);
    return transport.handleRequest(req, { authInfo });
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
