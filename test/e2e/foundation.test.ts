import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { request } from "node:http";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.ts";

type ToolCallResult = { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent?: any; _meta?: any };

function text(result: ToolCallResult): string {
  return result.content.map((c) => c.text ?? "").join("\n");
}

for (const runtime of ["node", "wrangler"] as const) {
  describe(`foundation on ${runtime}`, () => {
    let stack: Stack;
    let client: Client;

    beforeAll(async () => {
      stack = await startStack({ runtime, proxy: true, taskDurationMs: 1500 });
      client = await stack.client();
    }, 120_000);

    afterAll(async () => {
      await client?.close();
      await stack?.close();
    });

    it("lists the agent's tools and returns the simulator's guests through the tunnel", async () => {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(["cluster_status", "node_list", "node_status", "guest_list", "guest_status", "guest_power"]));
      for (const tool of tools) {
        const schema = JSON.stringify(tool.inputSchema);
        expect(schema).not.toMatch(/"\$ref"|"oneOf"|"anyOf"/);
      }
      const result = (await client.callTool({ name: "guest_list", arguments: {} })) as ToolCallResult;
      expect(result.isError).toBeFalsy();
      const simGuests = stack.sim.state.guests;
      expect(result.structuredContent.total).toBe(simGuests.size ?? Object.keys(simGuests).length);
      const vmids = result.structuredContent.guests.map((g: { vmid: number }) => g.vmid);
      expect(vmids).toContain(100);
      expect(JSON.parse(text(result)).guests.length).toBe(vmids.length);
    });

    it("filters guests by node, type and status", async () => {
      const result = (await client.callTool({ name: "guest_list", arguments: { node: "pve1", type: "qemu", status: "running" } })) as ToolCallResult;
      const guests = result.structuredContent.guests as Array<{ node: string; type: string; status: string }>;
      expect(guests.length).toBeGreaterThan(0);
      for (const g of guests) expect([g.node, g.type, g.status]).toEqual(["pve1", "qemu", "running"]);
    });

    it("ignores argument keys the tool does not know (n8n adds toolCallId)", async () => {
      const result = (await client.callTool({ name: "cluster_status", arguments: { toolCallId: "abc-123" } })) as ToolCallResult;
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent.cluster.quorate).toBe(true);
      expect(result.structuredContent.nodes.map((n: { name: string }) => n.name).sort()).toEqual(["pve1", "pve2", "pve3"]);
    });

    it("reads a node's status", async () => {
      const result = (await client.callTool({ name: "node_status", arguments: { node: "pve2" } })) as ToolCallResult;
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent.node).toBe("pve2");
      expect(result.structuredContent.memory.total).toBeGreaterThan(0);
      expect(result.structuredContent.pve_version).toMatch(/pve-manager/);
    });

    it("returns PVE's own message for an unknown vmid, as a tool error", async () => {
      const result = (await client.callTool({ name: "guest_status", arguments: { vmid: 999, node: "pve1", type: "qemu" } })) as ToolCallResult;
      expect(result.isError).toBe(true);
      expect(text(result)).toContain("Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist");
      expect(text(result)).not.toMatch(/\bat .+\.(ts|js):\d+/);
      expect(result._meta.code).toBe("pve_error");
    });

    it("refuses a tool whose scope the token lacks, naming the scope", async () => {
      const reader = await stack.client(["proxmox:read"]);
      const { tools } = await reader.listTools();
      expect(tools.map((t) => t.name)).not.toContain("guest_power");
      const result = (await reader.callTool({ name: "guest_power", arguments: { vmid: 101, action: "start" } })) as ToolCallResult;
      expect(result.isError).toBe(true);
      expect(text(result)).toContain("proxmox:write");
      expect(result._meta.code).toBe("missing_scope");
      expect(stack.sim.mutations.length).toBe(0);
      await reader.close();
    });

    it("streams task progress and returns the final status of a mutating call", async () => {
      const progress: string[] = [];
      const result = (await client.callTool({ name: "guest_power", arguments: { vmid: 101, action: "start" } }, CallToolResultSchema, {
        onprogress: (p) => progress.push(p.message ?? ""),
        timeout: 30_000,
      })) as ToolCallResult;
      expect(result.isError, text(result)).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ vmid: 101, action: "start", status: "stopped", exitstatus: "OK" });
      expect(progress.length).toBeGreaterThan(0);
      const guest = (await client.callTool({ name: "guest_status", arguments: { vmid: 101 } })) as ToolCallResult;
      expect(guest.structuredContent.status).toBe("running");
    });

    it("runs a mutating call in flight during a tunnel drop exactly once, and delivers its result", async () => {
      const before = stack.sim.mutations.length;
      const call = client.callTool({ name: "guest_power", arguments: { vmid: 105, action: "start" } }, CallToolResultSchema, { timeout: 40_000 });
      await waitUntil(() => stack.sim.mutations.length > before);
      expect(stack.proxy!.cut()).toBeGreaterThan(0);
      const result = (await call) as ToolCallResult;
      expect(result.isError, text(result)).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ vmid: 105, status: "stopped", exitstatus: "OK" });
      const starts = stack.sim.mutations.slice(before).filter((m: { path: string }) => m.path.endsWith("/105/status/start"));
      expect(starts).toHaveLength(1);
      expect(starts[0].callId).toBeTruthy();
    });

    it("fails fast while the agent is down and works again once it is back, with the same client", async () => {
      await stack.agent.kill("SIGKILL");
      await stack.agentConnected(false);
      const started = Date.now();
      const result = (await client.callTool({ name: "cluster_status", arguments: {} })) as ToolCallResult;
      expect(Date.now() - started).toBeLessThan(3000);
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/Agent 'pve-test' is offline since \d{4}-\d\d-\d\dT/);
      expect(result._meta.code).toBe("agent_offline");
      await stack.startAgent();
      const again = (await client.callTool({ name: "cluster_status", arguments: {} })) as ToolCallResult;
      expect(again.isError, text(again)).toBeFalsy();
    });

    it("speaks legacy HTTP+SSE for older clients", async () => {
      const token = await stack.token(["proxmox:read"]);
      const legacy = new Client({ name: "legacy", version: "1" });
      await legacy.connect(
        new SSEClientTransport(new URL(`${stack.baseUrl}/sse`), {
          requestInit: { headers: { Authorization: `Bearer ${token}` } },
          eventSourceInit: { fetch: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as object), Authorization: `Bearer ${token}` } }) },
        }),
      );
      const result = (await legacy.callTool({ name: "node_list", arguments: {} })) as ToolCallResult;
      expect(result.structuredContent.nodes).toHaveLength(3);
      await legacy.close();
    });

    it("stops the agent cleanly on SIGTERM", async () => {
      const code = await stack.agent.kill("SIGTERM");
      expect(code).toBe(0);
      expect(stack.agent.output()).toContain('"msg":"agent stopping"');
      await stack.agentConnected(false);
      await stack.startAgent();
    });

    describe("client authentication", () => {
      const post = (headers: Record<string, string>) =>
        fetch(stack.mcpUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
        });
      const sign = (claims: Record<string, unknown>, secret: string, exp: number | string = "5m") =>
        new SignJWT({ scope: "proxmox:read", ...claims })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer(stack.issuer)
          .setAudience((claims.aud as string) ?? stack.audience)
          .setSubject("someone")
          .setIssuedAt()
          .setExpirationTime(exp)
          .sign(new TextEncoder().encode(secret));

      async function expect401(res: Response, pattern: RegExp) {
        expect(res.status).toBe(401);
        const header = res.headers.get("www-authenticate") ?? "";
        expect(header).toMatch(/^Bearer realm="proxmox-mcp", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource"/);
        const body = (await res.json()) as { error: string; error_description: string };
        expect(body.error_description).toMatch(pattern);
      }

      it("refuses a request without a token", async () => {
        await expect401(await post({}), /no bearer token/);
      });
      it("refuses a wrong signature", async () => {
        await expect401(await post({ Authorization: `Bearer ${await sign({}, "x".repeat(40))}` }), /signature verification failed/);
      });
      it("refuses an expired token", async () => {
        const expired = await sign({}, stack.secret, Math.floor(Date.now() / 1000) - 3600);
        await expect401(await post({ Authorization: `Bearer ${expired}` }), /"exp" claim timestamp check failed/);
      });
      it("refuses a wrong audience", async () => {
        await expect401(await post({ Authorization: `Bearer ${await sign({ aud: "someone-else" }, stack.secret)}` }), /unexpected "aud" claim value/);
      });
      it("refuses alg none", async () => {
        const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
        const now = Math.floor(Date.now() / 1000);
        const unsigned = `${b64({ alg: "none", typ: "JWT" })}.${b64({ iss: stack.issuer, aud: stack.audience, sub: "x", exp: now + 600, scope: "proxmox:read" })}.`;
        await expect401(await post({ Authorization: `Bearer ${unsigned}` }), /alg|Unsupported|not allowed/i);
      });
      it("answers OAuth discovery with JSON, never HTML", async () => {
        for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
          const res = await fetch(`${stack.baseUrl}${path}`);
          expect(res.headers.get("content-type")).toMatch(/application\/json/);
          expect(await res.json()).toBeTypeOf("object");
        }
        const meta = (await (await fetch(`${stack.baseUrl}/.well-known/oauth-protected-resource`)).json()) as { resource: string; scopes_supported: string[] };
        expect(meta.resource).toBe(stack.audience);
        expect(meta.scopes_supported).toContain("host:exec");
        const reg = await fetch(`${stack.baseUrl}/register`, { method: "POST", body: "{}" });
        expect(reg.headers.get("content-type")).toMatch(/application\/json/);
      });
      it("keeps client and agent credentials apart", async () => {
        const asAgent = await new SignJWT({})
          .setProtectedHeader({ alg: "HS256", typ: "pve-mcp-agent+jwt" })
          .setIssuer(stack.issuer)
          .setAudience(stack.audience)
          .setSubject("x")
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode(stack.secret));
        await expect401(await post({ Authorization: `Bearer ${asAgent}` }), /agent credential cannot open an MCP session/);
        const clientToken = await stack.token(["proxmox:read", "proxmox:write", "host:exec"], stack.agentId);
        const ws = new WebSocket(`${stack.baseUrl.replace("http", "ws")}/agent`, { headers: { Authorization: `Bearer ${clientToken}` } });
        const status = await new Promise<number>((resolve) => {
          ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
          ws.on("open", () => resolve(101));
          ws.on("error", () => undefined);
        });
        ws.terminate();
        expect(status).toBe(401);
      });
      it("refuses a foreign Host or Origin before MCP sees the request (DNS rebinding)", async () => {
        const port = Number(new URL(stack.baseUrl).port);
        const hostStatus = await new Promise<number>((resolve, reject) => {
          const req = request({ host: "127.0.0.1", port, path: "/mcp", method: "POST", headers: { Host: "evil.example:80" } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on("error", reject);
          req.end("{}");
        });
        expect(hostStatus).toBe(403);
        const token = await stack.token(["proxmox:read"]);
        const badOrigin = await post({ Authorization: `Bearer ${token}`, Origin: "http://evil.example" });
        expect(badOrigin.status).toBe(403);
        expect(((await badOrigin.json()) as { error: string }).error).toBe("forbidden_origin");
      });
    });

    // Last: a restart leaves the runtime's keep-alive connections behind, which later plain fetches could hit.
    it("carries on in the same MCP session after the worker restarts", async () => {
      await stack.restartWorker();
      await stack.agentConnected(true);
      const result = (await client.callTool({ name: "node_list", arguments: {} })) as ToolCallResult;
      expect(result.isError, text(result)).toBeFalsy();
      expect(result.structuredContent.nodes).toHaveLength(3);
    });
  });
}

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
