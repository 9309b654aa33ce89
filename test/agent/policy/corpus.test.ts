// Every line of catastrophic.txt must be refused and every line of legitimate.txt allowed.
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { checkCommand, policyDecisionSchema } from "../../../agent/policy/policy.ts";

function corpus(name: string): string[] {
  return readFileSync(new URL(name, import.meta.url), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));
}

const catastrophic = corpus("./catastrophic.txt");
const legitimate = corpus("./legitimate.txt");
const refusedBy = new Map<string, number>();
let refused = 0;
let allowed = 0;

afterAll(() => {
  const byRule = [...refusedBy].sort((a, b) => b[1] - a[1]).map(([rule, count]) => `${rule} ${count}`).join(", ");
  console.log(`policy corpus: ${refused}/${catastrophic.length} catastrophic refused, ${allowed}/${legitimate.length} legitimate allowed`);
  console.log(`refusals by rule: ${byRule}`);
});

describe("policy corpus", () => {
  it("holds at least 170 commands of each kind, without duplicates", () => {
    expect(catastrophic.length).toBeGreaterThanOrEqual(170);
    expect(legitimate.length).toBeGreaterThanOrEqual(170);
    expect(new Set(catastrophic).size).toBe(catastrophic.length);
    expect(new Set(legitimate).size).toBe(legitimate.length);
  });

  it.each(catastrophic)("refuses: %s", (command) => {
    const decision = policyDecisionSchema.parse(checkCommand(command));
    expect(decision).toMatchObject({ allowed: false });
    if (decision.allowed) return;
    expect(decision.reason.length).toBeGreaterThan(20);
    expect(decision.match.trim()).not.toBe("");
    refused++;
    refusedBy.set(decision.rule, (refusedBy.get(decision.rule) ?? 0) + 1);
  });

  it.each(legitimate)("allows: %s", (command) => {
    const decision = policyDecisionSchema.parse(checkCommand(command));
    expect(decision.allowed ? decision : { command, ...decision }).toMatchObject({ allowed: true });
    allowed++;
  });
});
