import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentKeyPair } from "../../scripts/lib/credentials.ts";
import { httpRequest, rawBody, rawExchange, type RawAnswer } from "../support/raw-http.ts";
import { ECHO_TOOL, UpgradeRefused, startBareWorker, type BareWorker, type RawAgent } from "../support/rogue-agent.ts";
import { startStack, type Stack } from "../support/stack.ts";

/**
 * Bad input on purpose, against the worker on Node. The lists below are every kind tried, each with the
 * answer the worker must give; the worker must stay up and keep serving, and the heap must not grow
 * with thousands of bad requests or frames.
 *
 * HTTP (clients, via startStack): HTTP_CASES, NODE_PARSER_CASES, and
 *   - thousands of notifications/cancelled (single and in batches of 100), and one naming a call in flight
 *   - initialize + tools/list at 50 made-up /agents/<id>/mcp paths
 *   - a body shorter than its Content-Length, then silence
 *   - a few thousand bad requests for the heap check
 *   - the legacy /messages endpoint: wrong content type, not JSON, not JSON-RPC, over the body limit
 * Tunnel (a rogue agent holding a registered key, via startBareWorker): FRAME_CASES, CLOSE_CASES,
 * UPGRADE_CASES, and
 *   - chunks: continuation of an unknown message, out of order, a chunk inside a chunked message,
 *     65 messages left open, one message over 16 MiB, out-of-order chunks of a real call's result,
 *     a valid 3 MiB chunked result interleaved with pings (control)
 *   - a result with an invalid shape, and one with a lone UTF-16 surrogate, for a real call
 *   - tool arguments nested 100k levels deep (cannot be serialised into a call frame)
 *   - a mutating call the agent receives and never answers (the worker's deadline passes)
 *   - a connection that closes before its hello, between a drop and the reconnect
 *   - 60 MiB of unfinished chunks, then the rogue agent goes away
 *   - a few thousand bad frames for the heap check
 */

const MAX_BODY_BYTES = 1024 * 1024;
const DEEP = 100_000;
const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bad-input", version: "1" } },
};
const INIT_TEXT = JSON.stringify(INIT);
const LIST = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}';

interface HttpCtx {
  port: number;
  token: string;
  /** A live Streamable HTTP session. */
  sid: string;
}

interface HttpCase {
  input: string;
  send: (ctx: HttpCtx) => Promise<RawAnswer>;
  status: number;
  body: RegExp;
  /** Cheap enough to repeat thousands of times for the heap check. */
  repeat?: boolean;
}

const client = (ctx: HttpCtx) => ({ Authorization: `Bearer ${ctx.token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" });
const session = (ctx: HttpCtx) => ({ ...client(ctx), "Mcp-Session-Id": ctx.sid, "Mcp-Protocol-Version": "2025-06-18" });
const post = (body: string | Buffer | Buffer[], headers: (ctx: HttpCtx) => Record<string, string> = client, path = "/mcp") => (ctx: HttpCtx) =>
  httpRequest(ctx.port, { path, headers: headers(ctx), body });
const chunked = (bytes: number) => Array.from({ length: Math.ceil(bytes / 65_536) }, () => Buffer.alloc(65_536, 0x20));
const invalidUtf8 = (before: string, after: string) => Buffer.concat([Buffer.from(before), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from(after)]);
const NOT_JSON_RPC = /Invalid JSON-RPC message/;

/** Client requests the worker (Hono + the MCP SDK transport) answers with an HTTP status and a JSON body. */
const HTTP_CASES: HttpCase[] = [
  { input: "body that is not JSON ('{'), no session", send: post("{"), status: 400, body: /-32700.*not JSON/, repeat: true },
  { input: "a JSON string instead of a JSON-RPC object", send: post('"initialize"'), status: 400, body: NOT_JSON_RPC, repeat: true },
  { input: "JSON null", send: post("null"), status: 400, body: NOT_JSON_RPC, repeat: true },
  { input: "a JSON-RPC 1.0 envelope", send: post('{"jsonrpc":"1.0","id":1,"method":"initialize"}'), status: 400, body: NOT_JSON_RPC, repeat: true },
  { input: "tools/list before initialize, no session", send: post(LIST), status: 400, body: /not initialized|Mcp-Session-Id/, repeat: true },
  { input: "body that is not JSON, in a session", send: post("{", session), status: 400, body: /-32700/, repeat: true },
  { input: "an unknown JSON-RPC method, in a session", send: post('{"jsonrpc":"2.0","id":7,"method":"no/such"}', session), status: 200, body: /-32601/, repeat: true },
  { input: "a second initialize in a session", send: post(INIT_TEXT, session), status: 400, body: /already initialized/, repeat: true },
  { input: "a JSON-RPC response to a request the server never sent", send: post('{"jsonrpc":"2.0","id":999,"result":{}}', session), status: 202, body: /^$/, repeat: true },
  { input: "empty batch [], no session", send: post("[]"), status: 400, body: /not initialized/, repeat: true },
  // Nothing to answer: the SDK acknowledges an empty batch (batches exist only in protocol 2025-03-26).
  { input: "empty batch [], in a session", send: post("[]", session), status: 202, body: /^$/, repeat: true },
  { input: "batch of two initialize requests", send: post(`[${INIT_TEXT},${INIT_TEXT}]`), status: 400, body: /Only one initialization request/, repeat: true },
  {
    input: "batch of 101 notifications",
    send: post(JSON.stringify(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: i } }))), session),
    status: 400,
    body: /Batch must not exceed 100/,
    repeat: true,
  },
  { input: "batch of a valid request and garbage", send: post(`[${LIST},{"x":1}]`, session), status: 400, body: NOT_JSON_RPC, repeat: true },
  { input: "batch of two tools/list, in a session", send: post(`[${LIST},${LIST.replace('"id":1', '"id":2')}]`, session), status: 200, body: /"id":1[\s\S]*"id":2/ },
  { input: "Content-Type: text/plain", send: post(INIT_TEXT, (c) => ({ ...client(c), "Content-Type": "text/plain" })), status: 415, body: /Unsupported Media Type/, repeat: true },
  { input: "no Content-Type", send: post(INIT_TEXT, (c) => ({ Authorization: client(c).Authorization, Accept: client(c).Accept })), status: 415, body: /Unsupported Media Type/, repeat: true },
  { input: "Content-Type: multipart/form-data, in a session", send: post(LIST, (c) => ({ ...session(c), "Content-Type": "multipart/form-data; boundary=x" })), status: 415, body: /Unsupported Media Type/, repeat: true },
  { input: "a form-encoded body, no session", send: post("a=b&c=d", (c) => ({ ...client(c), "Content-Type": "application/x-www-form-urlencoded" })), status: 400, body: /not JSON/, repeat: true },
  { input: "Accept without text/event-stream", send: post(INIT_TEXT, (c) => ({ ...client(c), Accept: "application/json" })), status: 406, body: /Not Acceptable/, repeat: true },
  { input: "body over MAX_BODY_BYTES, with Content-Length", send: post("x".repeat(MAX_BODY_BYTES + 1)), status: 413, body: /payload_too_large/ },
  { input: "body over MAX_BODY_BYTES, chunked (no Content-Length)", send: post(chunked(MAX_BODY_BYTES + 65_536)), status: 413, body: /payload_too_large/ },
  { input: "body over MAX_BODY_BYTES, chunked, in a session", send: post(chunked(2 * MAX_BODY_BYTES), session), status: 413, body: /payload_too_large/ },
  { input: `${DEEP} levels of [ ] (valid JSON), no session`, send: post("[".repeat(DEEP) + "]".repeat(DEEP)), status: 400, body: NOT_JSON_RPC },
  { input: `${DEEP} levels of [ ], in a session`, send: post("[".repeat(DEEP) + "]".repeat(DEEP), session), status: 400, body: NOT_JSON_RPC },
  { input: "1,000,000 unclosed [", send: post("[".repeat(1_000_000)), status: 400, body: /not JSON/ },
  {
    input: `${DEEP} levels of {"a": in the params of tools/list`,
    send: post(`{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"x":${'{"a":'.repeat(DEEP)}1${"}".repeat(DEEP)}}}`, session),
    status: 200,
    body: /"tools"/,
  },
  {
    input: "invalid UTF-8 bytes inside a JSON string (clientInfo.name)",
    send: post(invalidUtf8('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"', '","version":"1"}}}')),
    status: 200,
    body: /protocolVersion/,
  },
  { input: "invalid UTF-8 bytes as the whole body", send: post(Buffer.from([0xff, 0xfe, 0xfd, 0x80])), status: 400, body: /not JSON/, repeat: true },
  {
    input: "invalid UTF-8 bytes in a tool name",
    send: post(invalidUtf8('{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"', '","arguments":{}}}'), session),
    status: 200,
    body: /unknown_tool/,
    repeat: true,
  },
  {
    input: "invalid UTF-8 bytes in the Authorization header",
    send: (ctx) => rawRequest(ctx, Buffer.concat([Buffer.from("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from("\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")])),
    status: 401,
    body: /invalid_request|invalid_token/,
    repeat: true,
  },
  { input: "a 10 KB Authorization header (under Node's header limit)", send: post(INIT_TEXT, (c) => ({ ...client(c), Authorization: `Bearer ${"a".repeat(10_000)}` })), status: 401, body: /invalid_token/, repeat: true },
  { input: "Host header of another site", send: post(INIT_TEXT, (c) => ({ ...client(c), Host: "evil.example" })), status: 403, body: /forbidden_host/, repeat: true },
  { input: "an 8 KB Mcp-Session-Id", send: post(LIST, (c) => ({ ...session(c), "Mcp-Session-Id": "a".repeat(8_000) })), status: 404, body: /Session not found/, repeat: true },
  { input: "a garbage Mcp-Session-Id", send: post(LIST, (c) => ({ ...session(c), "Mcp-Session-Id": "../../etc/passwd" })), status: 404, body: /Session not found/, repeat: true },
  { input: "a forged session id (signature altered)", send: post(LIST, (c) => ({ ...session(c), "Mcp-Session-Id": `${c.sid.slice(0, -6)}AAAAAA` })), status: 404, body: /Session not found/, repeat: true },
  { input: "an unsupported Mcp-Protocol-Version", send: post(LIST, (c) => ({ ...session(c), "Mcp-Protocol-Version": "1999-01-01" })), status: 400, body: /Unsupported protocol version/, repeat: true },
  { input: "PUT /mcp, no session", send: (c) => httpRequest(c.port, { method: "PUT", path: "/mcp", headers: client(c), body: "{}" }), status: 400, body: /Mcp-Session-Id/, repeat: true },
  { input: "PUT /mcp, in a session", send: (c) => httpRequest(c.port, { method: "PUT", path: "/mcp", headers: session(c), body: "{}" }), status: 405, body: /Method not allowed/, repeat: true },
  { input: "DELETE /mcp of an unknown session", send: (c) => httpRequest(c.port, { method: "DELETE", path: "/mcp", headers: { ...session(c), "Mcp-Session-Id": "nope" } }), status: 404, body: /Session not found/, repeat: true },
  { input: "legacy POST /messages for an unknown session", send: post("{}", client, "/messages?sessionId=nope"), status: 404, body: /Session not found/, repeat: true },
  { input: "GET /agent without a WebSocket upgrade", send: (c) => httpRequest(c.port, { method: "GET", path: "/agent" }), status: 426, body: /upgrade_required/, repeat: true },
  { input: "POST /enroll with a body that is not JSON", send: post("{", () => ({ "Content-Type": "application/json" }), "/enroll"), status: 400, body: /"error"/, repeat: true },
  { input: "POST /enroll with a wrong shape", send: post('{"code":[],"agent_id":"../x","public_key":1}', () => ({ "Content-Type": "application/json" }), "/enroll"), status: 400, body: /"error"/, repeat: true },
  { input: "POST /enroll over MAX_BODY_BYTES", send: post(chunked(MAX_BODY_BYTES + 65_536), () => ({ "Content-Type": "application/json" }), "/enroll"), status: 413, body: /payload_too_large/ },
  // Found: any authenticated client can make the worker create per-agent state for any id it names.
  { input: "initialize at /agents/<unknown id>/mcp", send: post(INIT_TEXT, client, "/agents/ghost-agent/mcp"), status: 404, body: /"error"/ },
];

/** Requests Node's HTTP parser refuses before the app sees them. */
const NODE_PARSER_CASES: Array<{ input: string; bytes: (ctx: HttpCtx) => string | Buffer; status: number }> = [
  { input: "a 100 KB header", bytes: () => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(100 * 1024)}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, status: 431 },
  { input: "a 100 KB bearer token", bytes: () => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${"a".repeat(100 * 1024)}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, status: 431 },
  { input: "3000 headers", bytes: () => `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: 1\r\n`).join("")}Connection: close\r\n\r\n`, status: 431 },
  { input: "a request line that is not HTTP", bytes: () => "GARBAGE\r\n\r\n", status: 400 },
  { input: "control bytes in a header value", bytes: () => Buffer.concat([Buffer.from("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad: "), Buffer.from([0x00, 0x01, 0x7f]), Buffer.from("\r\nConnection: close\r\n\r\n")]), status: 400 },
  { input: "both Content-Length and Transfer-Encoding (smuggling)", bytes: () => "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", status: 400 },
];

async function rawRequest(ctx: HttpCtx, bytes: string | Buffer): Promise<RawAnswer> {
  const answer = await rawExchange(ctx.port, bytes);
  return { status: answer.status, headers: {}, body: rawBody(answer.text) };
}

const observed: string[] = [];
const note = (what: string, answer: string) => observed.push(`${what} -> ${answer.replace(/\s+/g, " ").slice(0, 220)}`);

const gc = (() => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

async function heapUsed(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage().heapUsed;
}

async function inParallel<T>(items: T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await run(items[next++]);
  }));
}

const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;

afterAll(() => {
  console.log(`[faults] bad input tried (${observed.length}), with the worker's answers:\n  ${observed.join("\n  ")}`);
});

describe("bad input from clients (worker on Node)", () => {
  let stack: Stack;
  let ctx: HttpCtx;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pve-mcp-faults-"));
    stack = await startStack({ taskDurationMs: 3_000, workerEnv: { AGENT_REGISTRY_FILE: join(dir, "agents.json"), CONFIRM_DESTRUCTIVE: "off" } });
    const port = Number(new URL(stack.baseUrl).port);
    const token = await stack.token();
    const init = await httpRequest(port, { path: "/mcp", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" }, body: INIT_TEXT });
    const sid = String(init.headers["mcp-session-id"]);
    ctx = { port, token, sid };
    const initialized = await post('{"jsonrpc":"2.0","method":"notifications/initialized"}', session)(ctx);
    expect(initialized.status).toBe(202);
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const c of HTTP_CASES) {
    it(`${c.input} -> ${c.status}`, async () => {
      const answer = await c.send(ctx);
      note(`HTTP ${c.input}`, `${answer.status} ${answer.body}`);
      expect(answer.status, answer.body.slice(0, 500)).toBe(c.status);
      expect(answer.body).toMatch(c.body);
      if (answer.status >= 400) expect(() => JSON.parse(answer.body), "an error answer is JSON").not.toThrow();
    });
  }

  it("keeps no state for an agent id a client made up", async () => {
    for (let i = 0; i < 50; i++) {
      const path = `/agents/made-up-${i}/mcp`;
      const init = await post(INIT_TEXT, client, path)(ctx);
      const sid = String(init.headers["mcp-session-id"]);
      await post(LIST, (c) => ({ ...session(c), "Mcp-Session-Id": sid }), path)(ctx);
    }
    const health = (await (await fetch(`${stack.baseUrl}/healthz`)).json()) as { agents: Array<{ id: string }> };
    note("HTTP initialize + tools/list at 50 made-up /agents/<id>/mcp", `/healthz lists ${health.agents.length} agents: ${health.agents.map((a) => a.id).slice(0, 5).join(", ")}...`);
    expect(health.agents.map((a) => a.id)).toEqual([stack.agentId]);
  });

  it("refuses what Node's HTTP parser refuses with a status code, and stays up", async () => {
    for (const c of NODE_PARSER_CASES) {
      const answer = await rawExchange(ctx.port, c.bytes(ctx));
      note(`HTTP ${c.input}`, JSON.stringify(answer.text.slice(0, 160)));
      expect(answer.status, `${c.input}: ${answer.text.slice(0, 200)}`).toBe(c.status);
    }
    const cut = await rawExchange(ctx.port, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ctx.token}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{"jsonrpc":`, 1_500);
    note("HTTP a body shorter than its Content-Length, then silence", cut.timedOut ? "no answer while the body is incomplete (the client gave up after 1.5 s)" : JSON.stringify(cut.text.slice(0, 160)));
    expect((await fetch(`${stack.baseUrl}/healthz`)).status).toBe(200);
  });

  it("answers those parser-level refusals with a JSON body too, like every other refusal", async () => {
    for (const c of NODE_PARSER_CASES) {
      const answer = await rawExchange(ctx.port, c.bytes(ctx));
      expect(rawBody(answer.text), `${c.input}: ${JSON.stringify(answer.text.slice(0, 200))}`).toMatch(/^\{.*"error"/);
    }
  });

  it("refuses bad input on the legacy /messages endpoint of a live SSE session", async () => {
    const abort = new AbortController();
    const sse = await fetch(`${stack.baseUrl}/sse`, { headers: { Authorization: `Bearer ${ctx.token}` }, signal: abort.signal });
    const reader = sse.body!.getReader();
    let head = "";
    while (!/data: (\S+)/.test(head)) head += new TextDecoder().decode((await reader.read()).value);
    const endpoint = /data: (\S+)/.exec(head)![1];
    const cases: Array<[string, string | Buffer[], Record<string, string>, number, RegExp]> = [
      ["Content-Type text/plain", LIST, { "Content-Type": "text/plain" }, 415, /unsupported_media_type/],
      ["a body that is not JSON", "{", { "Content-Type": "application/json" }, 400, /-32700/],
      ["JSON that is not JSON-RPC", '{"hello":1}', { "Content-Type": "application/json" }, 400, /-32600/],
      ["a body over MAX_BODY_BYTES, chunked", chunked(MAX_BODY_BYTES + 65_536), { "Content-Type": "application/json" }, 413, /payload_too_large/],
    ];
    for (const [input, body, headers, status, pattern] of cases) {
      const answer = await httpRequest(ctx.port, { path: endpoint, headers: { Authorization: `Bearer ${ctx.token}`, ...headers }, body });
      note(`HTTP legacy /messages: ${input}`, `${answer.status} ${answer.body}`);
      expect(answer.status, answer.body).toBe(status);
      expect(answer.body).toMatch(pattern);
    }
    abort.abort();
  });

  it("takes thousands of notifications/cancelled, and one naming a call in flight cancels it", async () => {
    const cancel = (requestId: number | string) => ({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId, reason: "flood" } });
    const singles = Array.from({ length: 3000 }, (_, i) => JSON.stringify(cancel(i % 3 ? i : `s-${i}`)));
    const batches = Array.from({ length: 30 }, (_, b) => JSON.stringify(Array.from({ length: 100 }, (_, i) => cancel(100_000 + b * 100 + i))));
    const statuses = new Map<number, number>();
    const started = Date.now();
    await inParallel([...singles, ...batches], 16, async (body) => {
      const answer = await post(body, session)(ctx);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    });
    note("HTTP 3000 notifications/cancelled + 30 batches of 100", `statuses ${JSON.stringify(Object.fromEntries(statuses))} in ${Date.now() - started} ms`);
    expect(Object.fromEntries(statuses)).toEqual({ 202: 3030 });

    // A real call in flight (a 3 s PVE task), cancelled by its request id.
    const abort = new AbortController();
    const before = stack.sim.mutations.length;
    const call = httpRequest(ctx.port, {
      path: "/mcp",
      headers: session(ctx),
      body: JSON.stringify({ jsonrpc: "2.0", id: 4242, method: "tools/call", params: { name: "guest_power", arguments: { vmid: 105, node: "pve1", type: "qemu", action: "start", wait: true } } }),
      signal: abort.signal,
    }).catch(() => undefined);
    await waitUntil(async () => stack.sim.mutations.length > before && (await inFlight(stack)) === 1);
    expect((await post(JSON.stringify(cancel(4242)), session)(ctx)).status).toBe(202);
    await waitUntil(async () => (await inFlight(stack)) === 0, 3_000);
    note("HTTP notifications/cancelled naming a guest_power call in flight", "202, the worker dropped the call (in_flight 0) and told the agent");
    abort.abort();
    await call;
    expect(stack.sim.mutations.slice(before)).toHaveLength(1);
  }, 60_000);

  it("does not grow the heap with a few thousand bad requests", async () => {
    const cheap = HTTP_CASES.filter((c) => c.repeat);
    const round = async (n: number) => inParallel(Array.from({ length: n }, (_, i) => cheap[i % cheap.length]), 8, async (c) => void (await c.send(ctx)));
    await round(cheap.length * 10);
    const before = await heapUsed();
    const started = Date.now();
    await round(3000);
    const after = await heapUsed();
    note("HTTP 3000 bad requests (the cheap cases above, round robin)", `heap ${mb(before)} MB -> ${mb(after)} MB in ${Date.now() - started} ms`);
    console.log(`[faults] heap after 3000 bad HTTP requests: ${mb(before)} MB -> ${mb(after)} MB (+${mb(after - before)} MB)`);
    expect(after - before).toBeLessThan(24e6);
  }, 90_000);

  it("still serves a well-behaved client afterwards", async () => {
    const mcp: Client = await stack.client();
    const result = (await mcp.callTool({ name: "node_list", arguments: {} })) as { isError?: boolean; structuredContent?: any };
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent.nodes).toHaveLength(3);
    await mcp.close();
  });
});

// ---------------------------------------------------------------------------------------------------
// The tunnel: a rogue agent holding a registered key.

interface FrameCase {
  input: string;
  text: string | (() => string);
  /** The error frame's message, or "ack" when the worker acknowledges the id (the agent may forget it), or null for no answer. */
  answer: RegExp | "ack" | null;
}

const frame = (f: object) => JSON.stringify(f);
const CALL_ID = "rogue-call-0001";

/** Frames sent on a connection that said a proper hello; the connection must stay open after each. */
const FRAME_CASES: FrameCase[] = [
  { input: "text that is not JSON", text: "{{{", answer: /frame is not valid JSON/ },
  { input: "a JSON number", text: "42", answer: /expected object, received number/ },
  { input: "JSON null", text: "null", answer: /expected object, received null/ },
  { input: "a JSON array", text: "[]", answer: /expected object, received array/ },
  { input: "a frame without t", text: frame({ id: CALL_ID }), answer: /invalid frame: t:/ },
  { input: "an unknown frame type", text: frame({ t: "bogus" }), answer: /Invalid discriminator value/ },
  { input: "a call frame (worker to agent only)", text: frame({ t: "call", id: CALL_ID, tool: "echo", args: {}, deadline: 0, principal: { sub: "x", scopes: [] } }), answer: /an agent does not send 'call' frames/ },
  { input: "a welcome frame", text: frame({ t: "welcome", v: 1, heartbeatMs: 1, now: 0 }), answer: /an agent does not send 'welcome' frames/ },
  { input: "an ack frame", text: frame({ t: "ack", ids: [CALL_ID] }), answer: /an agent does not send 'ack' frames/ },
  { input: "a cancel frame", text: frame({ t: "cancel", id: CALL_ID }), answer: /an agent does not send 'cancel' frames/ },
  { input: "a result with a call id under 8 characters", text: frame({ t: "result", id: "x", result: { text: "x" } }), answer: /id: Too small/ },
  { input: "a result with a 10,000-character call id", text: frame({ t: "result", id: "x".repeat(10_000), result: { text: "x" } }), answer: /id: Too big/ },
  { input: "a result without text", text: frame({ t: "result", id: CALL_ID, result: { structured: {} } }), answer: /result\.text/ },
  { input: "an error frame with an unknown code", text: frame({ t: "error", id: CALL_ID, code: "nope", message: "x", retryable: true }), answer: /code: Invalid option/ },
  { input: "an ack-style frame with 2000 ids", text: frame({ t: "ack", ids: Array.from({ length: 2000 }, (_, i) => `id-${i}-xxxxxx`) }), answer: /ids: Too big|an agent does not send/ },
  { input: "a text frame of 1 MiB + 1 character", text: () => "x".repeat(1024 * 1024 + 1), answer: /exceeds 1048576 bytes/ },
  { input: "a continuation chunk of an unknown message", text: frame({ t: "chunk", cid: "c-unknown", seq: 3, last: false, data: "x" }), answer: /chunk 3 of unknown message/ },
  { input: "a chunked message that is not JSON", text: frame({ t: "chunk", cid: "c-notjson", seq: 0, last: true, data: "{{{" }), answer: /frame is not valid JSON/ },
  { input: "a chunked message that contains a chunk", text: frame({ t: "chunk", cid: "c-nested", seq: 0, last: true, data: frame({ t: "chunk", cid: "c-inner", seq: 0, last: true, data: "{}" }) }), answer: /cannot contain a chunk/ },
  { input: "a result for an unknown call id", text: frame({ t: "result", id: "never-sent-0001", result: { text: "stale" } }), answer: "ack" },
  { input: "an error for an unknown call id", text: frame({ t: "error", id: "never-sent-0002", code: "internal", message: "stale", retryable: false }), answer: "ack" },
  { input: "progress for an unknown call id", text: frame({ t: "progress", id: "never-sent-0003", progress: 1 }), answer: null },
  { input: "an event frame with an invalid event", text: frame({ t: "event", event: { anything: true } }), answer: /invalid event/ },
];

/** Inputs after which the worker closes the agent's socket, with the close code it must use. */
const CLOSE_CASES: Array<{ input: string; send: (a: RawAgent) => void; error?: RegExp; code: number }> = [
  { input: "a text frame over the WebSocket limit (2 MiB)", send: (a) => a.send("x".repeat(2 * 1024 * 1024)), code: 1009 },
  { input: "a binary frame", send: (a) => a.send(Buffer.from([0, 1, 2, 3])), code: 1003 },
  { input: "a hello with protocol version 2", send: (a) => a.hello({ v: 2 }), error: /protocol version 2 not supported/, code: 4002 },
  { input: "a hello naming another agent than the token", send: (a) => a.hello({ agent: { id: "someone-else", version: "x", capabilities: [] } }), code: 4003 },
];

/** Agent upgrade requests refused before any WebSocket exists. */
const UPGRADE_CASES: Array<{ input: string; token: (w: BareWorker) => Promise<string>; body: RegExp }> = [
  { input: "no token", token: async () => "", body: /no bearer token|not 'Bearer/ },
  { input: "a token that is not a JWT", token: async () => "not-a-jwt", body: /not a JWT/ },
  { input: "a token for an agent the worker does not know", token: (w) => w.agentToken({ sub: "stranger" }), body: /not registered/ },
  { input: "a token signed with another key", token: (w) => w.agentToken({ privatePem: agentKeyPair().privatePem }), body: /signature verification failed/ },
  { input: "an expired token", token: (w) => w.agentToken({ exp: Math.floor(Date.now() / 1000) - 600 }), body: /(exp|iat).? claim timestamp check failed|too old/ },
  { input: "a token with the client token type", token: (w) => w.agentToken({ typ: "JWT" }), body: /typ/ },
  { input: "a token with another audience", token: (w) => w.agentToken({ aud: "proxmox-mcp-rogue" }), body: /aud/ },
  { input: "a client token", token: (w) => w.clientToken(), body: /invalid_token/ },
];

describe("a rogue agent on the tunnel", () => {
  let w: BareWorker;

  beforeAll(async () => {
    w = await startBareWorker({ CALL_TIMEOUT_MS: "4000", RECONNECT_GRACE_MS: "1500" });
  });

  afterAll(async () => {
    await w?.close();
  });

  const greeted = async (worker = w, tools = [ECHO_TOOL]) => {
    const agent = await worker.connectAgent();
    agent.hello({ tools });
    await agent.waitFor((f) => f?.t === "welcome");
    return agent;
  };

  const mcpClient = async (worker = w) => {
    const c = new Client({ name: "rogue-test", version: "1" });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${worker.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${await worker.clientToken()}` } } }));
    return c;
  };

  type Answer = { isError?: boolean; content: Array<{ text?: string }>; _meta?: any };
  const textOf = (r: Answer) => r.content.map((c) => c.text ?? "").join("\n");
  const health = async (worker = w) => ((await (await fetch(`${worker.url}/healthz`)).json()) as { agents: Array<{ id: string; connected: boolean; in_flight: number; invalidFrames: number }> }).agents[0];

  it("answers each malformed frame with an error frame and keeps the connection", async () => {
    const agent = await greeted();
    for (const c of FRAME_CASES) {
      const from = agent.received.length;
      agent.send(typeof c.text === "function" ? c.text() : c.text);
      if (c.answer === "ack") {
        const id = JSON.parse(c.text as string).id;
        const ack = await agent.waitFor((f) => f?.t === "ack" && f.ids.includes(id), { from });
        note(`tunnel ${c.input}`, JSON.stringify(ack));
        continue;
      }
      const answers = await agent.answersSoFar();
      note(`tunnel ${c.input}`, answers.length ? JSON.stringify(answers) : "no answer (ignored)");
      if (c.answer === null) expect(answers.filter((f: any) => f?.t === "error"), c.input).toEqual([]);
      else expect(answers, c.input).toEqual([expect.objectContaining({ t: "error", code: "frame_invalid", retryable: false, message: expect.stringMatching(c.answer) })]);
      expect(agent.isOpen(), c.input).toBe(true);
    }
    expect((await health()).connected).toBe(true);
    agent.close();
  });

  for (const c of CLOSE_CASES) {
    it(`closes the socket with ${c.code} on ${c.input}`, async () => {
      const agent = await w.connectAgent();
      if (c.input.startsWith("a text frame") || c.input.startsWith("a binary")) {
        agent.hello();
        await agent.waitFor((f) => f?.t === "welcome");
      }
      c.send(agent);
      const closed = await Promise.race([agent.closed, new Promise<undefined>((r) => setTimeout(r, 5_000))]);
      note(`tunnel ${c.input}`, `${JSON.stringify(agent.received.filter((f: any) => f?.t === "error"))} close ${JSON.stringify(closed)}`);
      expect(closed?.code).toBe(c.code);
      if (c.error) expect(agent.received).toContainEqual(expect.objectContaining({ t: "error", message: expect.stringMatching(c.error) }));
    });
  }

  const refusal = async (c: (typeof UPGRADE_CASES)[number]) =>
    w.connectAgent(await c.token(w)).then(
      (a) => {
        a.close();
        return new UpgradeRefused(101, "upgraded");
      },
      (e: unknown) => e as UpgradeRefused,
    );

  it("refuses agent upgrades with bad credentials with 401, naming the reason", async () => {
    for (const c of UPGRADE_CASES) {
      const err = await refusal(c);
      const reason = String(err.headers["www-authenticate"] ?? "");
      note(`tunnel upgrade with ${c.input}`, `${err.status}, WWW-Authenticate: ${reason.replace(/^.*error=/, "error=")}, body ${JSON.stringify(err.body)}`);
      expect(err.status, c.input).toBe(401);
      expect(reason, c.input).toMatch(c.body);
    }
  });

  // Found: @hono/node-server answers a refused upgrade with Content-Length: 0 (but Content-Type: application/json).
  it("closes an older connection of the same agent with 4000 when a newer one arrives", async () => {
    const first = await greeted();
    const second = await greeted();
    const closed = await first.closed;
    note("tunnel a second connection for the same agent", `first closed ${JSON.stringify(closed)}`);
    expect(closed.code).toBe(4000);
    expect(second.isOpen()).toBe(true);
    second.close();
  });

  it("refuses chunk abuse: out of order, too many open messages, one message over 16 MiB", async () => {
    const chunk = (cid: string, seq: number, data: string, last = false) => frame({ t: "chunk", cid, seq, last, data });
    let agent = await greeted();
    agent.send(chunk("c-order", 0, '{"t":'));
    agent.send(chunk("c-order", 2, '"ping"}', true));
    let answers = await agent.answersSoFar();
    note("tunnel chunks 0 then 2 of one message", JSON.stringify(answers));
    expect(answers).toEqual([expect.objectContaining({ code: "frame_invalid", message: expect.stringMatching(/out of order \(expected 1\)/) })]);

    for (let i = 0; i < 65; i++) agent.send(chunk(`c-open-${i}`, 0, "{"));
    answers = await agent.answersSoFar();
    note("tunnel 65 chunked messages left open", JSON.stringify(answers));
    expect(answers).toEqual([expect.objectContaining({ code: "frame_invalid", message: expect.stringMatching(/too many chunked messages in flight/) })]);
    agent.close();

    agent = await greeted();
    const piece = "y".repeat(1_040_000);
    for (let seq = 0; seq < 17; seq++) agent.send(chunk("c-huge", seq, piece));
    answers = await agent.answersSoFar(20_000);
    note("tunnel one chunked message over 16 MiB (17 chunks of 1,040,000 characters)", JSON.stringify(answers));
    expect(answers).toEqual([expect.objectContaining({ code: "frame_invalid", message: expect.stringMatching(/exceeds 16777216 bytes/) })]);
    expect(agent.isOpen()).toBe(true);
    agent.close();
  }, 60_000);

  it("relays a real call's chunked 3 MiB result interleaved with pings, and times out one whose chunks come out of order", async () => {
    const agent = await greeted();
    const mcp = await mcpClient();
    const big = "z".repeat(3 * 1024 * 1024);
    const good = mcp.callTool({ name: "echo", arguments: {} }) as Promise<Answer>;
    const call = await agent.waitFor((f) => f?.t === "call");
    const text = frame({ t: "result", id: call.id, result: { text: big } });
    for (let seq = 0, at = 0; at < text.length; seq++, at += 262_144) {
      agent.send(frame({ t: "chunk", cid: "c-good", seq, last: at + 262_144 >= text.length, data: text.slice(at, at + 262_144) }));
      agent.sendFrame({ t: "ping" });
    }
    const result = await good;
    expect(textOf(result)).toBe(big);
    note("tunnel a valid 3 MiB result in 12 chunks interleaved with pings (control)", `delivered intact (${textOf(result).length} characters)`);

    const bad = mcp.callTool({ name: "echo", arguments: {} }) as Promise<Answer>;
    const second = await agent.waitFor((f) => f?.t === "call" && f.id !== call.id);
    const secondText = frame({ t: "result", id: second.id, result: { text: big } });
    agent.send(frame({ t: "chunk", cid: "c-bad", seq: 0, last: false, data: secondText.slice(0, 262_144) }));
    agent.send(frame({ t: "chunk", cid: "c-bad", seq: 2, last: true, data: secondText.slice(524_288, 786_432) }));
    const late = await bad;
    note("tunnel out-of-order chunks of a real call's result", `error frame to the agent; the client gets [${late._meta?.code}] ${textOf(late)}`);
    expect(late.isError).toBe(true);
    expect(late._meta.code).toBe("deadline_exceeded");
    expect(late._meta.retryable).toBe(true);
    await mcp.close();
    agent.close();
  }, 30_000);

  it("keeps a real call pending through an invalid result, and relays a lone surrogate as is", async () => {
    const agent = await greeted();
    const mcp = await mcpClient();
    const pending = mcp.callTool({ name: "echo", arguments: {} }) as Promise<Answer>;
    const call = await agent.waitFor((f) => f?.t === "call");
    agent.sendFrame({ t: "result", id: call.id, result: { text: 42 } });
    const answers = await agent.answersSoFar();
    expect(answers).toEqual([expect.objectContaining({ code: "frame_invalid", message: expect.stringMatching(/result\.text/) })]);
    agent.send(`{"t":"result","id":"${call.id}","result":{"text":"half \\ud800 a pair"}}`);
    const result = await pending;
    note("tunnel a result with an invalid shape, then one with a lone UTF-16 surrogate, for a real call", `error frame, then the client gets ${JSON.stringify(textOf(result))}`);
    expect(textOf(result)).toBe("half \ud800 a pair");
    await mcp.close();
    agent.close();
  });

  // Found: the call stays pending after its frame failed to serialise, and poisons the re-send on reconnect.
  it("answers a call whose arguments cannot be serialised at once, without disturbing other calls", async () => {
    const w = await startBareWorker({ CALL_TIMEOUT_MS: "4000", RECONNECT_GRACE_MS: "1500" });
    let agent = await greeted(w);
    const mcp = await mcpClient(w);
    // Sent as raw JSON: the SDK client cannot serialise such a value itself.
    const rawCtx = await rawSession(w);
    const body = `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"a":${"[".repeat(DEEP)}1${"]".repeat(DEEP)}}}}`;
    const reply = await post(body, session)(rawCtx);
    const deep = JSON.parse(/^data: (.*)$/m.exec(reply.body)?.[1] ?? "{}").result as Answer;
    const inFlightAfter = (await health(w)).in_flight;
    note(`tunnel tool arguments nested ${DEEP} levels deep`, `[${deep._meta?.code}] ${textOf(deep)}; worker in_flight after the answer: ${inFlightAfter}`);
    expect(deep.isError).toBe(true);
    expect.soft(deep._meta.code, "a clear code, not internal").toBe("invalid_arguments");
    expect.soft(inFlightAfter, "no call left pending once answered").toBe(0);

    try {
      const other = mcp.callTool({ name: "echo", arguments: { n: 1 } }) as Promise<Answer>;
      const call = await agent.waitFor((f) => f?.t === "call");
      agent.close();
      await agent.closed;
      agent = await greeted(w);
      const resent = await agent.waitFor((f) => f?.t === "call" && f.id === call.id, { timeoutMs: 2_000 });
      agent.sendFrame({ t: "result", id: resent.id, result: { text: "done" } });
      expect(textOf(await other)).toBe("done");
    } finally {
      await mcp.close();
      agent.close();
      await w.close();
    }
  }, 30_000);

  // Found: the worker calls a mutating call it relayed "retryable" when its deadline passes, though it may have run.
  it("ends a mutating call the agent received but never answered with outcome_unknown, not a retryable error", async () => {
    const poke = { ...ECHO_TOOL, name: "poke", scope: "proxmox:write" as const, mutating: true, annotations: { readOnlyHint: false } };
    const agent = await greeted(w, [ECHO_TOOL, poke]);
    const mcp = await mcpClient();
    const pending = mcp.callTool({ name: "poke", arguments: {} }) as Promise<Answer>;
    const call = await agent.waitFor((f) => f?.t === "call" && f.tool === "poke");
    const result = await pending;
    note("tunnel a mutating call the rogue agent received and never answered", `the client got [${result._meta?.code}] retryable=${result._meta?.retryable}: ${textOf(result)}`);
    expect(result.isError).toBe(true);
    expect(result._meta.retryable, "the agent had the call: retrying could run it twice").toBe(false);
    expect(result._meta.code).toBe("outcome_unknown");
    expect(result._meta.details?.call_id).toBe(call.id);
    await mcp.close();
    agent.close();
  }, 15_000);

  // Found: a drop, then a connection that closes before its hello, leaves the first grace timer running.
  it("keeps a re-sent call alive past the grace period when a connection in between closed before its hello", async () => {
    const w = await startBareWorker({ CALL_TIMEOUT_MS: "4000", RECONNECT_GRACE_MS: "1500" });
    let agent = await greeted(w);
    const mcp = await mcpClient(w);
    const started = Date.now();
    const pending = mcp.callTool({ name: "echo", arguments: {} }) as Promise<Answer>;
    const call = await agent.waitFor((f) => f?.t === "call");
    agent.close();
    await agent.closed;
    const silent = await w.connectAgent();
    silent.close();
    await silent.closed;
    agent = await greeted(w);
    await agent.waitFor((f) => f?.t === "call" && f.id === call.id);
    // Answer after RECONNECT_GRACE_MS (1.5 s) has passed since the first drop, well before the call's deadline (4 s).
    setTimeout(() => agent.sendFrame({ t: "result", id: call.id, result: { text: "answered by the reconnected agent" } }), 2_000);
    const result = await pending;
    note("tunnel a drop, a connection closed before its hello, a reconnect, an answer after the grace period", `the client got [${result._meta?.code ?? "ok"}] ${textOf(result)} after ${Date.now() - started} ms`);
    await mcp.close();
    agent.close();
    await w.close();
    expect(textOf(result)).toBe("answered by the reconnected agent");
  }, 15_000);

  // Found: unfinished chunks stay in the session's decoder after the socket is gone.
  it("frees the buffered chunks of a rogue agent that went away", async () => {
    const agent = await greeted();
    const before = await heapUsed();
    const piece = "q".repeat(1_000_000);
    for (let seq = 0; seq < 60; seq++) agent.send(frame({ t: "chunk", cid: "c-abandoned", seq, last: false, data: piece }));
    await agent.answersSoFar(20_000);
    agent.close();
    await agent.closed;
    await new Promise((r) => setTimeout(r, 100));
    const after = await heapUsed();
    note("tunnel 60 MiB of unfinished chunks, then the rogue agent goes away", `heap ${mb(before)} MB -> ${mb(after)} MB after it left`);
    expect(after - before).toBeLessThan(20e6);
  }, 30_000);

  it("does not grow the heap with a few thousand bad frames, and still serves an honest agent", async () => {
    const agent = await greeted();
    const texts = FRAME_CASES.filter((c) => typeof c.text === "string").map((c) => c.text as string);
    const flood = async (n: number) => {
      for (let i = 0; i < n; i++) {
        agent.send(texts[i % texts.length]);
        if (i % 200 === 199) await agent.answersSoFar();
      }
      await agent.answersSoFar();
      agent.received.length = 0;
    };
    await flood(500);
    const before = await heapUsed();
    const started = Date.now();
    await flood(5000);
    const after = await heapUsed();
    const h = await health();
    note("tunnel 5000 bad frames (the FRAME_CASES texts, round robin)", `heap ${mb(before)} MB -> ${mb(after)} MB in ${Date.now() - started} ms; invalidFrames ${h.invalidFrames}`);
    console.log(`[faults] heap after 5000 bad frames: ${mb(before)} MB -> ${mb(after)} MB (+${mb(after - before)} MB)`);
    expect(after - before).toBeLessThan(24e6);
    expect(h.connected).toBe(true);

    const mcp = await mcpClient();
    const answer = mcp.callTool({ name: "echo", arguments: {} }) as Promise<Answer>;
    const call = await agent.waitFor((f) => f?.t === "call");
    agent.sendFrame({ t: "result", id: call.id, result: { text: "still here" } });
    expect(textOf(await answer)).toBe("still here");
    await mcp.close();
    agent.close();
  }, 60_000);
});

/** A Streamable HTTP session opened by hand, for bodies the SDK client cannot send. */
async function rawSession(w: BareWorker): Promise<HttpCtx> {
  const token = await w.clientToken();
  const ctx: HttpCtx = { port: w.port, token, sid: "" };
  const init = await post(INIT_TEXT)(ctx);
  ctx.sid = String(init.headers["mcp-session-id"]);
  await post('{"jsonrpc":"2.0","method":"notifications/initialized"}', session)(ctx);
  return ctx;
}

async function inFlight(stack: Stack): Promise<number> {
  const health = (await (await fetch(`${stack.baseUrl}/healthz`)).json()) as { agents: Array<{ in_flight: number }> };
  return health.agents.reduce((n, a) => n + a.in_flight, 0);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
