import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { toolDescriptor } from "../../shared/tool.ts";
import { toolDefinitions } from "../../shared/tools/index.ts";
import { REFERENCE, renderDoc, sizeOf } from "../../scripts/tools-table.ts";
import { listSize, type ListedTool } from "../../scripts/lib/list-size.ts";

describe("tool definitions", () => {
  it("docs/tools.md carries the table generated from the definitions (run npm run tools-table)", () => {
    const current = readFileSync("docs/tools.md", "utf8");
    expect(renderDoc(current)).toBe(current);
  });

  it("keep every schema flat, every description short, and names unique", () => {
    const names = new Set<string>();
    for (const def of toolDefinitions) {
      const d = toolDescriptor(def);
      expect(names.has(d.name), d.name).toBe(false);
      names.add(d.name);
      expect(JSON.stringify(d.inputSchema), d.name).not.toMatch(/"\$ref"|"oneOf"|"anyOf"|"allOf"/);
      expect(d.description.length, d.name).toBeLessThan(2048);
      expect(d.inputSchema.type, d.name).toBe("object");
      expect(d.outputSchema?.type, d.name).toBe("object");
      if (def.annotations.destructiveHint) expect(def.mutating, d.name).toBe(true);
      if (def.annotations.readOnlyHint) expect(def.scope, d.name).not.toBe("proxmox:write");
    }
  });

  it("count an action tool once per action and leave titles, annotations and output schemas out of what reaches the model", () => {
    const tools: ListedTool[] = [
      { name: "a", description: "x", inputSchema: { type: "object", properties: { action: { enum: ["p", "q", "r"] } } }, outputSchema: { type: "object" }, annotations: { readOnlyHint: true } },
      { name: "b", description: "y", inputSchema: { type: "object", properties: { type: { enum: ["qemu", "lxc"] } } } },
    ];
    const size = listSize(tools);
    expect(size).toMatchObject({ tools: 2, operations: 4, bytes: JSON.stringify({ tools }).length });
    expect(size.modelBytes).toBe(JSON.stringify(tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema }))).length);
  });

  it("keep tools/list within its budget: a read-only token pays less per operation than the reference server", () => {
    const all = sizeOf();
    const read = sizeOf(["proxmox:read"]);
    // Budgets a little above today's figures, so growth is a decision and not an accident.
    expect(all.bytes, "whole answer, every scope").toBeLessThan(88 * 1024);
    expect(all.modelBytes, "what reaches the model, every scope").toBeLessThan(46 * 1024);
    expect(read.modelBytes / read.operations).toBeLessThan(REFERENCE.modelBytes / REFERENCE.operations);
  });
});
