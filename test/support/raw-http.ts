import { request } from "node:http";
import { connect } from "node:net";

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** A body sent at once (with Content-Length), or pieces sent with chunked transfer encoding. */
  body?: string | Buffer | Buffer[];
  signal?: AbortSignal;
}

/**
 * One HTTP request on its own connection (no keep-alive pool), so that a server closing the socket
 * after an early answer (413 to a body it did not read) cannot spill into the next request.
 */
export function httpRequest(port: number, req: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const pieces = Array.isArray(req.body) ? req.body : undefined;
    const r = request(
      { host: "127.0.0.1", port, method: req.method ?? "POST", path: req.path, headers: { Connection: "close", ...req.headers }, agent: false, signal: req.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    // The server may answer and close before the whole body is written; the answer is what counts.
    r.on("error", (err) => reject(err));
    if (pieces) {
      void (async () => {
        for (const piece of pieces) {
          if (r.destroyed) return;
          if (!r.write(piece)) await new Promise((resolve) => r.once("drain", resolve));
        }
        r.end();
      })();
    } else {
      r.end(req.body);
    }
  });
}

/** Writes raw bytes to the server and returns everything it answered until it closed the connection. */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 5_000): Promise<{ text: string; status: number; timedOut: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let timedOut = false;
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString();
      resolve({ text, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), timedOut });
    });
    socket.setTimeout(timeoutMs, () => {
      timedOut = true;
      socket.destroy();
    });
    socket.write(bytes);
  });
}

/** The body of a raw HTTP answer (after the blank line). */
export function rawBody(text: string): string {
  const at = text.indexOf("\r\n\r\n");
  return at < 0 ? "" : text.slice(at + 4);
}
