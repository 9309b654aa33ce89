/**
 * The node:https adapter around the dispatcher: reads the request, writes the reply with the
 * headers pveproxy always sends (PVE::APIServer::AnyEvent::response), gzip for larger bodies when
 * the client accepts it, and the status text PVE chose.
 */
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import type { ApiRequest, ApiResponse } from "./http.ts";

const maxBodyBytes = 1024 * 1024;

/** Node refuses reason phrases with characters outside latin-1; PVE sends bytes as they are. */
function safeReason(reason: string): string {
  return reason.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?");
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toApiRequest(req: IncomingMessage, body: Buffer): ApiRequest {
  return {
    method: req.method ?? "GET",
    url: req.url ?? "/",
    header: (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    body,
  };
}

function write(res: ServerResponse, req: IncomingMessage, reply: ApiResponse): void {
  const date = new Date().toUTCString();
  let body: Buffer = Buffer.from(reply.body, "utf8");
  const headers: Record<string, string | number> = {
    "Cache-Control": "max-age=0",
    Date: date,
    Expires: date,
    Pragma: "no-cache",
    Server: "pve-api-daemon/3.0",
    ...reply.headers,
  };
  if (body.length > 1024 && /gzip/.test(req.headers["accept-encoding"] ?? "")) {
    body = gzipSync(body);
    headers["Content-Encoding"] = "gzip";
  }
  if (body.length) headers["Content-Length"] = body.length;
  // pveproxy ends keep-alive after every error reply.
  if (reply.status >= 400) headers.Connection = "close";
  res.writeHead(reply.status, safeReason(reply.reason), headers);
  res.end(body);
}

/** An HTTPS server answering every request through `dispatch`. */
export function createHttpsServer(tls: { cert: string; key: string }, dispatch: (req: ApiRequest) => Promise<ApiResponse>): Server {
  return createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    void (async () => {
      try {
        const reply = await dispatch(toApiRequest(req, await readBody(req)));
        if (reply.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
        write(res, req, reply);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        write(res, req, { status: 500, reason: message.split("\n")[0], headers: {}, body: message, delayMs: 0 });
      }
    })();
  });
}
