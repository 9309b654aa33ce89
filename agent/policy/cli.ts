// `pve-mcp-agent policy check '<command>'`: the policy's dry run, for admins and tests.
import { checkCommand, type CheckOptions } from "./policy.ts";

const USAGE = "usage: policy check [--cwd DIR] [--audit-log-dir DIR] '<command>'\n";

/**
 * Runs the policy on the command given after `check` and prints the decision as one JSON line.
 * argv is what follows `policy` on the agent's command line. Returns the exit code: 0 allowed,
 * 1 refused, 2 usage error. `options` carries the config's extra rules.
 */
export function runPolicyCli(
  argv: string[],
  options: CheckOptions = {},
  write: (text: string) => void = (text) => process.stdout.write(text),
  writeError: (text: string) => void = (text) => process.stderr.write(text),
): number {
  const [verb, ...rest] = argv;
  const overrides: CheckOptions = {};
  let index = 0;
  for (; index < rest.length - 1; index += 2) {
    if (rest[index] === "--cwd") overrides.cwd = rest[index + 1];
    else if (rest[index] === "--audit-log-dir") overrides.auditLogDir = rest[index + 1];
    else break;
  }
  const command = rest.slice(index).join(" ");
  if (verb !== "check" || command.trim() === "") {
    writeError(USAGE);
    return 2;
  }
  const decision = checkCommand(command, { ...options, ...overrides });
  write(`${JSON.stringify(decision)}\n`);
  return decision.allowed ? 0 : 1;
}
