import { describe, expect, it } from "vitest";
import { namesMatch, pathContains, pathMatches, resolvePath } from "../../../agent/policy/paths.ts";
import { unknown } from "../../../agent/policy/words.ts";

describe("resolvePath", () => {
  it("normalises against the working directory", () => {
    expect(resolvePath("../etc/./", "/tmp")).toBe("/etc");
    expect(resolvePath("//usr//lib/", "/")).toBe("/usr/lib");
    expect(resolvePath("*", "/var/tmp")).toBe("/var/tmp/*");
  });

  it("reads unknown parts as empty, the way an unset variable expands", () => {
    expect(resolvePath(`${unknown("$dir")}/`, "/root")).toBe("/");
    expect(resolvePath(`/srv/${unknown("$name")}`, "/")).toBe("/srv");
    expect(resolvePath(unknown("$dir"), "/")).toBeUndefined();
  });
});

describe("pathMatches", () => {
  it("matches globs on either side, segment by segment", () => {
    expect(pathMatches("/etc/sha*", "/etc/shadow")).toBe(true);
    expect(pathMatches("/etc/[s]hadow", "/etc/shadow")).toBe(true);
    expect(pathMatches("/etc/pve/nodes/pve1/pve-ssl.key", "/etc/pve/**/*.key")).toBe(true);
    expect(pathMatches("/etc/pve/*.cfg", "/etc/pve/**/*.key")).toBe(false);
    expect(pathMatches("/etc/pve/priv", "/etc/pve/priv/**")).toBe(true);
  });

  it("lets * skip dotfiles, as bash does without dotglob", () => {
    expect(pathMatches("/root/*", "/root/.bash_history")).toBe(false);
    expect(pathMatches("/root/.*", "/root/.bash_history")).toBe(true);
  });
});

describe("pathContains", () => {
  it("is true for the path itself, its ancestors and globs over them", () => {
    expect(pathContains("/var", "/var/lib/pve-cluster")).toBe(true);
    expect(pathContains("/", "/etc")).toBe(true);
    expect(pathContains("/v*", "/var/lib/pve-cluster")).toBe(true);
    expect(pathContains("/var/lib/pve-cluster", "/var/lib/pve-cluster")).toBe(true);
  });

  it("is false below the protected path and beside it", () => {
    expect(pathContains("/var/lib/pve-cluster/backup", "/var/lib/pve-cluster")).toBe(false);
    expect(pathContains("/var/cache", "/var/lib")).toBe(false);
  });
});

describe("namesMatch", () => {
  it("compares unit and package names that may be globs", () => {
    expect(namesMatch("pve*", "pve-cluster")).toBe(true);
    expect(namesMatch("pve-kernel-5.*", "pve-manager")).toBe(false);
  });
});
