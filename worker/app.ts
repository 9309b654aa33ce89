import { Hono, type Context } from "hono";
import { z } from "zod";
import { formatZodError } from "../shared/errors.ts";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import type { Logger } from "../shared/log.ts";
import type { Principal } from "../shared/protocol.ts";
import { AuthError, createAgentVerifier, createClientVerifier } from "./auth.ts";
import { resolveDefaultAgent, type WorkerConfig } from "./config.ts";
import type { Hub } from "./hub.ts";
import type { Metrics } from "./metrics.ts";
import { hostGuard } from "./middleware/host-guard.ts";
import { SERVER_NAME, SERVER_VERSION } from "./mcp.ts";
import { agentIdSchema, type AgentRegistryApi } from "./registry.ts";
import type { McpSessions } from "./sessions.ts";

export interface AppDeps {
  config: WorkerConfig;
  hub: Hub;
  /** Enrolled agents and enrollment codes (a file on Node, a Durable Object on Workers). */
  registry: AgentRegistryApi;
  /** The MCP sessions that talk to one agent. */
  sessionsFor: (agentId: string) => McpSessions;
  /** Runtime-specific: turn an authenticated upgrade request into the agent's WebSocket. */
  upgradeAgent: (c: Context, agentId: string) => Response | Promise<Response>;
  log: Logger;
  metrics?: Metrics;
}

type Env = { Variables: { principal: Principal } };

const RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";
const enrollBody = z.object({ code: z.string().min(1).max(64), agent_id: agentIdSchema, public_key: z.record(z.string(), z.unknown()) });
const codeBody = z.object({ ttl_seconds: z.number().int().min(60).max(7 * 86400).default(3600) });
const SCOPES = ["proxmox:read", "proxmox:write", "host:exec"];

/** Reads and discards a body, up to `max` bytes, without keeping it; a longer one is cancelled. */
async function drain(body: ReadableStream<Uint8Array>, max: number): Promise<void> {
  const reader = body.getReader();
  try {
    for (let seen = 0; seen <= max; ) {
      const { done, value } = await reader.read();
      if (done) return;
      seen += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // the client went away
  }
}

/** The worker as one runtime-neutral Hono app; the entry files only add the WebSocket plumbing. */
export function createApp(deps: AppDeps): Hono<Env> {
  const { config, hub, log } = deps;
  const verifyClient = createClientVerifier(config);
  const verifyAgent = createAgentVerifier(config, deps.registry);
  const app = new Hono<Env>();
  const baseUrl = (c: Context) => config.PUBLIC_URL?.replace(/\/$/, "") ?? new URL(c.req.url).origin;

  app.use("*", requestId());
  // A refused request's unread body leaves a keep-alive connection that a proxy in between (wrangler dev's,
  // for one) may stall on: read it (it is bounded by the body limit) before the answer goes out.
  app.use("*", async (c, next) => {
    await next();
    const raw = c.req.raw;
    if (c.res.status >= 400 && raw.body && !raw.bodyUsed) await drain(raw.body, config.MAX_BODY_BYTES);
  });
  app.use("*", hostGuard({ allowedHosts: config.ALLOWED_HOSTS, allowedOrigins: config.ALLOWED_ORIGINS }));
  app.use(
    "*",
    cors({
      origin: (origin) => (config.ALLOWED_ORIGINS.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
      allowHeaders: ["Authorization", "Content-Type", "Accept", "Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-ID"],
      exposeHeaders: ["Mcp-Session-Id", "WWW-Authenticate"],
      maxAge: 600,
    }),
  );
  app.use(
    "*",
    bodyLimit({
      maxSize: config.MAX_BODY_BYTES,
      onError: (c) => c.json({ error: "payload_too_large", error_description: `body exceeds ${config.MAX_BODY_BYTES} bytes` }, 413),
    }),
  );

  const requireClient = async (c: Context<Env>, next: () => Promise<void>) => {
    try {
      c.set("principal", await verifyClient(c.req.header("authorization")));
    } catch (err) {
      return refuse(c, err);
    }
    await next();
  };

  const refuse = (c: Context, err: unknown) => {
    const e = err instanceof AuthError ? err : new AuthError(401, "invalid_token", "token could not be verified");
    const params = [`realm="${SERVER_NAME}"`, `resource_metadata="${baseUrl(c)}${RESOURCE_METADATA_PATH}"`, `error="${e.error}"`, `error_description="${e.message.replace(/"/g, "'")}"`];
    if (e.scope) params.push(`scope="${e.scope}"`);
    c.header("WWW-Authenticate", `Bearer ${params.join(", ")}`);
    log.info("request refused", { path: c.req.path, status: e.status, error: e.error, reason: e.message, request_id: c.get("requestId") });
    return c.json({ error: e.error, error_description: e.message }, e.status);
  };

  const requireAdmin = async (c: Context<Env>, next: () => Promise<void>) => {
    if (!c.get("principal").scopes.includes("admin")) {
      return refuse(c, new AuthError(403, "insufficient_scope", "this endpoint needs the 'admin' scope", "admin"));
    }
    await next();
  };
  const jsonBody = async <T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T> | Response> => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      return c.json({ error: "invalid_request", error_description: "the body must be JSON" }, 400);
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) return c.json({ error: "invalid_request", error_description: formatZodError(parsed.error) }, 400);
    return parsed.data;
  };

  const agentIdFor = async (c: Context) => c.req.param("agent") ?? (await resolveDefaultAgent(config, () => deps.registry.list()));
  /** Only agents the worker knows get state: a made-up id in the path must not create sessions. */
  const known = async (id: string) => config.AGENT_KEYS[id] !== undefined || (await deps.registry.get(id)) !== undefined;
  const sessionsOf = async (c: Context) => {
    const id = await agentIdFor(c);
    return id && (await known(id)) ? deps.sessionsFor(id) : undefined;
  };
  const noAgent = (c: Context) =>
    c.json(
      c.req.param("agent")
        ? { error: "unknown_agent", error_description: `no agent '${c.req.param("agent")}' is registered with this worker` }
        : { error: "no_agent", error_description: "no default agent: set DEFAULT_AGENT or use /agents/<id>/mcp" },
      404,
    );

  app.get("/metrics", requireClient, requireAdmin, (c) => {
    if (!deps.metrics) return c.json({ error: "not_found", error_description: "metrics are not kept by this runtime" }, 404);
    const agents = hub.list();
    const text = deps.metrics.render([
      ...agents.map((a) => ({ name: "pve_mcp_agent_connected", help: "1 when the agent's tunnel is up.", labels: { agent: a.id }, value: a.connected ? 1 : 0 })),
      ...agents.map((a) => ({ name: "pve_mcp_agent_reconnects_total", help: "Reconnections of the agent since the worker started.", labels: { agent: a.id }, value: a.stats.reconnects })),
      ...agents.map((a) => ({ name: "pve_mcp_agent_calls_in_flight", help: "Calls relayed and not yet answered.", labels: { agent: a.id }, value: a.inFlight })),
      ...agents.map((a) => ({ name: "pve_mcp_events_received", help: "Events received from the agent (cursor).", labels: { agent: a.id }, value: a.events.cursor })),
    ]);
    return c.text(text, 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  });

  app.get("/healthz", (c) =>
    c.json({ status: "ok", name: SERVER_NAME, version: SERVER_VERSION, agents: hub.list().map((a) => a.status()) }),
  );

  // OAuth discovery: Claude Code and mcp-remote probe these after a 401 and fail on HTML, so all answer JSON.
  const protectedResource = (c: Context) =>
    c.json({
      resource: config.JWT_AUDIENCE,
      ...(config.AUTH_SERVER_URL ? { authorization_servers: [config.AUTH_SERVER_URL] } : {}),
      bearer_methods_supported: ["header"],
      scopes_supported: SCOPES,
      resource_name: "Proxmox VE MCP",
      resource_documentation: `${baseUrl(c)}/healthz`,
    });
  app.get(RESOURCE_METADATA_PATH, protectedResource);
  app.get(`${RESOURCE_METADATA_PATH}/*`, protectedResource);
  const noAuthServer = (c: Context) =>
    c.json(
      {
        error: "not_supported",
        error_description: config.AUTH_SERVER_URL
          ? `authorization is handled by ${config.AUTH_SERVER_URL}`
          : "this server issues no tokens itself; ask the operator for a bearer token (npm run token) and send it as Authorization: Bearer <token>",
      },
      404,
    );
  app.get("/.well-known/oauth-authorization-server/*", noAuthServer);
  app.get("/.well-known/oauth-authorization-server", noAuthServer);
  app.get("/.well-known/openid-configuration/*", noAuthServer);
  app.get("/.well-known/openid-configuration", noAuthServer);
  app.post("/register", noAuthServer);

  for (const prefix of ["", "/agents/:agent"]) {
    app.all(`${prefix}/mcp`, requireClient, async (c) => {
      const sessions = await sessionsOf(c);
      if (!sessions) return noAgent(c);
      // The request id travels with each call to the agent, so one id follows a call through both logs.
      const headers = new Headers(c.req.raw.headers);
      headers.set("x-request-id", c.get("requestId"));
      return sessions.handleStreamable(new Request(c.req.raw, { headers }), c.get("principal"));
    });
    app.get(`${prefix}/sse`, requireClient, async (c) => {
      const sessions = await sessionsOf(c);
      if (!sessions) return noAgent(c);
      return sessions.openSse(`${prefix.replace(":agent", (await agentIdFor(c)) ?? "")}/messages`, c.get("principal"));
    });
    app.post(`${prefix}/messages`, requireClient, async (c) => {
      const sessions = await sessionsOf(c);
      if (!sessions) return noAgent(c);
      return sessions.postSse(c.req.raw, c.req.query("sessionId"), c.get("principal"));
    });
  }

  // Enrollment: an admin mints a one-time code; the installer on the host sends it with the agent's new public key.
  app.post("/admin/enrollment-codes", requireClient, requireAdmin, async (c) => {
    const body = await jsonBody(c, codeBody);
    if (body instanceof Response) return body;
    const { code, expires_at } = await deps.registry.createCode(body.ttl_seconds);
    log.info("enrollment code minted", { by: c.get("principal").sub, expires_at });
    const base = baseUrl(c);
    return c.json({ code, expires_at, worker_url: base, agent_url: `${base.replace(/^http/, "ws")}/agent`, install: `bash install-agent.sh --worker ${base} --code ${code}` }, 201);
  });
  app.post("/enroll", async (c) => {
    const body = await jsonBody(c, enrollBody);
    if (body instanceof Response) return body;
    const result = await deps.registry.enroll(body.code, body.agent_id, body.public_key);
    if (!result.ok) {
      log.warn("enrollment refused", { agent: body.agent_id, error: result.error });
      return c.json({ error: result.error, error_description: result.message }, result.status);
    }
    log.info("agent enrolled", { agent: body.agent_id });
    return c.json({ agent_id: result.agent.id, enrolled_at: result.agent.enrolled_at, agent_url: `${baseUrl(c).replace(/^http/, "ws")}/agent` }, 201);
  });
  app.get("/admin/agents", requireClient, requireAdmin, async (c) => {
    const live = new Map(hub.list().map((a) => [a.id, a.status()]));
    const enrolled = (await deps.registry.list()).map((a) => ({ id: a.id, enrolled_at: a.enrolled_at, revoked_at: a.revoked_at, source: "enrolled", ...live.get(a.id) }));
    const configured = Object.keys(config.AGENT_KEYS)
      .filter((id) => !enrolled.some((a) => a.id === id))
      .map((id) => ({ id, source: "AGENT_KEYS", ...live.get(id) }));
    return c.json({ agents: [...enrolled, ...configured] });
  });
  app.delete("/admin/agents/:agent", requireClient, requireAdmin, async (c) => {
    const id = c.req.param("agent") ?? "";
    await deps.registry.revoke(id);
    hub.get(id).disconnect(4401, "agent revoked");
    log.warn("agent revoked", { agent: id, by: c.get("principal").sub });
    return c.json({ agent_id: id, revoked: true });
  });

  app.get("/agent", async (c) => {
    const upgrade = c.req.header("upgrade")?.toLowerCase() === "websocket";
    if (!upgrade && !c.req.header("authorization")) {
      return c.json({ error: "upgrade_required", error_description: "agents connect here with a WebSocket" }, 426);
    }
    let agentId: string;
    try {
      agentId = await verifyAgent(c.req.header("authorization"));
    } catch (err) {
      return refuse(c, err);
    }
    // A plain GET with the agent's token checks its credentials without taking over the live tunnel (doctor).
    if (!upgrade) return c.json({ agent_id: agentId, credentials: "valid", connected: hub.get(agentId).connected });
    log.info("agent connecting", { agent: agentId, request_id: c.get("requestId") });
    return deps.upgradeAgent(c, agentId);
  });

  app.notFound((c) => c.json({ error: "not_found", error_description: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    log.error("unhandled error", { path: c.req.path, error: err.message, request_id: c.get("requestId") });
    return c.json({ error: "internal_error", error_description: "the worker failed to handle this request", request_id: c.get("requestId") }, 500);
  });
  return app;
}
