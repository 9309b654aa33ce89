// The agent's command policy: one decision per shell command, before anything runs.
// See rules.ts for what is refused and why; commands.ts for how a command line is taken apart.
import { z } from "zod";
import { Refusal, collectCommands, type Command } from "./commands.ts";
import { RULES, type Rule, type RuleContext } from "./rules.ts";
import { TooComplex, display, hasUnknown } from "./words.ts";

export const DEFAULT_AUDIT_LOG_DIR = "/var/log/pve-mcp";

export { policyRuleConfigSchema, type PolicyRuleConfig } from "./rule-config.ts";
import type { PolicyRuleConfig } from "./rule-config.ts";

export const policyDecisionSchema = z.discriminatedUnion("allowed", [
  z.object({
    allowed: z.literal(true),
    /** Every command the policy examined, as argv: wrappers (sudo ls) and what they run (ls) both appear. */
    commands: z.array(z.array(z.string())),
  }),
  z.object({
    allowed: z.literal(false),
    /** Stable rule id: a built-in one (rules.ts), a structural one, or an extra rule's id. */
    rule: z.string(),
    /** Why, in a sentence for the AI that sent the command. */
    reason: z.string(),
    /** The part of the command that matched. */
    match: z.string(),
  }),
]);

export type PolicyDecision = z.infer<typeof policyDecisionSchema>;

export interface CheckOptions {
  extraRules?: PolicyRuleConfig[];
  /** Directory of the agent's audit log, protected from deletion and rewriting. */
  auditLogDir?: string;
  /** Directory the command starts in. Default "/", a service's working directory and the worst case for `rm -rf *`. */
  cwd?: string;
}

/**
 * Decides whether the agent may run a shell command. Never throws: a failure inside the policy
 * itself refuses the command (rule "policy-error") rather than letting it through or crashing.
 */
export function checkCommand(command: string, options: CheckOptions = {}): PolicyDecision {
  try {
    return decide(command, options);
  } catch (error) {
    if (error instanceof Refusal) return refuse(error.rule, error.message, error.match);
    if (error instanceof TooComplex) {
      return refuse("too-complex", `the command is too complex to check (${error.message}); split it into simpler commands`, command);
    }
    const message = error instanceof Error ? error.message : String(error);
    return refuse("policy-error", `the policy failed while checking this command (${message}), so it is refused`, command);
  }
}

function decide(command: string, options: CheckOptions): PolicyDecision {
  const ctx: RuleContext = { auditLogDir: options.auditLogDir ?? DEFAULT_AUDIT_LOG_DIR };
  const extraRules = (options.extraRules ?? []).map(compileExtraRule);
  const commands = collectCommands(command, options.cwd ?? "/");
  for (const cmd of commands) {
    const refusal = judge(cmd, extraRules, ctx);
    if (refusal !== undefined) return refusal;
  }
  return { allowed: true, commands: commands.filter((cmd) => cmd.kind === "call").map((cmd) => cmd.argv) };
}

interface ExtraRule {
  id: string;
  action: "deny" | "allow";
  reason: string;
  matches: (cmd: Command) => boolean;
}

function compileExtraRule(config: PolicyRuleConfig): ExtraRule {
  const name = config.command.split("/").filter((part) => part !== "").at(-1) ?? config.command;
  const args = config.args === undefined ? undefined : new RegExp(`^(?:${config.args})$`, "s");
  const allowing = config.action === "allow";
  return {
    id: config.id,
    action: config.action,
    reason: config.reason ?? `refused by the agent's policy rule "${config.id}"`,
    matches: (cmd) => {
      if (cmd.kind !== "call" || cmd.name !== name) return false;
      if (args === undefined) return !allowing || !cmd.args.some(hasUnknown);
      if (allowing && cmd.args.some(hasUnknown)) return false;
      return args.test(cmd.args.map(display).join(" "));
    },
  };
}

function judge(cmd: Command, extraRules: ExtraRule[], ctx: RuleContext): PolicyDecision | undefined {
  const denied = extraRules.find((rule) => rule.action === "deny" && rule.matches(cmd));
  if (denied !== undefined) return refuse(denied.id, denied.reason, cmd.text);
  if (extraRules.some((rule) => rule.action === "allow" && rule.matches(cmd))) return undefined;
  for (const rule of RULES) {
    const match = matchRule(rule, cmd, ctx);
    if (match !== undefined) return refuse(rule.id, rule.reason, match);
  }
  return undefined;
}

function matchRule(rule: Rule, cmd: Command, ctx: RuleContext): string | undefined {
  if (!(rule.kinds ?? ["call"]).includes(cmd.kind)) return undefined;
  const named = (pattern: string) => (pattern.endsWith("*") ? cmd.name.startsWith(pattern.slice(0, -1)) : cmd.name === pattern);
  if (rule.commands !== undefined && !rule.commands.some(named)) return undefined;
  const result = rule.when === undefined ? true : rule.when(cmd, ctx);
  if (result === false) return undefined;
  return typeof result === "string" ? result : cmd.text;
}

function refuse(rule: string, reason: string, match: string): PolicyDecision {
  return { allowed: false, rule, reason, match: display(match) };
}
