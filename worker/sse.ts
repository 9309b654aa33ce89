import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { JSONRPCMessageSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

const KEEPALIVE_MS = 15_000;
const encoder = new TextEncoder();

/**
 * The legacy HTTP+SSE transport (protocol 2024-11-05) on web-standard streams, for clients such as early
 * n8n MCP nodes: a GET opens an event stream whose first event names the URL to POST messages to;
 * replies travel on the stream. The SDK's own SSE transport needs Node's ServerResponse.
 */
export class SseTransport implements Transport {
  readonly sessionId: string;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport["onmessage"];
  private controller?: ReadableStreamDefaultController<Uint8Array>;
  private keepalive?: ReturnType<typeof setInterval>;
  private closed = false;
  private readonly stream: ReadableStream<Uint8Array>;
  private readonly maxBodyBytes: number;

  constructor(sessionId: string, endpoint: string, maxBodyBytes: number) {
    this.sessionId = sessionId;
    this.maxBodyBytes = maxBodyBytes;
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
        controller.enqueue(encoder.encode(`event: endpoint\ndata: ${endpoint}\n\n`));
        this.keepalive = setInterval(() => this.write(": keepalive\n\n"), KEEPALIVE_MS);
      },
      cancel: () => void this.close(),
    });
  }

  response(): Response {
    return new Response(this.stream, {
      headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-transform", Connection: "keep-alive" },
    });
  }

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) throw new Error("SSE stream closed");
    this.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    try {
      this.controller?.close();
    } catch {
      // already closed by the client
    }
    this.onclose?.();
  }

  /** A client message POSTed to the endpoint; answered 202, the reply goes down the stream. */
  async handlePost(req: Request, authInfo: AuthInfo): Promise<Response> {
    if (!(req.headers.get("content-type") ?? "").includes("application/json")) {
      return Response.json({ error: "unsupported_media_type", error_description: "POST a JSON-RPC message as application/json" }, { status: 415 });
    }
    const text = await req.text();
    if (text.length > this.maxBodyBytes) return Response.json({ error: "payload_too_large" }, { status: 413 });
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return Response.json({ jsonrpc: "2.0", error: { code: -32700, message: "Parse error: body is not JSON" }, id: null }, { status: 400 });
    }
    const parsed = JSONRPCMessageSchema.safeParse(raw);
    if (!parsed.success) {
      return Response.json({ jsonrpc: "2.0", error: { code: -32600, message: "Invalid Request: not a JSON-RPC 2.0 message" }, id: null }, { status: 400 });
    }
    this.onmessage?.(parsed.data, { authInfo });
    return new Response("Accepted", { status: 202 });
  }

  private write(text: string): void {
    if (this.closed) return;
    try {
      this.controller?.enqueue(encoder.encode(text));
    } catch {
      void this.close();
    }
  }
}
