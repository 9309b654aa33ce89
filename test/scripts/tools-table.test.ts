import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { toolDescriptor } from "../../shared/tool.ts";
import { toolDefinitions } from "../../shared/tools/index.ts";
import { renderDoc } from "../../scripts/tools-table.ts";

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
});
