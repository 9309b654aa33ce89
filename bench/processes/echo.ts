/**
 * The floor: an HTTP and WebSocket echo server in its own process. The benchmark's round trips to it are
 * what any relay over loopback costs at the least.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { serveUntilStopped } from "./lifecycle.ts";

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(Buffer.concat(chunks));
  });
});
// No compression, as on the tunnel.
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

serveUntilStopped({ port: (server.address() as AddressInfo).port }, async () => {
  for (const ws of wss.clients) ws.terminate();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
