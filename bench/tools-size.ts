import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { listSize, type ListedTool } from "../scripts/lib/list-size.ts";

/**
 * Measures another MCP server's tools/list the way scripts/tools-table.ts measures ours, to compare
 * bytes per operation. Starts the server on stdio with this process's environment:
 *
 *   PROXMOX_HOST=127.0.0.1 PROXMOX_USER=root@pam PROXMOX_TOKEN_NAME=x PROXMOX_TOKEN_VALUE=x \
 *   PROXMOX_ALLOW_ELEVATED=true node bench/tools-size.ts node ../proxmox-mcp/dist/index.js
 *
 * The figures of the reference server in docs/tools.md were measured this way.
 */
async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  if (!command) {
    console.error("usage: node bench/tools-size.ts <command> [args...]   (an MCP server speaking stdio)");
    process.exit(2);
  }
  const client = new Client({ name: "tools-size", version: "1" });
  await client.connect(new StdioClientTransport({ command, args, env: process.env as Record<string, string>, stderr: "ignore" }));
  const tools: ListedTool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...(page.tools as ListedTool[]));
    cursor = page.nextCursor;
  } while (cursor);
  await client.close();
  const size = listSize(tools);
  console.log(JSON.stringify({ ...size, bytesPerOperation: Math.round(size.bytes / size.operations), modelBytesPerOperation: Math.round(size.modelBytes / size.operations), outputSchemas: tools.filter((t) => t.outputSchema).length }));
}

await main();
