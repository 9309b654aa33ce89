// The admin's extra rules as the agent config states them: a schema apart from the policy itself, so the
// config can be read without loading the shell parser.
import { z } from "zod";

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/**
 * An admin's own rule from the agent config. `command` is a command name (a path is reduced to its
 * last part); `args`, when given, is a regular expression that must match the whole argument list
 * joined by single spaces (it is anchored: write ".*" where anything may follow).
 *
 * Precedence, per simple command: the admin's deny rules are checked first; then an allow rule that
 * matches exempts that one simple command (and nothing else on the same line: allowing `reboot`
 * does not allow `reboot; rm -rf /`) from the built-in rules; then the built-in rules apply. Structural
 * refusals (parse-error, nesting-limit, too-complex, unsupported-syntax) cannot be allowed, and an
 * allow rule never matches arguments that are only known at run time.
 */
export const policyRuleConfigSchema = z
  .object({
    id: z.string().min(1),
    action: z.enum(["deny", "allow"]),
    reason: z.string().min(1).optional(),
    command: z.string().min(1),
    args: z.string().refine(isRegExp, "must be a valid JavaScript regular expression").optional(),
  })
  .strict();

export type PolicyRuleConfig = z.infer<typeof policyRuleConfigSchema>;
