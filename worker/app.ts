import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import type { Logger } from "../shared/log.ts";
import type { Principal } from "../shared/protocol.ts";
import { AuthError, createAgentVerifier, createClientVerifier } from "./auth.ts";
import { defaultAgentId, type WorkerConfig } from "./config.ts";
import type { Hub } from "./hub.ts";
import { hostGuard } from "./middleware/host-guard.ts";
import { SERVER_NAME, SERVER_VERSION } from "./mcp.ts";
import type { McpSessions } from "./sessions.ts";

export interface AppDeps {
  config: WorkerConfig;
  hub: Hub;
  /** The MCP sessions that talk to one agent. */
  sessionsFor: (agentId: string) => McpSessions;
  /** Runtime-specific: turn an authenticated upgrade request into the agent's WebSocket. */
  upgradeAgent: (c: Context, agentId: string) => Response | Promise<Response>;
  log: Logger;
}

type Env = { Variables: { principal: Principal } };

const RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";
const SCOPES = ["proxmox:read", "proxmox:write", "host:exec"];

/** The worker as one runtime-neutral Hono app; the entry files only add the WebSocket plumbing. */
export function createApp(deps: AppDeps): Hono<Env> {
  const { config, hub, log } = deps;
  const verifyClient = createClientVerifier(config);
  const verifyAgent = createAgentVerifier(config);
  const app = new Hono<Env>();
  const baseUrl = (c: Context) => config.PUBLIC_URL?.replace(/\/$/, "") ?? new URL(c.req.url).origin;

  app.use("*", requestId());
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

  const agentIdFor = (c: Context) => c.req.param("agent") ?? defaultAgentId(config);
  const sessionsOf = (c: Context) => {
    const id = agentIdFor(c);
    return id ? deps.sessionsFor(id) : undefined;
  };
  const noAgent = (c: Context) => c.json({ error: "no_agent", error_description: "no default agent: set DEFAULT_AGENT or use /agents/<id>/mcp" }, 404);

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
      const sessions = sessionsOf(c);
      if (!sessions) return noAgent(c);
      return sessions.handleStreamable(c.req.raw, c.get("principal"));
    });
    app.get(`${prefix}/sse`, requireClient, async (c) => {
      const sessions = sessionsOf(c);
      if (!sessions) return noAgent(c);
      return sessions.openSse(`${prefix.replace(":agent", agentIdFor(c) ?? "")}/messages`, c.get("principal"));
    });
    app.post(`${prefix}/messages`, requireClient, async (c) => {
      const sessions = sessionsOf(c);
      if (!sessions) return noAgent(c);
      return sessions.postSse(c.req.raw, c.req.query("sessionId"), c.get("principal"));
    });
  }

  app.get("/agent", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({ error: "upgrade_required", error_description: "agents connect here with a WebSocket" }, 426);
    }
    let agentId: string;
    try {
      agentId = await verifyAgent(c.req.header("authorization"));
    } catch (err) {
      return refuse(c, err);
    }
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
