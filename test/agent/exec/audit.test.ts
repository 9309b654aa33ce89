import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLog, redactCommand, type AuditRecord } from "../../../agent/exec/audit.ts";

const dirs: string[] = [];
function auditFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "audit-"));
  dirs.push(dir);
  return join(dir, "log", "audit.jsonl");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const base: AuditRecord = { principal: "alice", target: "host", command: "uptime", decision: "allowed" };
const lines = (file: string) => readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));

describe("AuditLog", () => {
  it("appends one JSON line per attempt, in a 0600 file", () => {
    const file = auditFile();
    const log = new AuditLog({ file });
    log.write({ ...base, exit_code: 0, duration_ms: 12, truncated: false, call_id: "call-1" });
    log.write({ principal: "bob", target: "lxc:101", command: "rm -rf /", decision: "refused", rule: "root-wipe" });
    log.close();
    const [first, second] = lines(file);
    expect(first).toMatchObject({ principal: "alice", target: "host", command: "uptime", decision: "allowed", exit_code: 0, duration_ms: 12, truncated: false, call_id: "call-1" });
    expect(Date.now() - Date.parse(first.time)).toBeLessThan(5_000);
    expect(second).toMatchObject({ principal: "bob", target: "lxc:101", decision: "refused", rule: "root-wipe" });
    expect(second).not.toHaveProperty("exit_code");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("tightens an existing file to 0600 and keeps its lines", () => {
    const file = auditFile();
    new AuditLog({ file }).write(base);
    chmodSync(file, 0o644);
    const log = new AuditLog({ file });
    log.write({ ...base, command: "df -h" });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(lines(file).map((l) => l.command)).toEqual(["uptime", "df -h"]);
  });

  it("never writes a secret from a command", () => {
    const file = auditFile();
    const log = new AuditLog({ file });
    log.write({ ...base, command: "mysql -uroot -psecret123 -e 'show databases'" });
    log.write({ ...base, command: "curl -H 'Authorization: Bearer abc.def' https://api.example/x" });
    log.write({ ...base, command: "PGPASSWORD=pg-pass-1 psql -h db" });
    const text = readFileSync(file, "utf8");
    for (const secret of ["secret123", "abc.def", "pg-pass-1"]) expect(text).not.toContain(secret);
    expect(lines(file).map((l) => l.command)).toEqual([
      "mysql -uroot -p[redacted] -e 'show databases'",
      "curl -H 'Authorization: Bearer [redacted]' https://api.example/x",
      "PGPASSWORD=[redacted] psql -h db",
    ]);
  });

  it("rotates at the size limit and keeps the newest files", () => {
    const file = auditFile();
    const log = new AuditLog({ file, maxBytes: 1_000, keep: 2 });
    for (let i = 0; i < 40; i++) log.write({ ...base, command: `echo entry-${i} ${"x".repeat(100)}` });
    log.close();
    expect(existsSync(`${file}.1`)).toBe(true);
    expect(existsSync(`${file}.2`)).toBe(true);
    expect(existsSync(`${file}.3`)).toBe(false);
    for (const f of [file, `${file}.1`, `${file}.2`]) expect(statSync(f).size).toBeLessThanOrEqual(1_000);
    // Oldest to newest across the files, with no gap: the rotation lost only whole old files.
    const kept = [`${file}.2`, `${file}.1`, file].flatMap((f) => lines(f).map((l) => Number(/entry-(\d+)/.exec(l.command)![1])));
    expect(kept.at(-1)).toBe(39);
    expect(kept).toEqual(kept.map((_, i) => 39 - (kept.length - 1) + i));
    expect(kept.length).toBeGreaterThan(10);
  });

  it("reads back the newest entries first, across rotated files, with filters", () => {
    const file = auditFile();
    const log = new AuditLog({ file, maxBytes: 600, keep: 5 });
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    for (let i = 0; i < 12; i++) {
      log.write({ ...base, time: new Date(t0 + i * 60_000).toISOString(), principal: i % 2 ? "bob" : "alice", decision: i % 3 ? "allowed" : "refused", command: `cmd ${i}` });
    }
    expect(existsSync(`${file}.1`)).toBe(true);
    const cmds = (q: Parameters<AuditLog["recent"]>[0]) => log.recent(q).map((e) => e.command);
    expect(cmds({ limit: 3 })).toEqual(["cmd 11", "cmd 10", "cmd 9"]);
    expect(cmds({ limit: 100 })).toHaveLength(12);
    expect(cmds({ limit: 3, principal: "bob" })).toEqual(["cmd 11", "cmd 9", "cmd 7"]);
    expect(cmds({ limit: 100, decision: "refused" })).toEqual(["cmd 9", "cmd 6", "cmd 3", "cmd 0"]);
    expect(cmds({ limit: 100, since: new Date(t0 + 9 * 60_000).toISOString() })).toEqual(["cmd 11", "cmd 10", "cmd 9"]);
  });

  it("survives a line torn by a crash and rejects a bad entry", () => {
    const file = auditFile();
    new AuditLog({ file }).write(base);
    writeFileSync(file, readFileSync(file, "utf8") + '{"time":"2026-01-0', { mode: 0o600 });
    const log = new AuditLog({ file });
    expect(log.recent({ limit: 10 }).map((e) => e.command)).toEqual(["uptime"]);
    log.write({ ...base, command: "after the crash" });
    expect(log.recent({ limit: 10 }).map((e) => e.command)).toEqual(["after the crash", "uptime"]);
    expect(() => log.write({ ...base, target: "everywhere" })).toThrow(/target/);
  });
});

describe("redactCommand", () => {
  const cases: [string, string][] = [
    ["mysql -uroot -psecret123 db", "mysql -uroot -p[redacted] db"],
    ["mysql -u root -p'se cret' -h db", "mysql -u root -p[redacted] -h db"],
    ["mysql -u root -p mydb", "mysql -u root -p mydb"],
    ["pvesh create /access/ticket --username root@pam --password hunter2", "pvesh create /access/ticket --username root@pam --password [redacted]"],
    ["pvesm add cifs s --password='a b' --server x", "pvesm add cifs s --password=[redacted] --server x"],
    ["qm set 100 --cipassword hunter2", "qm set 100 --cipassword [redacted]"],
    ["psql --no-password -h db", "psql --no-password -h db"],
    ["docker login --password-stdin registry.example", "docker login --password-stdin registry.example"],
    ["export GITHUB_TOKEN=ghp_abc; MY_SECRET='x y' env", "export GITHUB_TOKEN=[redacted]; MY_SECRET=[redacted] env"],
    ["PASSWORD=hunter2 ./run.sh", "PASSWORD=[redacted] ./run.sh"],
    ["curl -H 'Authorization: Bearer abc.def' https://x", "curl -H 'Authorization: Bearer [redacted]' https://x"],
    [
      'curl -H "Authorization: PVEAPIToken=root@pam!mcp=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" https://pve:8006/api2/json',
      'curl -H "Authorization: PVEAPIToken=root@pam!mcp=[redacted]" https://pve:8006/api2/json',
    ],
    ["git clone https://user:tok@github.com/x/y && cd y", "git clone https://user:[redacted]@github.com/x/y && cd y"],
    ["sshpass -p 'pw' ssh root@h", "sshpass -p [redacted] ssh root@h"],
    ["sshpass -pX ssh root@h uptime", "sshpass -p[redacted] ssh root@h uptime"],
    ["curl -u admin:pw https://x", "curl -u admin:[redacted] https://x"],
    ["curl 'https://x/api?token=abc&x=1'", "curl 'https://x/api?token=[redacted]&x=1'"],
    ["echo 'root:newpw' | chpasswd", "echo 'root:[redacted]' | chpasswd"],
    ["openssl enc -pass pass:xyz -in f", "openssl enc -pass pass:[redacted] -in f"],
    ["ls -la /etc; mkdir -p /tmp/x; cp -p a b; ssh -p2222 h", "ls -la /etc; mkdir -p /tmp/x; cp -p a b; ssh -p2222 h"],
    ["OLDPWD=/x PWD=/y ls", "OLDPWD=/x PWD=/y ls"],
  ];
  it.each(cases)("%s", (input, expected) => {
    expect(redactCommand(input)).toBe(expected);
  });
});
