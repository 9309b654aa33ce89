import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, expect } from "vitest";
import { startStack, type Stack, type StackOptions } from "./stack.ts";

export type ToolResult = { isError?: boolean; content: Array<{ text?: string }>; structuredContent?: any; _meta?: any };

export const resultText = (r: ToolResult): string => r.content.map((c) => c.text ?? "").join("\n");

/**
 * Tool calls for end-to-end tests: `call` collects the progress messages a call streams, `ok` expects
 * success and returns the structured result, `fails` expects a tool error and returns its text and code.
 */
export function toolCalls(client: () => Client) {
  const call = async (name: string, args: Record<string, unknown>): Promise<{ r: ToolResult; progress: string[] }> => {
    const progress: string[] = [];
    const r = (await client().callTool({ name, arguments: args }, CallToolResultSchema, { onprogress: (p) => progress.push(p.message ?? ""), timeout: 60_000 })) as ToolResult;
    return { r, progress };
  };
  const ok = async (name: string, args: Record<string, unknown>): Promise<{ s: any; progress: string[] }> => {
    const { r, progress } = await call(name, args);
    expect(r.isError, resultText(r)).toBeFalsy();
    return { s: r.structuredContent, progress };
  };
  const fails = async (name: string, args: Record<string, unknown>): Promise<{ message: string; code: string }> => {
    const { r } = await call(name, args);
    expect(r.isError, JSON.stringify(r.structuredContent)).toBe(true);
    return { message: resultText(r), code: r._meta?.code as string };
  };
  return { call, ok, fails };
}

/**
 * One stack for a test file, started before its tests and closed after them, with a client of all
 * scopes and the tool-call helpers bound to it.
 */
export function useToolStack(opts: StackOptions) {
  let stack: Stack | undefined;
  let client: Client | undefined;
  beforeAll(async () => {
    stack = await startStack(opts);
    client = await stack.client();
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await stack?.close();
  });
  return {
    ...toolCalls(() => client!),
    get stack(): Stack {
      return stack!;
    },
    get client(): Client {
      return client!;
    },
    guest: (vmid: number) => stack!.sim.state.guests.get(vmid),
    /** A client with only proxmox:read neither sees `name` in tools/list nor may call it (the call names the scope). */
    async expectHiddenFromReader(name: string, args: Record<string, unknown>): Promise<void> {
      const reader = await stack!.client(["proxmox:read"]);
      try {
        expect((await reader.listTools()).tools.map((t) => t.name)).not.toContain(name);
        const r = (await reader.callTool({ name, arguments: args })) as ToolResult;
        expect(r.isError).toBe(true);
        expect(r._meta?.code).toBe("missing_scope");
        expect(resultText(r)).toContain("proxmox:write");
      } finally {
        await reader.close();
      }
    },
  };
}
