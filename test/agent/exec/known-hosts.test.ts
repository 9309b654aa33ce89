import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hostMatches, loadKnownHosts, parseKnownHosts, hostKeyAlgorithms, sshFingerprint, verifyHostKey } from "../../../agent/exec/known-hosts.ts";

const dir = mkdtempSync(join(tmpdir(), "known-hosts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh key made by OpenSSH: [type, base64, wire blob]. */
function newKey(name: string, type: "ed25519" | "rsa" | "ecdsa"): [string, string, Buffer] {
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "", "-f", join(dir, name)]);
  const [t, b64] = readFileSync(join(dir, `${name}.pub`), "utf8").trim().split(/\s+/) as [string, string];
  return [t, b64, Buffer.from(b64, "base64")];
}

const [edType, edB64, edBlob] = newKey("a", "ed25519");
const [, otherB64, otherBlob] = newKey("b", "ed25519");
const [rsaType, rsaB64, rsaBlob] = newKey("c", "rsa");

describe("known_hosts", () => {
  it("prints the same SHA256 fingerprint as ssh-keygen -l", () => {
    const line = execFileSync("ssh-keygen", ["-lf", join(dir, "a.pub")], { encoding: "utf8" });
    expect(line.split(" ")[1]).toBe(sshFingerprint(edBlob));
  });

  it("matches plain names, [host]:port, comma lists, wildcards and negations", () => {
    expect(hostMatches("pve1,10.0.0.1", "10.0.0.1")).toBe(true);
    expect(hostMatches("PVE1", "pve1")).toBe(true);
    expect(hostMatches("pve1", "pve2")).toBe(false);
    expect(hostMatches("[pve1]:2222", "[pve1]:2222")).toBe(true);
    expect(hostMatches("pve1", "[pve1]:2222")).toBe(false);
    expect(hostMatches("*.lab,!bad.lab", "pve3.lab")).toBe(true);
    expect(hostMatches("*.lab,!bad.lab", "bad.lab")).toBe(false);
    expect(hostMatches("pve?", "pve7")).toBe(true);
    expect(hostMatches("pve?", "pve10")).toBe(false);
  });

  it("matches entries hashed by ssh-keygen -H", () => {
    const file = join(dir, "hashed");
    writeFileSync(file, `pve1 ${edType} ${edB64}\n[10.0.0.9]:2222 ${edType} ${edB64}\n`);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" });
    const entries = parseKnownHosts(readFileSync(file, "utf8"), file);
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.hosts.startsWith("|1|"))).toBe(true);
    expect(verifyHostKey(entries, "pve1", 22, edBlob).ok).toBe(true);
    expect(verifyHostKey(entries, "10.0.0.9", 2222, edBlob).ok).toBe(true);
    expect(verifyHostKey(entries, "10.0.0.9", 22, edBlob)).toMatchObject({ ok: false, reason: "unknown" });
    expect(verifyHostKey(entries, "pve2", 22, edBlob)).toMatchObject({ ok: false, reason: "unknown" });
  });

  it("tells an unknown host from a changed key, and honours @revoked", () => {
    const text = [
      "# comment",
      `pve1,10.0.0.1 ${edType} ${edB64} root@pve1`,
      `pve2 ${rsaType} ${rsaB64}`,
      `@revoked * ${edType} ${otherB64}`,
      "garbage line",
      `pve3 ssh-rsa ${edB64}`, // type does not match the key: ignored
    ].join("\n");
    const entries = parseKnownHosts(text, "kh");
    expect(entries.map((e) => e.source)).toEqual(["kh:2", "kh:3", "kh:4"]);
    expect(verifyHostKey(entries, "10.0.0.1", 22, edBlob)).toMatchObject({ ok: true });
    expect(verifyHostKey(entries, "pve2", 22, rsaBlob)).toMatchObject({ ok: true });
    // pve2 is known only by its RSA key: an ed25519 key is not "changed" but unknown for that type.
    expect(verifyHostKey(entries, "pve2", 22, edBlob)).toMatchObject({ ok: false, reason: "unknown" });
    const changed = verifyHostKey(entries, "pve1", 22, Buffer.from(newKey("d", "ed25519")[1], "base64"));
    expect(changed).toMatchObject({ ok: false, reason: "changed" });
    expect(verifyHostKey(entries, "pve1", 22, otherBlob)).toMatchObject({ ok: false, reason: "revoked" });
    expect(verifyHostKey(entries, "pve3", 22, edBlob)).toMatchObject({ ok: false, reason: "unknown" });
  });

  it("offers first the host key algorithms known_hosts has for the host", () => {
    const entries = parseKnownHosts(`pve2 ${rsaType} ${rsaB64}\npve1 ${edType} ${edB64}`, "kh");
    const all = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
    expect(hostKeyAlgorithms(entries, "pve2", 22)).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", ...all.slice(0, 4)]);
    expect(hostKeyAlgorithms(entries, "pve1", 22)).toEqual(all);
    expect(hostKeyAlgorithms(entries, "pve9", 22)).toEqual(all);
  });

  it("reads the files that exist and skips missing ones", async () => {
    const file = join(dir, "kh-load");
    writeFileSync(file, `pve1 ${edType} ${edB64}\n`);
    const known = await loadKnownHosts([join(dir, "missing"), file]);
    expect(known.read).toEqual([file]);
    expect(known.entries).toHaveLength(1);
  });
});
