import { execFileSync } from "node:child_process";
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";
import { startProcess } from "./processes.ts";

const SSHD = "/usr/sbin/sshd";

export interface Sshd {
  port: number;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA...`, ready for a known_hosts file. */
  hostKeyLine: string;
  /** The same for the server's RSA host key (PVE's cluster known_hosts often lists only RSA keys). */
  rsaHostKeyLine: string;
  /** OpenSSH-format private key the server accepts for the current user. */
  clientPrivateKey: string;
  /** The user the server runs as and accepts logins for. */
  username: string;
  /** What sshd logged so far, for a failing test's message. */
  log(): string;
  close(): Promise<void>;
}

/** Why a real sshd cannot run here (Debian's openssh-server not installed), or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  try {
    accessSync(SSHD, constants.X_OK);
    return undefined;
  } catch {
    return `${SSHD} not found: install Debian's openssh-server (apt-get install -y openssh-server)`;
  }
}

function keygen(type: "ed25519" | "rsa", file: string): void {
  const bits = type === "rsa" ? ["-b", "2048"] : [];
  execFileSync("ssh-keygen", ["-q", "-t", type, ...bits, "-N", "", "-C", "", "-f", file], { stdio: "ignore" });
}

/**
 * Starts a real OpenSSH server on a free loopback port with a throw-away configuration: fresh host keys,
 * one authorized client key, no PAM, logs on stderr. It runs as the current user, so it accepts only that user.
 */
export async function startSshd(): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), "sshd-"));
  // sshd refuses to start without its privilege separation directory, even for a test instance.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  keygen("ed25519", join(dir, "host_ed25519"));
  keygen("rsa", join(dir, "host_rsa"));
  keygen("ed25519", join(dir, "client"));
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client.pub")));
  const port = await freePort();
  const config = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${join(dir, "host_ed25519")}`,
    `HostKey ${join(dir, "host_rsa")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "StrictModes no",
    "UsePAM no",
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    "LogLevel INFO",
  ].join("\n");
  writeFileSync(join(dir, "sshd_config"), config + "\n");
  const proc = startProcess(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")]);
  try {
    await proc.waitForOutput(new RegExp(`Server listening on 127\\.0\\.0\\.1 port ${port}`), 15_000);
  } catch (err) {
    await proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const pub = (name: string) => readFileSync(join(dir, name), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  return {
    port,
    hostKeyLine: `[127.0.0.1]:${port} ${pub("host_ed25519.pub")}`,
    rsaHostKeyLine: `[127.0.0.1]:${port} ${pub("host_rsa.pub")}`,
    clientPrivateKey: readFileSync(join(dir, "client"), "utf8"),
    username: execFileSync("id", ["-un"], { encoding: "utf8" }).trim(),
    log: () => proc.output(),
    async close() {
      await proc.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
