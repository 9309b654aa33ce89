import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";
import { createGotifyListener, gotifyStreamUrl } from "../../../../agent/events/listeners/gotify.ts";
import { WebSocketListener, mappedParser } from "../../../../agent/events/listeners/websocket.ts";
import type { EventListener } from "../../../../agent/events/source.ts";
import { collector, eventually, memoryLog } from "../helpers.ts";

/** A Gotify-like /stream endpoint that only lets in the right client token. */
async function fakeGotify(token: string) {
  const sockets: WebSocket[] = [];
  const upgrades: IncomingMessage[] = [];
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    path: "/stream",
    verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number) => void) => {
      upgrades.push(info.req);
      done(info.req.headers["x-gotify-key"] === token, 401);
    },
  });
  wss.on("connection", (ws) => sockets.push(ws));
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const port = (wss.address() as { port: number }).port;
  return { wss, sockets, upgrades, url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => wss.close(() => r())) };
}

const message = (id: number, priority: number) => JSON.stringify({ id, appid: 3, message: `backup of vm ${id} done`, title: "Backup", priority, date: "2026-11-23T09:00:00.123456789+01:00", extras: { "client::display": { contentType: "text/plain" } } });

describe("gotify and websocket listeners", () => {
  let listener: EventListener | undefined;
  let server: Awaited<ReturnType<typeof fakeGotify>> | undefined;
  afterEach(async () => {
    await listener?.stop();
    for (const ws of server?.sockets ?? []) ws.terminate();
    await server?.close();
  });

  it("builds the stream URL under the server's prefix", () => {
    expect(gotifyStreamUrl("https://push.example.com/gotify/")).toBe("wss://push.example.com/gotify/stream");
    expect(gotifyStreamUrl("http://10.0.0.5:8080")).toBe("ws://10.0.0.5:8080/stream");
  });

  it("receives Gotify messages with the client token and reconnects after the server drops it", async () => {
    server = await fakeGotify("client-token");
    const { emit, events } = collector();
    listener = createGotifyListener({ url: server.url, client_token: "client-token", reconnect: { base_ms: 10, max_ms: 50 }, idle_timeout_ms: 0, emit, log: memoryLog().log });
    await listener.start();
    await eventually(() => server!.sockets.length === 1, "first connection");
    server.sockets[0].send(message(41, 8));
    server.sockets[0].send("not json");
    await eventually(() => events.length === 1, "first message");
    expect(events[0]).toMatchObject({ source: "gotify", severity: "error", title: "Backup", message: "backup of vm 41 done", metadata: { gotify_id: 41, appid: 3, priority: 8 } });
    expect(events[0].time?.toISOString()).toBe("2026-11-23T08:00:00.123Z");

    server.sockets[0].terminate();
    await eventually(() => server!.sockets.length === 2 && server!.sockets[1].readyState === 1, "reconnection");
    server.sockets[1].send(message(42, 2));
    await eventually(() => events.length === 2, "message after reconnect");
    expect(events[1]).toMatchObject({ severity: "info", metadata: { gotify_id: 42 } });
    expect(listener.counters()).toMatchObject({ received: 3, emitted: 2, malformed: 1, reconnects: 1, connected: 1 });
  });

  it("keeps retrying when the token is refused", async () => {
    server = await fakeGotify("right");
    const { log, lines } = memoryLog();
    listener = createGotifyListener({ url: server.url, client_token: "wrong", reconnect: { base_ms: 10, max_ms: 20 }, idle_timeout_ms: 0, emit: () => {}, log });
    await listener.start();
    await eventually(() => server!.upgrades.length >= 3, "three attempts");
    expect(lines.some((l) => l.msg === "event socket refused" && l.status === 401)).toBe(true);
    expect(JSON.stringify(lines)).not.toContain("wrong");
  });

  it("maps a generic socket's JSON by configured fields, or takes text as the message", async () => {
    server = await fakeGotify("k");
    const { emit, events } = collector();
    const name = "websocket:ha";
    listener = new WebSocketListener({
      name,
      url: `${server.url.replace("http", "ws")}/stream`,
      headers: { "X-Gotify-Key": "k" },
      parse: mappedParser(name, { title: "event.name", message: "event.text", severity: "level", node: "host", time: "at", id: "uid" }, { "2": "warning" }),
      reconnect: { base_ms: 10, max_ms: 50 },
      idle_timeout_ms: 0,
      emit,
      log: memoryLog().log,
    });
    await listener.start();
    await eventually(() => server!.sockets.length === 1, "connection");
    server.sockets[0].send(JSON.stringify({ event: { name: "UPS on battery", text: "input power lost" }, level: 2, host: "pve1", at: "2026-11-23T09:00:00Z", uid: "abc" }));
    server.sockets[0].send("plain text line");
    await eventually(() => events.length === 2, "two messages");
    expect(events[0]).toMatchObject({ source: "websocket", severity: "warning", title: "UPS on battery", message: "input power lost", node: "pve1", stableKey: `${name}\0abc` });
    expect(events[1]).toMatchObject({ severity: "info", title: name, message: "plain text line" });
  });
});
