import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";

/** Where a PVE node keeps its cluster's host keys, and root's own file (often a link to the first). */
export const DEFAULT_KNOWN_HOSTS = ["/etc/pve/priv/known_hosts", "/root/.ssh/known_hosts"];

/** One key line of an OpenSSH known_hosts file. */
export interface KnownHost {
  marker?: "@revoked" | "@cert-authority";
  /** The host field as written: `pve1,10.0.0.1`, `[pve1]:2222` or a hashed `|1|salt|hash`. */
  hosts: string;
  type: string;
  /** The key in SSH wire format (the base64 part, decoded). */
  blob: Buffer;
  /** `file:line`, for messages. */
  source: string;
}

export type HostKeyVerdict =
  | { ok: true; entry: KnownHost }
  /** `unknown`: no line for this host and key type; `changed`: lines for this type, none with this key. */
  | { ok: false; reason: "unknown" | "changed" | "revoked"; known: KnownHost[] };

/** The fingerprint OpenSSH prints: `SHA256:` and the unpadded base64 of the key's SHA-256. */
export function sshFingerprint(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The key type named inside a wire-format key (its first length-prefixed string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return "";
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** Parses known_hosts text; comments and malformed lines are skipped, as ssh does. */
export function parseKnownHosts(text: string, file: string): KnownHost[] {
  const entries: KnownHost[] = [];
  text.split("\n").forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith("#")) return;
    const marker = fields[0].startsWith("@") ? fields.shift() : undefined;
    if (marker && marker !== "@revoked" && marker !== "@cert-authority") return;
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64) return;
    const blob = Buffer.from(base64, "base64");
    if (keyTypeOf(blob) !== type) return;
    entries.push({ marker: marker as KnownHost["marker"], hosts, type, blob, source: `${file}:${i + 1}` });
  });
  return entries;
}

/** The lines of all known_hosts files, and which files could be read. */
export interface KnownHosts {
  entries: KnownHost[];
  read: string[];
}

/** Reads every file that exists; a missing one is normal (a node outside a cluster has no /etc/pve). */
export async function loadKnownHosts(files: string[]): Promise<KnownHosts> {
  const entries: KnownHost[] = [];
  const read: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      continue;
    }
    read.push(file);
    entries.push(...parseKnownHosts(text, file));
  }
  return { entries, read };
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` elsewhere. */
export function hostName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** Whether a known_hosts host field (comma list with wildcards and `!` negation, or a hashed name) names this host. */
export function hostMatches(field: string, name: string): boolean {
  if (field.startsWith("|1|")) return hashedMatches(field, name);
  let matched = false;
  for (const pattern of field.toLowerCase().split(",")) {
    const negated = pattern.startsWith("!");
    if (!globMatches(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** Checks a server's host key the way OpenSSH does, from the known_hosts lines for that host. */
export function verifyHostKey(entries: KnownHost[], host: string, port: number, blob: Buffer): HostKeyVerdict {
  const name = hostName(host, port);
  const type = keyTypeOf(blob);
  const revoked = entries.find((e) => e.marker === "@revoked" && e.blob.equals(blob) && hostMatches(e.hosts, name));
  const known = entries.filter((e) => !e.marker && hostMatches(e.hosts, name));
  if (revoked) return { ok: false, reason: "revoked", known };
  const entry = known.find((e) => e.type === type && e.blob.equals(blob));
  if (entry) return { ok: true, entry };
  return { ok: false, reason: known.some((e) => e.type === type) ? "changed" : "unknown", known };
}

/** Host key algorithms ssh2 can verify, by the key type a known_hosts line names, in ssh2's default order. */
const algorithmsByType = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
} as const;
export type HostKeyAlgorithm = (typeof algorithmsByType)[keyof typeof algorithmsByType][number];

/**
 * Every host key algorithm, those for the key types known_hosts has for this host first: PVE's cluster file
 * often lists only a node's RSA key, and a server that would pick ed25519 must be asked for RSA. The others
 * stay in the list so that a server without a known type still shows its key (for the refusal message).
 */
export function hostKeyAlgorithms(entries: KnownHost[], host: string, port: number): HostKeyAlgorithm[] {
  const name = hostName(host, port);
  const known = new Set(entries.filter((e) => !e.marker && hostMatches(e.hosts, name)).map((e) => e.type));
  const all = Object.entries(algorithmsByType);
  return [...all.filter(([type]) => known.has(type)), ...all.filter(([type]) => !known.has(type))].flatMap(([, algorithms]) => algorithms);
}

function hashedMatches(field: string, name: string): boolean {
  const [, , salt, hash] = field.split("|");
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const actual = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function globMatches(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${source}$`).test(name);
}
